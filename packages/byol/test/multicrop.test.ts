import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CallbackOrder,
  FashionMnistDataset,
  loadLayersModelFromDir,
  onBatchEnd,
  onExperimentStart,
  Rng,
  saveLayersModel,
  type ImageBatch,
} from '@selfsup/core';
import { EmaUpdateCallback, TargetInitCallback } from '@selfsup/callbacks';
import { splitAgainstHalves } from './micro-batch-check';
import {
  AugmentationPipeline,
  BYOL_MODELS,
  ByolExperiment,
  buildViewPipelines,
  byolSmallGrayViewT,
  localCropViews,
  multiCropByolLoss,
  resolveLocalCrops,
  symmetricByolLoss,
} from '../src';
import { useBackend } from '../../../test/helpers/backend';

// The training kernels (conv gradients) of the project's wasm backend.
let tmp: string;
beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-multicrop-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------
// The loss, against a float64 reference written with plain loops

type Rows = number[][];
const rows = (rng: Rng, n: number, d: number): Rows => Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));

/** mean over rows of 2 − 2·cos(p_i, z_i), float64. */
function refPairLoss(p: Rows, z: Rows): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    let dot = 0;
    let pp = 0;
    let zz = 0;
    for (let j = 0; j < p[i].length; j++) {
      dot += p[i][j] * z[i][j];
      pp += p[i][j] * p[i][j];
      zz += z[i][j] * z[i][j];
    }
    sum += 2 - (2 * dot) / (Math.sqrt(pp) * Math.sqrt(zz));
  }
  return sum / p.length;
}

/** 2 × mean over the pairs (g1→z2, g2→z1, every local crop → z1 and → z2). */
function refMultiCropLoss(p1: Rows, p2: Rows, z1: Rows, z2: Rows, locals: Rows[]): number {
  const terms = [refPairLoss(p1, z2), refPairLoss(p2, z1)];
  for (const pl of locals) terms.push(refPairLoss(pl, z1), refPairLoss(pl, z2));
  return (2 * terms.reduce((a, b) => a + b, 0)) / terms.length;
}

const t2 = (r: Rows) => tf.tensor2d(r);

describe('multiCropByolLoss', () => {
  const rng = new Rng(11);
  const N = 3;
  const D = 5;
  const [p1, p2, z1, z2] = [rows(rng, N, D), rows(rng, N, D), rows(rng, N, D), rows(rng, N, D)];
  const locals = [rows(rng, N, D), rows(rng, N, D)]; // 2 local crops

  it('equals the float64 reference: 2 × mean over the 2 + 2·count pairs', async () => {
    const expected = refMultiCropLoss(p1, p2, z1, z2, locals);
    // crop-major rows: crop 0 of images 0..N−1, then crop 1
    const loss = multiCropByolLoss(t2(p1), t2(z2), t2(p2), t2(z1), t2([...locals[0], ...locals[1]]));
    expect(Math.abs((await loss.data())[0] - expected)).toBeLessThan(1e-5 * expected);
    // a wrong pairing (each local crop with one target view only) would differ
    const oneSided = (2 * (refPairLoss(p1, z2) + refPairLoss(p2, z1) + refPairLoss(locals[0], z1) + refPairLoss(locals[1], z2))) / 4;
    expect(Math.abs(oneSided - expected)).toBeGreaterThan(1e-3);
  });

  it('without local crops it is the symmetric loss (sum of both directions), exactly', async () => {
    const a = await multiCropByolLoss(t2(p1), t2(z2), t2(p2), t2(z1)).data();
    const b = await symmetricByolLoss(t2(p1), t2(z2), t2(p2), t2(z1)).data();
    expect(a[0]).toBe(b[0]);
    expect(Math.abs(a[0] - (refPairLoss(p1, z2) + refPairLoss(p2, z1)))).toBeLessThan(1e-5);
  });

  it('no gradient reaches the target projections; the predictions get one', () => {
    const zs = [t2(z1), t2(z2)];
    const pl = t2([...locals[0], ...locals[1]]);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, l: tf.Tensor) => multiCropByolLoss(t2(p1), b as tf.Tensor2D, t2(p2), a as tf.Tensor2D, l as tf.Tensor2D))([
      zs[0],
      zs[1],
      pl,
    ]);
    expect(Array.from(grads[0].dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(grads[1].dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(grads[2].dataSync()).some((v) => Math.abs(v) > 1e-4)).toBe(true);
  });

  it('rejects local predictions that are not [count·N, dim]', () => {
    expect(() => multiCropByolLoss(t2(p1), t2(z2), t2(p2), t2(z1), t2(locals[0].slice(0, 2)))).toThrow(
      'multiCropByolLoss: local predictions must be [count·N, dim] for N = 3 images of dim 5, got [2,5].',
    );
  });
});

