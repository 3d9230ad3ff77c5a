import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Experiment, History, LeakGuard, onBatchEnd, onEpochEnd, Rng, type StepLogs } from '../src';
import { useBackend } from '../../../test/helpers/backend';

beforeAll(async () => {
  await useBackend('wasm');
});

interface XY {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
}

/** Linear regression y = x·w* + b* learnt by SGD: the smallest real training loop. */
class LinearRegression extends Experiment<XY, { lr: number }> {
  leakEvery = 0;
  protected override configureModels(): void {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [4], kernelInitializer: 'zeros' })] });
    this.models.set('linear', model);
  }
  protected override configureOptimizer(): tf.Optimizer {
    return tf.train.sgd(this.config.lr);
  }
  trainStep({ x, y }: XY): StepLogs {
    const model = this.models.get('linear')!;
    if (this.leakEvery && this.state.globalStep % this.leakEvery === 0) tf.keep(tf.ones([3]));
    const loss = this.minimize(() => tf.losses.meanSquaredError(y, model.predict(x) as tf.Tensor) as tf.Scalar);
    return { loss, lr: this.config.lr };
  }
  override valStep({ x, y }: XY): StepLogs {
    const model = this.models.get('linear')!;
    return { mse: tf.losses.meanSquaredError(y, model.predict(x) as tf.Tensor) as tf.Scalar };
  }
}

const W_TRUE = [1, -2, 0.5, 3];
function makeData(seed: number, n: number, batch: number) {
  return () => {
    const rng = new Rng(seed);
    return (function* () {
      for (let i = 0; i < n; i++) {
        const xs = Array.from({ length: batch * 4 }, () => rng.normal());
        yield tf.tidy(() => {
          const x = tf.tensor2d(xs, [batch, 4]);
          return { x, y: tf.add(tf.matMul(x, tf.tensor2d(W_TRUE, [4, 1])), 0.7) as tf.Tensor2D };
        });
      }
    })();
  };
}

