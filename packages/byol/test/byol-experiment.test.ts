import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { CallbackOrder, onBatchEnd, onExperimentStart, plugins } from '@selfsup/core';
import { EmaUpdateCallback, TargetInitCallback } from '@selfsup/callbacks';
import { AugmentationPipeline, BYOL_MODELS, ByolExperiment } from '../src';
import { oneStepDelta, splitAgainstHalves } from './micro-batch-check';
import { useBackend } from '../../../test/helpers/backend';

// Conv gradients on the plain cpu backend: tiny shapes only.
beforeAll(async () => {
  await useBackend('cpu');
});

const tiny = () =>
  new ByolExperiment({
    inputShape: [8, 8, 1],
    batchSize: 4,
    seed: 3,
    model: { backbone: 'resnet18', stem: 'cifar', width: 1 / 16, projectorHiddenDim: 16, projectorDim: 8, predictorHiddenDim: 16 },
    optimizer: { name: 'sgd', lr: 0.05, scaleLr: false, momentum: 0.9 },
  });

const images = (steps: number) =>
  function* () {
    for (let i = 0; i < steps; i++) yield tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 100 + i) as tf.Tensor4D;
  };

const kernels = (m: tf.LayersModel) => m.weights.filter((w) => w.name.includes('kernel')).map((w) => Array.from(w.read().dataSync()));
const snapshot = (m: tf.LayersModel) => m.layers.flatMap((l) => l.weights).map((w) => Array.from(w.read().dataSync()));