// ---------------------------------------------------------------------------------------
// Config

describe('augment.localCrops', () => {
  const t = byolSmallGrayViewT(28);
  const section = (localCrops: unknown) => ({ preset: 'byol-small-gray' as const, localCrops: localCrops as never });

  it('builds a local view from T: its other ops, the local crop at its own size', () => {
    const { t: tp, local } = buildViewPipelines(section({ count: 4, size: 14, scale: [0.05, 0.4] }), { size: 28, channels: 1 });
    expect(local!.count).toBe(4);
    const { crop, ...rest } = local!.pipeline.config;
    const { crop: tCrop, ...tRest } = tp.config;
    expect(crop).toEqual({ size: 14, scale: [0.05, 0.4], ratio: tCrop!.ratio });
    expect(rest).toEqual(tRest); // flip, colour jitter, blur, solarize as T
    expect(resolveLocalCrops(section({ count: 1, size: 4, scale: [0.1, 1], ratio: [0.5, 2] }), t, 28)!.config.crop!.ratio).toEqual([0.5, 2]);
    expect(resolveLocalCrops(section(undefined), t, 28)).toBeUndefined();
    expect(resolveLocalCrops(section(null), t, 28)).toBeUndefined();
  });

  it('rejects bad values naming the key and the value', () => {
    const bad = (lc: unknown) => () => resolveLocalCrops(section(lc), t, 28);
    const ok = { count: 4, size: 14, scale: [0.05, 0.4] };
    expect(bad({ ...ok, count: 0 })).toThrow('augment.localCrops.count = 0; expected an integer >= 1');
    expect(bad({ ...ok, count: 1.5 })).toThrow('augment.localCrops.count = 1.5; expected an integer >= 1');
    expect(bad({ ...ok, count: undefined })).toThrow('augment.localCrops.count = undefined');
    expect(bad({ ...ok, size: 3 })).toThrow('augment.localCrops.size = 3; expected an integer in [4, 28]');
    expect(bad({ ...ok, size: 29 })).toThrow("augment.localCrops.size = 29; expected an integer in [4, 28] (output side in pixels, at most the global views' 28)");
    expect(bad({ ...ok, scale: [0, 0.4] })).toThrow('augment.localCrops.scale = [0,0.4]; expected [min, max] with 0 < min <= max <= 1');
    expect(bad({ ...ok, scale: [0.1, 1.5] })).toThrow('augment.localCrops.scale = [0.1,1.5]');
    expect(bad({ ...ok, scale: [0.4, 0.1] })).toThrow('augment.localCrops.scale = [0.4,0.1]');
    expect(bad({ ...ok, ratio: [0, 1] })).toThrow('augment.localCrops.ratio = [0,1]');
    expect(bad({ ...ok, sizes: 14 })).toThrow('unknown key augment.localCrops.sizes; allowed keys are: count, size, scale, ratio.');
    expect(bad(4)).toThrow('augment.localCrops = 4; expected a mapping { count, size, scale, ratio? }, or null for none');
    // the global side is the crop size of T when augment.size changes it
    expect(() => buildViewPipelines({ ...section({ ...ok, size: 20 }), size: 16 }, { size: 28, channels: 1 })).toThrow('augment.localCrops.size = 20; expected an integer in [4, 16]');
  });

  it('localCropViews: count crops per image in one batched call, crop-major', async () => {
    // a crop of the whole image (scale 1, ratio 1) resized to 4×4: deterministic, so rows can be compared
    const whole = new AugmentationPipeline({ crop: { size: 4, scale: [1, 1], ratio: [1, 1] } });
    const images = tf.randomUniform([2, 8, 8, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const v = localCropViews(images, whole, 3, new Rng(1));
    expect(v.shape).toEqual([6, 4, 4, 1]);
    const resized = tf.image.resizeBilinear(images, [4, 4], true);
    const r = await resized.data();
    const got = await v.data();
    // row c·2 + i is image i (crop-major; image-major would repeat each image 3 times in a row);
    // cropAndResize and resizeBilinear agree up to float rounding
    for (let c = 0; c < 3; c++) for (let i = 0; i < 2 * 16; i++) expect(got[c * 32 + i]).toBeCloseTo(r[i], 4);
    expect(Math.max(...Array.from({ length: 16 }, (_, j) => Math.abs(r[j] - r[16 + j])))).toBeGreaterThan(0.01);
    tf.dispose([images, v, resized]);
  });
});

// ---------------------------------------------------------------------------------------
// The step

const tinyConfig = (augment: object, optimizer: object = {}) => ({
  inputShape: [8, 8, 1] as [number, number, number],
  batchSize: 4,
  seed: 3,
  model: { backbone: 'resnet18' as const, stem: 'cifar' as const, width: 1 / 16, projectorHiddenDim: 16, projectorDim: 8, predictorHiddenDim: 16 },
  optimizer: { name: 'sgd' as const, lr: 0.05, scaleLr: false, momentum: 0.9, ...optimizer },
  augment,
});
const LOCAL = { preset: 'byol-small-gray', size: 8, localCrops: { count: 3, size: 4, scale: [0.1, 0.5] } };
const kernels = (m: tf.LayersModel) => m.weights.filter((w) => w.name.includes('kernel')).map((w) => Array.from(w.read().dataSync()));
const snapshot = (m: tf.LayersModel) => m.layers.flatMap((l) => l.weights).map((w) => Array.from(w.read().dataSync()));
const images = (steps: number) =>
  function* () {
    for (let i = 0; i < steps; i++) yield tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 100 + i) as tf.Tensor4D;
  };

describe('ByolExperiment with localCrops', () => {
  it('views: two global views [2N, 8, 8, 1]; local crops [count·N, 4, 4, 1]', async () => {
    const exp = new ByolExperiment(tinyConfig(LOCAL));
    await exp.setup();
    expect(exp.localCropCount).toBe(3);
    const x = tf.randomUniform([4, 8, 8, 1]) as tf.Tensor4D;
    const g = exp.views(x);
    const l = exp.localViews(x)!;
    expect(g.shape).toEqual([8, 8, 8, 1]);
    expect(l.shape).toEqual([12, 4, 4, 1]);
    const plain = new ByolExperiment(tinyConfig({ preset: 'byol-small-gray', size: 8 }));
    await plain.setup();
    expect(plain.localViews(x)).toBeUndefined();
    expect(plain.localCropCount).toBe(0);
    tf.dispose([x, g, l]);
    exp.dispose();
    plain.dispose();
  });

  it('trains the online network only (target kernels move only through the EMA), keeps the tensor count flat', async () => {
    const exp = new ByolExperiment(tinyConfig(LOCAL));
    let targetAtStart: number[][] = [];
    let onlineAtStart: number[][] = [];
    const counts: number[] = [];
    exp.addCallback(
      new TargetInitCallback(),
      new EmaUpdateCallback({ tauBase: 1, schedule: 'constant' }), // τ = 1: the EMA leaves the target as it is
      onExperimentStart({ name: 'snap', order: CallbackOrder.MODEL_INIT + 1 })((e) => {
        targetAtStart = kernels(e.models.get(BYOL_MODELS.targetEncoder)!).concat(kernels(e.models.get(BYOL_MODELS.targetProjector)!));
        onlineAtStart = snapshot(e.models.get(BYOL_MODELS.onlineEncoder)!);
      }),
    );
    exp.events.on('batchEnd', () => counts.push(tf.memory().numTensors));
    const h = await exp.fit(images(5), { epochs: 1 });
    const target = kernels(exp.models.get(BYOL_MODELS.targetEncoder)!).concat(kernels(exp.models.get(BYOL_MODELS.targetProjector)!));
    expect(target).toEqual(targetAtStart);
    expect(snapshot(exp.models.get(BYOL_MODELS.onlineEncoder)!)).not.toEqual(onlineAtStart);
    expect(h.history.loss[0]).toBeGreaterThan(0);
    expect(h.history.loss[0]).toBeLessThan(8);
    expect(h.history.z_std[0]).toBeGreaterThan(0);
    expect(counts).toHaveLength(5);
    expect(new Set(counts.slice(1)).size).toBe(1);
    exp.dispose();
  });

  it('with microBatches: the update is the mean of the updates of each half alone (each half with all its crops)', async () => {
    // deterministic views (identity global views, whole-image local crops) so the halves see the same pixels
    const augment = {
      t: new AugmentationPipeline({}),
      tPrime: new AugmentationPipeline({}),
      local: { count: 2, pipeline: new AugmentationPipeline({ crop: { size: 4, scale: [1, 1], ratio: [1, 1] } }) },
    };
    const batch = () => tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const { maxDelta, maxErr } = await splitAgainstHalves((micro) => new ByolExperiment(tinyConfig(augment, { momentum: 0, microBatches: micro })), batch);
    expect(maxDelta).toBeGreaterThan(1e-4);
    expect(maxErr / maxDelta).toBeLessThan(1e-4);
  });

  it('microBatches with localCrops keeps the tensor count flat', async () => {
    const exp = new ByolExperiment(tinyConfig(LOCAL, { microBatches: 2 }));
    const counts: number[] = [];
    exp.addCallback(new TargetInitCallback());
    exp.events.on('batchEnd', () => counts.push(tf.memory().numTensors));
    const h = await exp.fit(images(4), { epochs: 1 });
    expect(Number.isFinite(h.history.loss[0])).toBe(true);
    expect(new Set(counts.slice(1)).size).toBe(1);
    exp.dispose();
  });

  it('a bring-your-own encoder that cannot take the local crop size fails at setup, saying so', async () => {
    const input = tf.input({ shape: [8, 8, 1] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const encoder = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 6 }).apply(flat) as tf.SymbolicTensor, name: 'mlp' });
    const exp = new ByolExperiment({ ...tinyConfig(LOCAL), encoder });
    await expect(exp.setup()).rejects.toThrow('ByolExperiment: augment.localCrops.size = 4: the encoder "mlp" does not take 4×4 inputs');
    exp.dispose();
  });

  it('one real step on Fashion-MNIST (28×28, the main job model) with 4 local crops of 14 px; the export loads and gives the same features', async () => {
    const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit: 32, log: () => {} });
    const exp = new ByolExperiment({
      batchSize: 16,
      seed: 0,
      model: { width: 1 / 8, projectorHiddenDim: 256, projectorDim: 64, predictorHiddenDim: 256 },
      augment: { preset: 'byol-small-gray', localCrops: { count: 4, size: 14, scale: [0.05, 0.4] } },
      optimizer: { name: 'lars', lr: 1.0, scaleLr: true, weightDecay: 1e-5, eta: 0.02, clipTrustRatio: true },
    });
    exp.datasets.set('train', train);
    exp.addCallback(new TargetInitCallback(), new EmaUpdateCallback({ tauBase: 0.9 }));
    const h = await exp.fit(({ epoch }) => train.batches({ batchSize: 16, shuffle: true, seed: 0, epoch, dropRemainder: true }) as AsyncIterable<ImageBatch>, {
      epochs: 1,
      stepsPerEpoch: 2,
    });
    expect(h.history.loss[0]).toBeGreaterThan(0);
    expect(h.history.loss[0]).toBeLessThan(8);
    // the encoder is unchanged by multi-crop: a 28×28 model that tf.loadLayersModel reads back
    const dir = path.join(tmp, 'encoder');
    await saveLayersModel(exp.encoder, dir);
    const loaded = await loadLayersModelFromDir(dir);
    expect(loaded.inputs[0].shape).toEqual([null, 28, 28, 1]);
    const x = (await train.batches({ batchSize: 8 }).next()).value as ImageBatch;
    const a = await (exp.encoder.predict(x.images) as tf.Tensor).data();
    const b = await (loaded.predict(x.images) as tf.Tensor).data();
    expect(b.length).toBe(8 * 64);
    b.forEach((v, i) => expect(v).toBeCloseTo(a[i], 5));
    loaded.dispose();
    exp.dispose();
  });
});
