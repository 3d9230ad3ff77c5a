import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CallbackOrder,
  Experiment,
  Rng,
  layerOrderedWeights,
  loadCheckpoint,
  disposeSnapshot,
  onBatchEnd,
  onEpochEnd,
  onExperimentStart,
  plugins,
  readCheckpointMeta,
  type MethodRunInfo,
  type StepLogs,
} from '@selfsup/core';
import { CheckpointCallback, CheckpointOptions, EmaUpdateCallback, LrSchedulerCallback, TargetInitCallback } from '../src';
import { useBackend } from '../../../test/helpers/backend';

beforeAll(async () => {
  await useBackend('wasm');
});

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-ckpt-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const fresh = (name: string) => path.join(tmp, name);

/**
 * BYOL-shaped toy: online encoder (dense → BN → dense) and projector, a target made by
 * target-init and moved by ema, momentum SGD with an lr schedule, and input noise from its
 * own Rng. `poisonFromEpoch` makes the loss NaN from that epoch on.
 */
class Toy extends Experiment<tf.Tensor2D, undefined> {
  baseLearningRate = 0.1;
  readonly noiseRng: Rng;
  poisonFromEpoch = Infinity;
  constructor() {
    super(undefined, { seed: 11 });
    this.noiseRng = this.rng.fork();
  }
  /** Declared, so a checkpoint holds it. */
  override rngs(): Record<string, Rng> {
    return { ...super.rngs(), noiseRng: this.noiseRng };
  }
  protected override configureModels(): void {
    const inp = tf.input({ shape: [3] });
    let h = tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(inp) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization().apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(h) as tf.SymbolicTensor;
    this.models.set('online_encoder', tf.model({ inputs: inp, outputs: h, name: 'online_encoder' }));
    this.models.set(
      'online_projector',
      tf.sequential({ name: 'online_projector', layers: [tf.layers.dense({ units: 2, inputShape: [4], kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })] }),
    );
  }
  protected override configureOptimizer(): tf.Optimizer {
    return tf.train.momentum(this.baseLearningRate, 0.9);
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
    const tEnc = this.models.get('target_encoder')!;
    const tProj = this.models.get('target_projector')!;
    const noisy = tf.add(x, tf.randomNormal(x.shape, 0, 0.2, 'float32', this.noiseRng.seed()));
    const z = tProj.apply(tEnc.apply(noisy, { training: true })) as tf.Tensor;
    const poison = this.state.epoch >= this.poisonFromEpoch ? NaN : 1;
    const loss = this.minimize(
      () => tf.mul(tf.mean(tf.square(tf.sub(proj.apply(enc.apply(noisy, { training: true })) as tf.Tensor, tf.add(z, 1)))), poison) as tf.Scalar,
    );
    return { loss };
  }
}

const data = (n: number) => (ctx: { epoch: number; skipBatches: number }) =>
  (function* () {
    for (let i = ctx.skipBatches; i < n; i++) yield tf.randomNormal([6, 3], 0, 1, 'float32', 1000 * ctx.epoch + i + 1) as tf.Tensor2D;
  })();

/** The method callbacks plus a per-step loss recorder. */
function methodCallbacks(losses?: Array<[number, number]>) {
  const cbs = [new TargetInitCallback(), new EmaUpdateCallback({ tauBase: 0.9 }), new LrSchedulerCallback({ warmupSteps: 2 })];
  if (losses) {
    cbs.push(onBatchEnd({ name: 'losses' })(async (e) => { losses.push([e.state.globalStep, (await e.state.logs.get('loss'))!]); }) as never);
  }
  return cbs;
}

/** Logs `score` = values[epoch] at EVALUATION order, as knn-eval would log knn_acc. */
const scores = (values: Array<number | undefined>) =>
  onEpochEnd({ name: 'score', order: CallbackOrder.EVALUATION })((e) => {
    const v = values[e.state.epoch];
    if (v !== undefined) e.logMetric('score', v);
  });

const warnings = () => {
  const list: string[] = [];
  return { list, warn: (m: string) => list.push(m), log: () => undefined };
};