describe('a tiny subclass trains', () => {
  it('loss falls, History has per-epoch means, numTensors flat after warm-up', async () => {
    const exp = new LinearRegression({ lr: 0.1 });
    const counts: number[] = [];
    const lossesRead: number[] = [];
    exp.addCallback(onEpochEnd({ name: 'read' })((e) => { lossesRead.push(e.state.epochMetrics.loss); }));
    exp.events.on('batchEnd', () => { counts.push(tf.memory().numTensors); });
    const history = await exp.fit(makeData(1, 8, 16), { epochs: 4, validationData: makeData(2, 2, 16) });
    const loss = history.history.loss;
    expect(history.epoch).toEqual([0, 1, 2, 3]);
    expect(loss).toHaveLength(4);
    expect(loss[3]).toBeLessThan(loss[0] * 0.05);
    expect(history.history.val_mse[3]).toBeLessThan(history.history.val_mse[0]);
    history.history.lr.forEach((v) => expect(v).toBeCloseTo(0.1, 12));
    expect(lossesRead).toEqual(loss);
    // after the optimizer's first step everything is allocated; later steps add nothing
    expect(new Set(counts.slice(2)).size).toBe(1);
    expect(exp.state.globalStep).toBe(32);
    // the learnt weights match the generating ones
    const w = (exp.models.get('linear')!.getWeights()[0].arraySync() as number[][]).map((r) => r[0]);
    [1, -2, 0.5, 3].forEach((v, i) => expect(w[i]).toBeCloseTo(v, 1));
    exp.dispose();
  });

  it('History means equal the mean of the step losses read one by one', async () => {
    const exp = new LinearRegression({ lr: 0.05 });
    const perStep: number[] = [];
    exp.addCallback(onBatchEnd({ name: 'r' })(async (e) => { perStep.push((await e.state.logs.get('loss'))!); }));
    const h = await exp.fit(makeData(3, 5, 8), { epochs: 2 });
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(h.history.loss[0]).toBeCloseTo(mean(perStep.slice(0, 5)), 5);
    expect(h.history.loss[1]).toBeCloseTo(mean(perStep.slice(5)), 5);
    exp.dispose();
  });

  it('numbers a batchEnd hook adds to the step logs join the epoch means and log events', async () => {
    const exp = new LinearRegression({ lr: 0.1 });
    const logged: number[] = [];
    exp.addCallback(onBatchEnd({ name: 'tau' })((e) => e.state.logs.set('tau', e.state.globalStep)));
    exp.events.on('log', ({ values }) => logged.push(values.tau));
    const h = await exp.fit(makeData(1, 4, 4), { epochs: 2, logEvery: 2 });
    expect(h.history.tau).toEqual([2.5, 6.5]);
    expect(logged).toEqual([2, 4, 6, 8]);
    exp.dispose();
  });

  it('stopTraining stops after the current batch, and experimentEnd still runs', async () => {
    const exp = new LinearRegression({ lr: 0.1 });
    let ended = false;
    exp.addCallback(
      onBatchEnd({ name: 'stopper' })((e) => { if (e.state.globalStep === 3) e.stopTraining = true; }),
      onBatchEnd({ name: 'after', order: 999 })(() => {}),
    );
    exp.events.on('experimentEnd', ({ stopped }) => { ended = stopped; });
    const h = await exp.fit(makeData(1, 10, 4), { epochs: 5 });
    expect(exp.state.globalStep).toBe(3);
    expect(h.epoch).toEqual([0]);
    expect(exp.state.epoch).toBe(0); // the cut epoch is not counted as done
    expect(exp.state.batchIndex).toBe(3);
    expect(ended).toBe(true);
    exp.dispose();
  });

  it('maxSteps ends training across epochs', async () => {
    const exp = new LinearRegression({ lr: 0.1 });
    await exp.fit(makeData(1, 4, 4), { epochs: 10, maxSteps: 6 });
    expect(exp.state.globalStep).toBe(6);
    expect(exp.state.totalSteps).toBe(6);
    exp.dispose();
  });

  it('stepsPerEpoch cuts epochs and sets totalSteps for schedules', async () => {
    const exp = new LinearRegression({ lr: 0.1 });
    let total: number | undefined;
    exp.addCallback(onBatchEnd({ name: 't' })((e) => { total = e.state.totalSteps; }));
    const h = await exp.fit(makeData(1, 10, 4), { epochs: 3, stepsPerEpoch: 2 });
    expect(exp.state.globalStep).toBe(6);
    expect(total).toBe(6);
    expect(h.epoch).toEqual([0, 1, 2]);
    exp.dispose();
  });

  it('LeakGuard fails a run whose step leaks a tensor', async () => {
    const exp = new LinearRegression({ lr: 0.1 });
    exp.leakEvery = 1;
    exp.addCallback(new LeakGuard({ warmupSteps: 2 }));
    await expect(exp.fit(makeData(1, 8, 4), { epochs: 1 })).rejects.toThrow(
      /callback "leak-guard" failed in batchEnd: tf.memory\(\).numTensors grew from \d+ \(step 3\) to \d+ \(step 4\)/,
    );
    exp.dispose();
  });

  it('LeakGuard passes a clean run', async () => {
    const exp = new LinearRegression({ lr: 0.1 });
    exp.addCallback(new LeakGuard());
    await exp.fit(makeData(1, 8, 4), { epochs: 2 });
    exp.dispose();
  });

  it('emits observer events after the hooks, with numbers only every logEvery steps', async () => {
    const exp = new LinearRegression({ lr: 0.1 });
    const order: string[] = [];
    const logSteps: number[] = [];
    exp.addCallback(onEpochEnd({ name: 'hook' })(() => { order.push('hook'); }));
    exp.events.on('epochEnd', ({ metrics }) => { order.push(`event:${Object.keys(metrics).sort().join(',')}`); });
    exp.events.on('log', ({ step, values }) => { logSteps.push(step); expect(values.loss).toBeGreaterThanOrEqual(0); });
    await exp.fit(makeData(1, 6, 4), { epochs: 1, logEvery: 2 });
    expect(order).toEqual(['hook', 'event:loss,lr']);
    expect(logSteps).toEqual([2, 4, 6]);
    exp.dispose();
  });

  it('a NaN loss stops the run naming step and epoch', async () => {
    class Nan extends LinearRegression {
      override trainStep(b: XY): StepLogs {
        const out = super.trainStep(b);
        return this.state.globalStep >= 2 ? { loss: tf.scalar(NaN) } : out;
      }
    }
    const exp = new Nan({ lr: 0.1 });
    await expect(exp.fit(makeData(1, 6, 4), { epochs: 1, logEvery: 1 })).rejects.toThrow(
      'loss is NaN at step 3 (epoch 0, batch 2); training stopped.',
    );
    exp.dispose();
  });
});

describe('History', () => {
  it('keeps one row per epoch: recording the last epoch again replaces its row', () => {
    const h = new History();
    h.record(0, { loss: 2, knn_acc: 0.5 });
    h.record(1, { loss: 1.5, partial_only: 9 });
    expect(h.lastRowOf(1)).toEqual({ loss: 1.5, knn_acc: NaN, partial_only: 9 });
    expect(h.lastRowOf(0)).toBeUndefined();
    h.record(1, { loss: 1.2, knn_acc: 0.6 });
    expect(h.toJSON()).toEqual({ epoch: [0, 1], history: { loss: [2, 1.2], knn_acc: [0.5, 0.6] } });
    // a new fit that starts again at epoch 0 appends
    h.record(0, { loss: 3 });
    expect(h.epoch).toEqual([0, 1, 0]);
  });

  it('fromJSON gives back what toJSON gave, NaN included, as an independent copy', () => {
    const h = new History();
    h.record(0, { loss: 2 });
    h.record(1, { loss: 1.5, knn_acc: 0.5 });
    const json = h.toJSON();
    const back = History.fromJSON(json);
    expect(back).toBeInstanceOf(History);
    expect(back.toJSON()).toEqual(json);
    expect(back.history.knn_acc[0]).toBeNaN();
    expect(back.lastRowOf(1)).toEqual({ loss: 1.5, knn_acc: 0.5 });
    json.history.loss[0] = 99;
    json.epoch.push(7);
    expect(back.history.loss[0]).toBe(2);
    expect(back.epoch).toEqual([0, 1]);
    // it goes on like the original
    back.record(1, { loss: 1.2 });
    expect(back.toJSON()).toEqual({ epoch: [0, 1], history: { loss: [2, 1.2] } });
    expect(() => History.fromJSON({ epoch: [0, 1], history: { loss: [1] } })).toThrow(/column "loss" has 1 values for 2 epochs/);
  });
});
