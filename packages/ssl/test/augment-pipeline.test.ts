import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@selfsup/core';
import {
  AugmentationPipeline,
  buildViewPipelines,
  byolSmallGrayViewT,
  byolSmallGrayViewTPrime,
  byolViewT,
  byolViewTPrime,
  twoViews,
} from '../src/augment';
import { useBackend } from '../../../test/helpers/backend';

// The whole pipelines on the wasm backend (the project's default), 8×16×16×3 batches.

beforeAll(async () => {
  await useBackend('wasm');
});

const images = (n: number, side: number, channels: number, seed: number) => tf.randomUniform([n, side, side, channels], 0, 1, 'float32', seed) as tf.Tensor4D;

const sampleData = (t: tf.Tensor, i: number) => {
  const [, h, w, c] = t.shape;
  return tf.tidy(() => Array.from(t.slice([i, 0, 0, 0], [1, h, w, c]).dataSync()));
};

const T = new AugmentationPipeline(byolViewT(12));
const TP = new AugmentationPipeline(byolViewTPrime(12));

describe('AugmentationPipeline', () => {
  it('gives shape [N, size, size, C] with values in [0, 1] for T and T′', () => {
    const x = images(8, 16, 3, 1);
    for (const pipe of [T, TP]) {
      const y = pipe.apply(x, new Rng(3));
      expect(y.shape).toEqual([8, 12, 12, 3]);
      expect(y.dtype).toBe('float32');
      expect(y.min().dataSync()[0]).toBeGreaterThanOrEqual(0);
      expect(y.max().dataSync()[0]).toBeLessThanOrEqual(1);
      y.dispose();
    }
    expect(x.isDisposed).toBe(false);
    x.dispose();
  });

  it('gives every sample of a batch of identical images its own augmentation', () => {
    const one = images(1, 16, 3, 2);
    const x = tf.tile(one, [8, 1, 1, 1]) as tf.Tensor4D;
    const y = T.apply(x, new Rng(4));
    const rows = Array.from({ length: 8 }, (_, i) => sampleData(y, i).join());
    expect(new Set(rows).size).toBe(8);
    tf.dispose([one, x, y]);
  });

  it('reproduces views from the same seed and changes them with another seed', () => {
    const x = images(8, 16, 3, 5);
    const a = TP.apply(x, new Rng(42));
    const b = TP.apply(x, new Rng(42));
    const c = TP.apply(x, new Rng(43));
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(c.dataSync()));
    // Resuming from a saved RNG state replays the same draw.
    const rng = new Rng(7);
    T.apply(x, rng).dispose();
    const state = rng.getState();
    const d = T.apply(x, rng);
    rng.setState(state);
    const e = T.apply(x, rng);
    expect(Array.from(d.dataSync())).toEqual(Array.from(e.dataSync()));
    tf.dispose([x, a, b, c, d, e]);
  });

  it('matches the cpu backend for the same seed', async () => {
    const x = images(4, 16, 3, 6);
    const wasmOut = TP.apply(x, new Rng(9));
    const wasmValues = wasmOut.dataSync().slice();
    const pixels = x.dataSync().slice();
    tf.dispose([x, wasmOut]);
    await useBackend('cpu');
    try {
      const xc = tf.tensor4d(pixels, [4, 16, 16, 3]);
      const cpuOut = TP.apply(xc, new Rng(9));
      const cpuValues = cpuOut.dataSync();
      let maxDiff = 0;
      cpuValues.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - wasmValues[i]))));
      expect(maxDiff).toBeLessThan(1e-4);
      tf.dispose([xc, cpuOut]);
    } finally {
      await useBackend('wasm');
    }
  });

  it('handles 1-channel 28×28 data with the small-gray presets', () => {
    const x = images(4, 28, 1, 8);
    const rng = new Rng(1);
    const [v1, v2] = twoViews(x, new AugmentationPipeline(byolSmallGrayViewT()), new AugmentationPipeline(byolSmallGrayViewTPrime()), rng);
    for (const v of [v1, v2]) {
      expect(v.shape).toEqual([4, 28, 28, 1]);
      expect(v.min().dataSync()[0]).toBeGreaterThanOrEqual(0);
      expect(v.max().dataSync()[0]).toBeLessThanOrEqual(1);
    }
    tf.dispose([x, v1, v2]);
  });

  it('twoViews draws T then T′ from one stream', () => {
    const x = images(8, 16, 3, 10);
    const [v1, v2] = twoViews(x, T, TP, new Rng(5));
    const replay = new Rng(5);
    const r1 = T.apply(x, replay);
    const r2 = TP.apply(x, replay);
    expect(Array.from(v1.dataSync())).toEqual(Array.from(r1.dataSync()));
    expect(Array.from(v2.dataSync())).toEqual(Array.from(r2.dataSync()));
    expect(Array.from(v1.dataSync())).not.toEqual(Array.from(v2.dataSync()));
    tf.dispose([x, v1, v2, r1, r2]);
  });

  it('normalizes last and returns a fresh tensor even when nothing applies', () => {
    const x = images(2, 8, 3, 11);
    const norm = new AugmentationPipeline({ solarize: { p: 0, threshold: 0.5 }, normalize: { mean: [0.5], std: [0.25] } });
    const y = norm.apply(x, new Rng(1));
    const want = Array.from(x.dataSync(), (v) => Math.fround((Math.fround(v - 0.5)) / 0.25));
    Array.from(y.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    const identity = new AugmentationPipeline({});
    const z = identity.apply(x, new Rng(1));
    expect(z).not.toBe(x);
    z.dispose();
    expect(x.isDisposed).toBe(false);
    tf.dispose([x, y]);
  });

  it('rejects images that are not float NHWC with 1 or 3 channels', () => {
    const bad = tf.zeros([2, 8, 8, 4]) as tf.Tensor4D;
    expect(() => T.apply(bad, new Rng(1))).toThrow(/expected float32 NHWC images with 1 or 3 channels.*shape \[2, 8, 8, 4\]/);
    bad.dispose();
  });

  it('does not grow the tensor count across repeated calls, also inside tf.tidy', () => {
    const x = images(8, 16, 3, 12);
    const { t, tPrime } = buildViewPipelines({ preset: 'byol', size: 12, tPrime: { blur: { p: 1 }, solarize: { p: 1 } } }, { size: 16, channels: 3 });
    const rng = new Rng(13);
    const step = () => {
      const loss = tf.tidy(() => {
        const [v1, v2] = twoViews(x, t, tPrime, rng);
        return tf.sub(v1, v2).square().mean();
      });
      loss.dataSync();
      loss.dispose();
      const [a, b] = twoViews(x, t, tPrime, rng);
      tf.dispose([a, b]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