describe('CheckpointCallback: registration and options', () => {
  it('is registered as "checkpoint" at CHECKPOINT order with its options class; resume runs right after target-init', () => {
    const info = plugins.callback('checkpoint');
    expect(info.ctor).toBe(CheckpointCallback);
    expect(info.options).toBe(CheckpointOptions);
    expect(info.order).toBe(CallbackOrder.CHECKPOINT);
    const cb = new CheckpointCallback({ dir: fresh('x') });
    expect(cb.name).toBe('checkpoint');
    expect(cb.options).toMatchObject({ monitor: 'knn_acc', mode: 'max', saveLast: true });
  });

  it('rejects bad options by name', () => {
    expect(() => new CheckpointCallback({ mode: 'up' as never })).toThrow(/option "mode" = "up"/);
    expect(() => new CheckpointCallback({ every: 0 })).toThrow(/option "every" = 0/);
    expect(() => new CheckpointCallback({ keepLast: 2 })).toThrow(/keepLast applies to the epoch-<E>\/ checkpoints; set every/);
  });

  it('writes under <runDir>/checkpoints by default, and needs dir without one', async () => {
    const exp = new Toy();
    exp.runDir = fresh('run-a');
    const w = warnings();
    await exp.fit(data(2), { stepsPerEpoch: 2, epochs: 1, callbacks: [...methodCallbacks(), new CheckpointCallback({}, w)] });
    expect(fs.readdirSync(path.join(exp.runDir, 'checkpoints'))).toEqual(['last']);
    exp.dispose();
    const bare = new Toy();
    await expect(bare.fit(data(2), { stepsPerEpoch: 2, epochs: 1, callbacks: [...methodCallbacks(), new CheckpointCallback()] })).rejects.toThrow(
      /callback "checkpoint" failed in experimentStart: .*no checkpoint folder; set the callback's `dir` option/,
    );
    bare.dispose();
  });
});