describe('ByolExperiment', () => {
  it('is registered as method "byol" with target-init and ema as default callbacks', () => {
    const info = plugins.method('byol');
    expect(info.ctor).toBe(ByolExperiment);
    expect(info.defaultCallbacks?.map((c) => c.name)).toEqual(['target-init', 'ema']);
  });

  it('trains the online network only; the target moves only through the EMA; no tensor growth', async () => {
    const exp = tiny();
    const tau = 0.9;
    let targetAtStart: number[][] = [];
    let onlineAtStart: number[][] = [];
    const onlineAfterStep: number[][][] = [];
    const counts: number[] = [];
    exp.addCallback(
      new TargetInitCallback(),
      new EmaUpdateCallback({ tauBase: tau, schedule: 'constant' }),
      onExperimentStart({ name: 'snap', order: CallbackOrder.MODEL_INIT + 1 })((e) => {
        targetAtStart = kernels(e.models.get(BYOL_MODELS.targetEncoder)!);
        onlineAtStart = snapshot(e.models.get(BYOL_MODELS.onlineEncoder)!);
      }),
      // the online kernels after each optimizer step, before the EMA reads them
      onBatchEnd({ name: 'record', order: CallbackOrder.WEIGHT_UPDATE - 1 })((e) => {
        onlineAfterStep.push(kernels(e.models.get(BYOL_MODELS.onlineEncoder)!));
      }),
    );
    exp.events.on('batchEnd', () => counts.push(tf.memory().numTensors));
    const h = await exp.fit(images(4), { epochs: 1 });
    const target = exp.models.get(BYOL_MODELS.targetEncoder)!;
    // The target's kernels, replayed in float64 from the online ones: after step k,
    // target ← τ·target + (1 − τ)·online_k. Had the optimizer also moved the target (or the
    // EMA been skipped), this would not hold; τ < 1 so the EMA does move it.
    expect(onlineAfterStep).toHaveLength(4);
    const expected = targetAtStart.map((k, i) => k.map((v, j) => onlineAfterStep.reduce((t, online) => tau * t + (1 - tau) * online[i][j], v)));
    const got = kernels(target);
    let maxErr = 0;
    let maxMove = 0;
    got.forEach((k, i) => k.forEach((v, j) => {
      maxErr = Math.max(maxErr, Math.abs(v - expected[i][j]));
      maxMove = Math.max(maxMove, Math.abs(v - targetAtStart[i][j]));
    }));
    expect(maxMove).toBeGreaterThan(1e-4);
    expect(maxErr / maxMove).toBeLessThan(1e-4);
    expect(snapshot(exp.models.get(BYOL_MODELS.onlineEncoder)!)).not.toEqual(onlineAtStart);
    expect(Object.keys(h.history).sort()).toEqual(['loss', 'lr', 'tau', 'z_std']);
    expect(h.history.tau[0]).toBeCloseTo(tau, 6);
    // the symmetric loss is a sum of two terms in [0, 4]
    expect(h.history.loss[0]).toBeGreaterThan(0);
    expect(h.history.loss[0]).toBeLessThan(8);
    expect(h.history.z_std[0]).toBeGreaterThan(0);
    expect(h.history.lr[0]).toBeCloseTo(0.05, 10);
    expect(new Set(counts.slice(1)).size).toBe(1);
    exp.dispose();
  });

  it('optimizes exactly the online encoder, projector and predictor weights', async () => {
    const exp = tiny();
    await exp.setup();
    const names = exp.trainableVariables().map((v) => v.name);
    const prefixes = new Set(names.map((n) => n.split('/')[0]));
    expect([...prefixes].sort()).toEqual(['online_encoder', 'online_predictor', 'online_projector']);
    const expected = [BYOL_MODELS.onlineEncoder, BYOL_MODELS.onlineProjector, BYOL_MODELS.predictor].reduce(
      (s, n) => s + exp.models.get(n)!.trainableWeights.length,
      0,
    );
    expect(names).toHaveLength(expected);
    exp.dispose();
  });

  it('without a target network, says which callback to register', async () => {
    const exp = tiny();
    await expect(exp.fit(images(1), { epochs: 1 })).rejects.toThrow(
      'ByolExperiment: no model "target_encoder" — register the target-init callback (TargetInitCallback) or a MODEL_INIT hook that creates it',
    );
    exp.dispose();
  });

  it('scales the learning rate by batch/256 when asked', async () => {
    const exp = new ByolExperiment({ inputShape: [8, 8, 1], batchSize: 64, optimizer: { name: 'lars', lr: 0.4 }, model: { width: 1 / 16, projectorHiddenDim: 8, projectorDim: 4, predictorHiddenDim: 8 } });
    await exp.setup();
    expect(exp.baseLearningRate).toBeCloseTo(0.1, 12);
    exp.dispose();
  });

  it('optimizer.predictorLrMultiplier with predictorFixedLr: only the predictor moves, at 10× the base rate, when the schedule says 0', async () => {
    // One SGD step without momentum: Δw = −lr·g. Run A: plain (lr 0.05 everywhere). Run B: the
    // schedule sets the LR to 0, predictor multiplier 10, not scheduled → Δpredictor = 10·ΔA.
    const delta = async (optimizer: object, scheduledLr?: number) => {
      const exp = new ByolExperiment({ ...tiny().config, optimizer: { name: 'sgd', lr: 0.05, scaleLr: false, momentum: 0, ...optimizer } });
      const before: Record<string, number[][]> = {};
      exp.addCallback(
        new TargetInitCallback(),
        onExperimentStart({ name: 'snap', order: CallbackOrder.MODEL_INIT + 1 })((e) => {
          for (const n of [BYOL_MODELS.onlineEncoder, BYOL_MODELS.predictor]) before[n] = kernels(e.models.get(n)!);
          if (scheduledLr !== undefined) (e.optimizer as unknown as { setLearningRate(lr: number): void }).setLearningRate(scheduledLr);
        }),
      );
      await exp.fit(images(1), { epochs: 1 });
      const d = (n: string) => kernels(exp.models.get(n)!).flatMap((k, i) => k.map((v, j) => v - before[n][i][j]));
      const out = { encoder: d(BYOL_MODELS.onlineEncoder), predictor: d(BYOL_MODELS.predictor) };
      exp.dispose();
      return out;
    };
    const a = await delta({});
    const b = await delta({ predictorLrMultiplier: 10, predictorFixedLr: true }, 0);
    expect(b.encoder.every((v) => v === 0)).toBe(true);
    expect(a.predictor.some((v) => Math.abs(v) > 1e-6)).toBe(true);
    b.predictor.forEach((v, i) => expect(v).toBeCloseTo(10 * a.predictor[i], 5));
    // scheduled (not fixed): an LR of 0 stops the predictor too
    const c = await delta({ predictorLrMultiplier: 10 }, 0);
    expect(c.predictor.every((v) => v === 0)).toBe(true);
  });

  it('the same seed gives the same first-step loss; another seed another', async () => {
    const firstLoss = async (seed: number) => {
      const exp = new ByolExperiment({ ...tiny().config, seed });
      let loss = NaN;
      exp.addCallback(new TargetInitCallback(), onBatchEnd({ name: 'l' })(async (e) => { loss = (await e.state.logs.get('loss'))!; e.stop(); }));
      await exp.fit(images(1), { epochs: 1 });
      exp.dispose();
      return loss;
    };
    const a = await firstLoss(1);
    expect(await firstLoss(1)).toBe(a);
    expect(await firstLoss(2)).not.toBe(a);
  });

  describe('optimizer.microBatches', () => {
    // identity views, so that part i of a split batch is exactly the batch of its images alone
    const make = (microBatches: number) =>
      new ByolExperiment({
        ...tiny().config,
        augment: { t: new AugmentationPipeline({}), tPrime: new AugmentationPipeline({}) },
        optimizer: { name: 'sgd', lr: 0.05, scaleLr: false, momentum: 0, microBatches },
      });
    // a fresh tensor per call: the loop disposes the batches it is given
    const batch = () => tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    /** One step on `x`; returns the change of every trainable weight and the logged loss. */
    const oneStep = async (exp: ByolExperiment, x: tf.Tensor4D) => {
      await exp.setup();
      const before = exp.trainableVariables().map((v) => Array.from(v.dataSync()));
      let loss = NaN;
      const counts: number[] = [];
      exp.addCallback(new TargetInitCallback(), onBatchEnd({ name: 'l' })(async (e) => {
        loss = (await e.state.logs.get('loss'))!;
        counts.push(tf.memory().numTensors);
      }));
      await exp.fit(function* () { for (let i = 0; i < 3; i++) yield x.clone(); }, { epochs: 1, maxSteps: 3 });
      x.dispose();
      const after = exp.trainableVariables().map((v) => Array.from(v.dataSync()));
      exp.dispose();
      return { delta: after.map((w, i) => w.map((v, j) => v - before[i][j])), loss, counts };
    };

    it('averages the gradients of the parts: the update equals the mean of the updates of each half alone', async () => {
      const { split, maxDelta, maxErr } = await splitAgainstHalves(make, batch);
      expect(maxDelta).toBeGreaterThan(1e-4); // the step did move the weights
      expect(maxErr / maxDelta).toBeLessThan(1e-4);
      // and a whole-batch step is a different update (batch norm sees 8 rows, not 4)
      const whole = await oneStepDelta(make, 1, batch());
      const diff = Math.max(...whole.flatMap((w, i) => w.map((v, j) => Math.abs(v - split[i][j]))));
      expect(diff / maxDelta).toBeGreaterThan(1e-3);
    });

    it('keeps the tensor count flat across steps and logs a finite loss', async () => {
      const r = await oneStep(make(2), batch());
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.counts).toHaveLength(3);
      expect(new Set(r.counts.slice(1)).size).toBe(1);
    });

    it('rejects more micro-batches than the batch size before training, with the numbers to fix it', async () => {
      const exp = make(5);
      exp.addCallback(new TargetInitCallback());
      await expect(exp.fit(function* () { yield batch(); }, { epochs: 1 })).rejects.toThrow(
        'ByolExperiment: optimizer.microBatches (5) is larger than the batch size (4); use at most 4',
      );
      expect(exp.state.globalStep).toBe(0);
      exp.dispose();
    });

    it('splits a short last batch into one part per image', async () => {
      // 3 images with microBatches 4: three parts of one image each, so the update is the
      // mean of the updates of each image alone. Parts of [2, 1] images (or the whole batch)
      // give another update: batch norm over 2 rows is not batch norm over 1.
      const image = (from: number, count: number) => tf.tidy(() => tf.slice(batch(), [from], [count]) as tf.Tensor4D);
      const split = await oneStepDelta(make, 4, image(0, 3));
      const singles: number[][][] = [];
      for (let i = 0; i < 3; i++) singles.push(await oneStepDelta(make, 1, image(i, 1)));
      const pair = await oneStepDelta(make, 1, image(0, 2));
      let maxDelta = 0;
      let maxErr = 0;
      let maxOther = 0;
      split.forEach((w, i) => w.forEach((v, j) => {
        maxDelta = Math.max(maxDelta, Math.abs(v));
        maxErr = Math.max(maxErr, Math.abs(v - (singles[0][i][j] + singles[1][i][j] + singles[2][i][j]) / 3));
        maxOther = Math.max(maxOther, Math.abs(v - (pair[i][j] + singles[2][i][j]) / 2));
      }));
      expect(maxDelta).toBeGreaterThan(1e-4); // the step did move the weights
      expect(maxErr / maxDelta).toBeLessThan(1e-4);
      expect(maxOther / maxDelta).toBeGreaterThan(1e-3);
    });
  });
});
