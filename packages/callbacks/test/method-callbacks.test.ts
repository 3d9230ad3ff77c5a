import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { CallbackOrder, Experiment, onBatchEnd, onExperimentStart, type MethodRunInfo, type StepLogs } from '@selfsup/core';
import { CollapseMonitorCallback, EmaUpdateCallback, LrSchedulerCallback, TargetInitCallback } from '../src';
import { useBackend } from '../../../test/helpers/backend';

beforeAll(async () => {
  await useBackend('wasm');
});

/** Online encoder (dense + BN) and projector trained towards a fixed target: weights move every step. */
class Toy extends Experiment<tf.Tensor2D, undefined> {
  baseLearningRate = 0.2;
  protected override configureModels(): void {
    const inp = tf.input({ shape: [3], name: 'online_encoder/input' });
    let h = tf.layers.dense({ units: 4, name: 'online_encoder/fc', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(inp) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({ name: 'online_encoder/bn' }).apply(h) as tf.SymbolicTensor;
    // a layer after the BN: freezing a copy reorders model.weights (trainable first), a trap for index pairing
    h = tf.layers.dense({ units: 4, name: 'online_encoder/fc2', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(h) as tf.SymbolicTensor;
    this.models.set('online_encoder', tf.model({ inputs: inp, outputs: h, name: 'online_encoder' }));
    this.models.set(
      'online_projector',
      tf.sequential({ name: 'online_projector', layers: [tf.layers.dense({ units: 2, inputShape: [4], name: 'online_projector/fc', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })] }),
    );
  }
  protected override configureOptimizer(): tf.Optimizer {
    return tf.train.sgd(this.baseLearningRate);
  }
  protected override runContextInfo(): MethodRunInfo {
    return { baseLearningRate: this.baseLearningRate };
  }
  override trainableVariables(): tf.Variable[] {
    return ['online_encoder', 'online_projector'].flatMap((n) => this.models.get(n)!.trainableWeights.map((w) => w.read() as tf.Variable));
  }
  trainStep(x: tf.Tensor2D): StepLogs {
    const enc = this.models.get('online_encoder')!;
    const proj = this.models.get('online_projector')!;
    const loss = this.minimize(() => tf.mean(tf.square(tf.sub(proj.apply(enc.apply(x, { training: true })) as tf.Tensor, 1))) as tf.Scalar);
    return { loss };
  }
}

const data = (n: number) =>
  function* () {
    for (let i = 0; i < n; i++) yield tf.randomNormal([8, 3], 0, 1, 'float32', i + 1) as tf.Tensor2D;
  };

/** Weights layer by layer (an order freezing does not change), as plain numbers. */
const snapshot = (m: tf.LayersModel) => m.layers.flatMap((l) => l.weights).map((w) => Array.from(w.read().dataSync()));

describe('target-init', () => {
  it('makes an exact, frozen copy of online encoder and projector, batch-norm statistics included', async () => {
    const exp = new Toy(undefined);
    let checked = false;
    // perturb the online BN moving mean first so "exact copy" is not just "same initialiser"
    exp.addCallback(
      onExperimentStart({ name: 'perturb', order: CallbackOrder.MODEL_INIT - 1 })((e) => {
        const mm = e.models.get('online_encoder')!.getLayer('online_encoder/bn').weights.find((w) => w.name.includes('moving_mean'))!;
        mm.write(tf.tensor1d([0.5, -1, 2, 3]));
      }),
      new TargetInitCallback(),
      onExperimentStart({ name: 'check', order: CallbackOrder.MODEL_INIT + 1 })((e) => {
        for (const [o, t] of [['online_encoder', 'target_encoder'], ['online_projector', 'target_projector']]) {
          const online = e.models.get(o)!;
          const target = e.models.get(t)!;
          expect(target.name).toBe(t);
          expect(target.layers.map((l) => l.name)).toEqual(online.layers.map((l) => l.name.replace('online_', 'target_')));
          expect(snapshot(target)).toEqual(snapshot(online));
          expect(target.trainableWeights).toHaveLength(0);
          expect(target.weights.map((w) => w.read().id)).not.toEqual(online.weights.map((w) => w.read().id));
        }
        checked = true;
        e.stop();
      }),
    );
    await exp.fit(data(2), { epochs: 1 });
    expect(checked).toBe(true);
    exp.dispose();
  });
});

describe('ema', () => {
  it('τ schedule: τ_base at k = 0, (1 + τ_base)/2 at K/2, 1 at K', async () => {
    const ema = new EmaUpdateCallback({ tauBase: 0.99 });
    const exp = new Toy(undefined);
    exp.addCallback(new TargetInitCallback(), ema, onExperimentStart({ name: 'stop', order: 999 })((e) => e.stop()));
    await exp.fit(data(1), { epochs: 4, stepsPerEpoch: 25 });
    // independent: 1 − (1 − 0.99)(cos(πk/100) + 1)/2
    expect(ema.tauAt(0)).toBeCloseTo(0.99, 12);
    expect(ema.tauAt(50)).toBeCloseTo(0.995, 12);
    expect(ema.tauAt(100)).toBeCloseTo(1, 12);
    expect(ema.tauAt(25)).toBeCloseTo(1 - 0.01 * (Math.SQRT1_2 + 1) / 2, 12);
    exp.dispose();
  });

  it('one update on fixed tensors: ξ ← τξ + (1 − τ)θ, online untouched', async () => {
    const exp = new Toy(undefined);
    const ema = new EmaUpdateCallback({ tauBase: 0.9, schedule: 'constant' });
    exp.addCallback(new TargetInitCallback(), ema, onExperimentStart({ name: 'stop', order: 999 })((e) => e.stop()));
    await exp.fit(data(1), { epochs: 1 });
    const online = exp.models.get('online_projector')!;
    const target = exp.models.get('target_projector')!;
    online.setWeights([tf.tensor2d([[3, 5], [1, 1], [0, 0], [2, 2]]), tf.tensor1d([1, -1])]);
    target.setWeights([tf.tensor2d([[1, 2], [1, 1], [4, 4], [0, 0]]), tf.tensor1d([0, 0])]);
    const before = tf.memory().numTensors;
    ema.update(0.9);
    expect(tf.memory().numTensors).toBe(before);
    // by hand: 0.9·ξ + 0.1·θ
    const [k, b] = snapshot(target);
    [1.2, 2.3, 1, 1, 3.6, 3.6, 0.2, 0.2].forEach((v, i) => expect(k[i]).toBeCloseTo(v, 6));
    [0.1, -0.1].forEach((v, i) => expect(b[i]).toBeCloseTo(v, 6));
    expect(snapshot(online)).toEqual([[3, 5, 1, 1, 0, 0, 2, 2], [1, -1]]);
    exp.dispose();
  });

  it('in training, the target follows the EMA of the online weights after every step, with no tensor growth', async () => {
    const exp = new Toy(undefined);
    const tau = 0.8;
    let prevTarget: number[][] = [];
    let maxErr = 0;
    const counts: number[] = [];
    exp.addCallback(
      new TargetInitCallback(),
      onBatchEnd({ name: 'before-ema', order: CallbackOrder.WEIGHT_UPDATE - 1 })((e) => { prevTarget = snapshot(e.models.get('target_encoder')!); }),
      new EmaUpdateCallback({ tauBase: tau, schedule: 'constant', bnStats: 'copy' }),
      onBatchEnd({ name: 'after-ema', order: CallbackOrder.WEIGHT_UPDATE + 1 })((e) => {
        const enc = e.models.get('online_encoder')!;
        const online = snapshot(enc);
        const target = snapshot(e.models.get('target_encoder')!);
        enc.layers.flatMap((l) => l.weights).forEach((w, i) => {
          target[i].forEach((v, j) => {
            const want = w.trainable ? tau * prevTarget[i][j] + (1 - tau) * online[i][j] : online[i][j];
            maxErr = Math.max(maxErr, Math.abs(v - want));
          });
        });
        counts.push(tf.memory().numTensors);
      }),
    );
    const h = await exp.fit(data(6), { epochs: 1 });
    expect(maxErr).toBeLessThan(1e-6);
    expect(h.history.tau[0]).toBeCloseTo(tau, 12);
    expect(new Set(counts.slice(2)).size).toBe(1);
    exp.dispose();
  });

  it('with τ = 1 the target never changes while the online network trains', async () => {
    const exp = new Toy(undefined);
    let first: number[][] | undefined;
    let onlineFirst: number[][] | undefined;
    exp.addCallback(
      new TargetInitCallback(),
      new EmaUpdateCallback({ tauBase: 1, schedule: 'constant', bnStats: 'ema' }),
      onExperimentStart({ name: 'snap', order: CallbackOrder.MODEL_INIT + 1 })((e) => {
        first = snapshot(e.models.get('target_projector')!);
        onlineFirst = snapshot(e.models.get('online_projector')!);
      }),
    );
    await exp.fit(data(4), { epochs: 1 });
    expect(snapshot(exp.models.get('target_projector')!)).toEqual(first);
    expect(snapshot(exp.models.get('online_projector')!)).not.toEqual(onlineFirst);
    exp.dispose();
  });

  it('cannot run without target-init, and says so before any step', async () => {
    const exp = new Toy(undefined);
    exp.addCallback(new EmaUpdateCallback());
    await expect(exp.fit(data(2), { epochs: 1 })).rejects.toThrow('callback "ema" requires callback "target-init"');
  });

  it('the cosine schedule without a known step count is a clear error', async () => {
    const exp = new Toy(undefined);
    exp.addCallback(new TargetInitCallback(), new EmaUpdateCallback());
    await expect(exp.fit(data(2), { epochs: 1 })).rejects.toThrow(/callback "ema" failed in experimentStart: ema: the cosine τ schedule needs the total number of steps/);
    exp.dispose();
  });
});

describe('lr-schedule', () => {
  it('sets warm-up then cosine LR on the optimizer before each step and logs it', async () => {
    const exp = new Toy(undefined);
    const seen: number[] = [];
    const setLr = (lr: number) => seen.push(lr);
    exp.addCallback(
      onExperimentStart({ name: 'patch', order: CallbackOrder.MODEL_INIT })((e) => {
        (e.optimizer as unknown as { setLearningRate: (lr: number) => void }).setLearningRate = setLr;
      }),
      new LrSchedulerCallback({ warmupSteps: 2 }),
    );
    const h = await exp.fit(data(3), { epochs: 2, stepsPerEpoch: 3 });
    // by hand, base 0.2, W = 2, K = 6: k=0: 0, k=1: 0.1, k≥2: 0.1·(1 + cos(π(k−2)/4))
    const want = [0, 0.1, 0.2, 0.1 * (1 + Math.SQRT1_2), 0.1, 0.1 * (1 - Math.SQRT1_2)];
    seen.forEach((v, i) => expect(v).toBeCloseTo(want[i], 10));
    expect(seen).toHaveLength(6);
    expect(h.history.lr[0]).toBeCloseTo((want[0] + want[1] + want[2]) / 3, 10);
    exp.dispose();
  });

  it('schedule: cosine runs one cosine over the whole run with the warm-up as a factor', async () => {
    const exp = new Toy(undefined);
    const seen: number[] = [];
    exp.addCallback(
      onExperimentStart({ name: 'patch', order: CallbackOrder.MODEL_INIT })((e) => {
        (e.optimizer as unknown as { setLearningRate: (lr: number) => void }).setLearningRate = (lr: number) => seen.push(lr);
      }),
      new LrSchedulerCallback({ warmupSteps: 2, schedule: 'cosine' }),
    );
    await exp.fit(data(3), { epochs: 2, stepsPerEpoch: 3 });
    // by hand, base 0.2, W = 2, K = 6: 0.1·(1 + cos(πk/6)) · min(1, k/2)
    const want = [0, 0.5 * 0.1 * (1 + Math.cos(Math.PI / 6)), 0.1 * 1.5, 0.1, 0.05, 0.1 * (1 - Math.cos(Math.PI / 6))];
    expect(seen).toHaveLength(6);
    seen.forEach((v, i) => expect(v).toBeCloseTo(want[i], 10));
    exp.dispose();
  });

  it('peaks at the base LR the method reports in the run context, else at the optimizer LR', async () => {
    const constantLr = async (exp: Toy) => {
      const seen: number[] = [];
      exp.addCallback(
        onExperimentStart({ name: 'patch', order: CallbackOrder.MODEL_INIT })((e) => {
          (e.optimizer as unknown as { setLearningRate: (lr: number) => void }).setLearningRate = (lr: number) => seen.push(lr);
        }),
        new LrSchedulerCallback({ schedule: 'constant' }),
      );
      await exp.fit(data(1), { epochs: 1 });
      exp.dispose();
      return seen;
    };
    // the method's runContextInfo (0.35), not the optimizer's 0.2, and not a field that is merely there
    class Reporting extends Toy {
      protected override runContextInfo(): MethodRunInfo {
        return { baseLearningRate: 0.35 };
      }
    }
    expect(await constantLr(new Reporting(undefined))).toEqual([0.35]);
    class Silent extends Toy {
      override baseLearningRate = 0.9; // not reported: lr-schedule does not probe fields
      protected override configureOptimizer(): tf.Optimizer {
        return tf.train.sgd(0.2);
      }
      protected override runContextInfo(): MethodRunInfo {
        return {};
      }
    }
    expect(await constantLr(new Silent(undefined))).toEqual([0.2]);
  });

  it('refuses an optimizer it cannot schedule', async () => {
    const exp = new Toy(undefined);
    exp.addCallback(new LrSchedulerCallback({ schedule: 'constant' }));
    // tfjs's SGDOptimizer has setLearningRate; Adam does not
    (exp as unknown as { configureOptimizer: () => tf.Optimizer }).configureOptimizer = () => tf.train.adam(0.1);
    await expect(exp.fit(data(1), { epochs: 1 })).rejects.toThrow(/lr-schedule: the optimizer \(AdamOptimizer\) has no setLearningRate/);
    exp.dispose();
  });
});

describe('collapse-monitor', () => {
  class Collapsing extends Toy {
    override trainStep(x: tf.Tensor2D): StepLogs {
      return { ...super.trainStep(x), z_std: this.state.globalStep < 3 ? 1 / Math.sqrt(2) : 1e-4 };
    }
  }
  it('warns once after `patience` low readings and stops when asked', async () => {
    const warnings: string[] = [];
    const exp = new Collapsing(undefined);
    exp.addCallback(new CollapseMonitorCallback({ patience: 2, checkEvery: 1, stop: true }, (m) => warnings.push(m)));
    await exp.fit(data(10), { epochs: 1 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/z_std = 1\.000e-4 < 7\.071e-2 \(0\.1\/√d\) for 2 checks at step 5/);
    expect(exp.state.globalStep).toBe(5);
    exp.dispose();
  });

  it('stays quiet on a healthy run', async () => {
    const warnings: string[] = [];
    class Healthy extends Toy {
      override trainStep(x: tf.Tensor2D): StepLogs {
        return { ...super.trainStep(x), z_std: 0.7 };
      }
    }
    const exp = new Healthy(undefined);
    exp.addCallback(new CollapseMonitorCallback({ patience: 1, checkEvery: 1, stop: true }, (m) => warnings.push(m)));
    await exp.fit(data(4), { epochs: 1 });
    expect(warnings).toEqual([]);
    expect(exp.state.globalStep).toBe(4);
    exp.dispose();
  });
});