describe('CheckpointCallback: what it writes', () => {
  it('last/ every epoch, best/ when the metric improves (max and min), one warning when it is missing', async () => {
    const values = [0.2, 0.5, 0.4, 0.7];
    for (const mode of ['max', 'min'] as const) {
      const dir = fresh(`best-${mode}`);
      const exp = new Toy();
      const bestEpochs: number[] = [];
      const lastEpochs: number[] = [];
      const w = warnings();
      const ckpt = new CheckpointCallback({ dir, monitor: 'score', mode }, w);
      const probe = onEpochEnd({ name: 'probe', order: CallbackOrder.CHECKPOINT + 1 })(async () => {
        lastEpochs.push((await readCheckpointMeta(path.join(dir, 'last'))).counters.epoch);
        if (fs.existsSync(path.join(dir, 'best'))) bestEpochs.push((await readCheckpointMeta(path.join(dir, 'best'))).extra.epoch as number);
      });
      await exp.fit(data(2), { stepsPerEpoch: 2, epochs: 4, callbacks: [...methodCallbacks(), scores(values), ckpt, probe] });
      // last/ holds the position to resume from: the epoch after the one just finished
      expect(lastEpochs).toEqual([1, 2, 3, 4]);
      // max: improves at 0.2, 0.5, 0.7; min: only the first value 0.2 is ever best
      expect(bestEpochs).toEqual(mode === 'max' ? [0, 1, 1, 3] : [0, 0, 0, 0]);
      expect(ckpt.best).toBe(mode === 'max' ? 0.7 : 0.2);
      expect(ckpt.getState()).toEqual({ best: ckpt.best, bestEpoch: mode === 'max' ? 3 : 0, monitor: 'score', mode });
      const best = await readCheckpointMeta(path.join(dir, 'best'));
      expect(best.extra).toMatchObject({ monitor: 'score', mode, value: ckpt.best });
      expect(w.list).toEqual([]);
      exp.dispose();
    }

    const dir = fresh('no-metric');
    const exp = new Toy();
    const w = warnings();
    await exp.fit(data(2), { stepsPerEpoch: 2, epochs: 3, callbacks: [...methodCallbacks(), new CheckpointCallback({ dir }, w)] });
    expect(w.list).toHaveLength(1);
    expect(w.list[0]).toMatch(/no epoch of this run reported the monitored metric "knn_acc" \(the last one had: loss, tau, lr\)/);
    expect(fs.readdirSync(dir)).toEqual(['last']);
    exp.dispose();

    // an evaluation every other epoch (knn-eval's `every`) is not a missing metric
    const sparseDir = fresh('sparse-metric');
    const sparse = new Toy();
    const ws = warnings();
    await sparse.fit(data(2), { stepsPerEpoch: 2, epochs: 4, callbacks: [...methodCallbacks(), scores([0.3, undefined, 0.6, undefined]), new CheckpointCallback({ dir: sparseDir, monitor: 'score' }, ws)] });
    expect(ws.list).toEqual([]);
    expect((await readCheckpointMeta(path.join(sparseDir, 'best'))).extra).toMatchObject({ value: 0.6, epoch: 2 });
    sparse.dispose();
  });

  it('epoch-<E>/ every N epochs, only the last K kept; History rows include the finished epoch', async () => {
    const dir = fresh('every');
    const exp = new Toy();
    await exp.fit(data(1), { stepsPerEpoch: 1, epochs: 6, callbacks: [...methodCallbacks(), new CheckpointCallback({ dir, monitor: 'loss', mode: 'min', every: 2, keepLast: 2 }, warnings())] });
    // named as the progress line counts epochs: every 2 → epoch-2, epoch-4, epoch-6
    expect(fs.readdirSync(dir).sort()).toEqual(['best', 'epoch-4', 'epoch-6', 'last']);
    const e3 = await readCheckpointMeta(path.join(dir, 'epoch-4'));
    expect(e3.counters).toEqual({ epoch: 4, globalStep: 4, batchIndex: 0 });
    expect(e3.history.epoch).toEqual([0, 1, 2, 3]);
    expect(e3.history.history.loss).toEqual(exp.history.history.loss.slice(0, 4));
    expect((await readCheckpointMeta(path.join(dir, 'last'))).history).toEqual(exp.history.toJSON());
    exp.dispose();
  });

  it('after a non-finite loss nothing is written: the last good checkpoint stays, with a warning', async () => {
    for (const logEvery of [0, 1]) {
      const dir = fresh(`nan-${logEvery}`);
      const exp = new Toy();
      exp.poisonFromEpoch = 2;
      const w = warnings();
      const run = exp.fit(data(2), { stepsPerEpoch: 2, epochs: 4, logEvery, callbacks: [...methodCallbacks(), new CheckpointCallback({ dir, monitor: 'loss', mode: 'min' }, w)] });
      if (logEvery === 1) {
        // the loop itself stops at the first NaN step and names it
        await expect(run).rejects.toThrow(/loss is NaN at step 5 \(epoch 2, batch 0\)/);
        expect(w.list).toEqual([]);
      } else {
        await run;
        expect(w.list).toHaveLength(1);
        expect(w.list[0]).toMatch(/loss is NaN in epoch 2 \(step 6\); no checkpoint is written from now on in this run — the last good one \(step 4\)/);
      }
      for (const d of ['last', 'best']) {
        const meta = await readCheckpointMeta(path.join(dir, d));
        expect(meta.counters).toEqual({ epoch: 2, globalStep: 4, batchIndex: 0 });
      }
      const ok = await loadCheckpoint(path.join(dir, 'last'));
      expect(Object.values(ok.tensors).every((t) => t.dtype !== 'float32' || (t.dataSync() as Float32Array).every(Number.isFinite))).toBe(true);
      disposeSnapshot(ok);
      exp.dispose();
    }
  });

  it('refuses to write non-finite weights even when the loss looks fine', async () => {
    const dir = fresh('nan-weights');
    const exp = new Toy();
    const w = warnings();
    const breakWeights = onEpochEnd({ name: 'break', order: CallbackOrder.EVALUATION })((e) => {
      if (e.state.epoch !== 1) return;
      const gamma = layerOrderedWeights(e.models.get('online_encoder')!)[2];
      gamma.write(tf.fill(gamma.shape as number[], Infinity));
    });
    await exp.fit(data(2), { stepsPerEpoch: 2, epochs: 3, logEvery: 0, callbacks: [...methodCallbacks(), breakWeights, new CheckpointCallback({ dir, monitor: 'loss', mode: 'min' }, w)] });
    expect(w.list[0]).toMatch(/non-finite values in model\/online_encoder\/2\/.*gamma.* at step 4/);
    expect((await readCheckpointMeta(path.join(dir, 'last'))).counters.globalStep).toBe(2);
    expect((await readCheckpointMeta(path.join(dir, 'best'))).counters.globalStep).toBe(2);
    exp.dispose();
  });
});

describe('CheckpointCallback: resume', () => {
  it('a run stopped mid-epoch resumes from last/ and reproduces the uninterrupted per-step losses', async () => {
    const ref: Array<[number, number]> = [];
    const straight = new Toy();
    await straight.fit(data(4), { stepsPerEpoch: 4, epochs: 3, callbacks: methodCallbacks(ref) });

    const dir = fresh('resume-mid');
    const first: Array<[number, number]> = [];
    const a = new Toy();
    const stopAt7 = onBatchEnd({ name: 'stop' })((e) => { if (e.state.globalStep === 7) e.stop('test stop'); });
    await a.fit(data(4), { stepsPerEpoch: 4, epochs: 3, callbacks: [...methodCallbacks(first), stopAt7, new CheckpointCallback({ dir, monitor: 'loss', mode: 'min' }, warnings())] });
    expect((await readCheckpointMeta(path.join(dir, 'last'))).counters).toEqual({ epoch: 1, globalStep: 7, batchIndex: 3 });
    const savedTarget = (await loadCheckpoint(path.join(dir, 'last')));
    const targetKernel = Array.from(savedTarget.tensors[savedTarget.meta.models.target_encoder[0].key].dataSync());
    const onlineKernel = Array.from(savedTarget.tensors[savedTarget.meta.models.online_encoder[0].key].dataSync());
    disposeSnapshot(savedTarget);
    a.dispose();

    const resumed: Array<[number, number]> = [];
    const b = new Toy();
    let targetSeenAfterRestore: number[] = [];
    const peek = onExperimentStart({ name: 'peek', order: CallbackOrder.MODEL_INIT + 11 })((e) => {
      targetSeenAfterRestore = Array.from(layerOrderedWeights(e.models.get('target_encoder')!)[0].read().dataSync());
    });
    const ckpt = new CheckpointCallback({ dir, monitor: 'loss', mode: 'min', resumeFrom: dir }, warnings());
    await b.fit(data(4), { stepsPerEpoch: 4, epochs: 3, callbacks: [...methodCallbacks(resumed), peek, ckpt] });
    // restored after target-init copied the online weights: the target is the saved EMA target
    expect(targetKernel).not.toEqual(onlineKernel);
    expect(targetSeenAfterRestore).toEqual(targetKernel);
    expect(ckpt.restored?.meta.counters.globalStep).toBe(7);
    expect(first).toEqual(ref.slice(0, 7));
    expect(resumed.map(([s]) => s)).toEqual([8, 9, 10, 11, 12]);
    expect(resumed).toEqual(ref.slice(7));
    for (const m of ['online_encoder', 'target_encoder', 'online_projector', 'target_projector']) {
      expect(layerOrderedWeights(b.models.get(m)!).map((w) => Array.from(w.read().dataSync()))).toEqual(
        layerOrderedWeights(straight.models.get(m)!).map((w) => Array.from(w.read().dataSync())),
      );
    }
    straight.dispose();
    b.dispose();
  });

  it('keeps the best value across a resume, so a worse epoch does not overwrite best/', async () => {
    const dir = fresh('resume-best');
    const a = new Toy();
    await a.fit(data(1), { stepsPerEpoch: 1, epochs: 2, callbacks: [...methodCallbacks(), scores([0.3, 0.9]), new CheckpointCallback({ dir, monitor: 'score' }, warnings())] });
    a.dispose();
    const b = new Toy();
    const ckpt = new CheckpointCallback({ dir, monitor: 'score', resumeFrom: path.join(dir, 'last') }, warnings());
    await b.fit(data(1), { stepsPerEpoch: 1, epochs: 4, callbacks: [...methodCallbacks(), scores([0, 0, 0.5, 0.95]), ckpt] });
    expect(b.history.history.score).toEqual([0.3, 0.9, 0.5, 0.95]);
    expect(ckpt.best).toBe(0.95);
    const best = await readCheckpointMeta(path.join(dir, 'best'));
    expect(best.extra).toMatchObject({ value: 0.95, epoch: 3 });
    b.dispose();
  });

  it('a missing resumeFrom checkpoint fails at start, naming the path', async () => {
    const exp = new Toy();
    const missing = fresh('does-not-exist');
    await expect(
      exp.fit(data(1), { stepsPerEpoch: 1, epochs: 1, callbacks: [...methodCallbacks(), new CheckpointCallback({ dir: fresh('r'), resumeFrom: missing }, warnings())] }),
    ).rejects.toThrow(/no checkpoint found at ".*does-not-exist"/);
    exp.dispose();
  });

  it('writing checkpoints leaks no tensors', async () => {
    const exp = new Toy();
    const counts: number[] = [];
    const probe = onEpochEnd({ name: 'count', order: CallbackOrder.EXTERNAL })(() => { counts.push(tf.memory().numTensors); });
    await exp.fit(data(1), { stepsPerEpoch: 1, epochs: 4, callbacks: [...methodCallbacks(), new CheckpointCallback({ dir: fresh('leak'), monitor: 'loss', mode: 'min', every: 1, keepLast: 1 }, warnings()), probe] });
    expect(new Set(counts.slice(1)).size).toBe(1);
    exp.dispose();
  });
});
