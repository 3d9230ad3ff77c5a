import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@selfsup/core';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  applyColorJitter,
  applyGaussianBlur,
  applyGrayscale,
  applyHorizontalFlip,
  applyResizedCrop,
  applySolarize,
  ColorAdjustment,
  gaussianKernel1d,
  normalize,
  perSample,
  randomGaussianBlur,
  sampleColorJitter,
  sampleFlips,
  toGrayscale,
} from '../src/augment';
import { useBackend } from '../../../test/helpers/backend';

// Op-level checks on the cpu backend with tiny images; golden values are hand-computed
// (derivations in the comments) or from Python's colorsys for hue.

beforeAll(async () => {
  await useBackend('cpu');
});

const close = (actual: tf.Tensor, expected: number[] | Float32Array, tol = 1e-5) => {
  const a = actual.dataSync();
  expect(a.length).toBe(expected.length);
  a.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(tol));
};

/** Two pixels, p1 = (0.2, 0.4, 0.6), p2 = (0.8, 0.1, 0.5), as a 1×1×2×3 batch. */
const tinyImage = () => tf.tensor4d([0.2, 0.4, 0.6, 0.8, 0.1, 0.5], [1, 1, 2, 3]);
// Luma (0.2989, 0.587, 0.114): p1 → 0.05978 + 0.2348 + 0.0684 = 0.36298;
//                              p2 → 0.23912 + 0.0587 + 0.057  = 0.35482; mean 0.3589.

const randomImages = (shape: [number, number, number, number], seed: number) => tf.randomUniform(shape, 0, 1, 'float32', seed) as tf.Tensor4D;

describe('flip', () => {
  it('mirrors exactly the flagged samples and leaves the others untouched', () => {
    const x = randomImages([8, 16, 16, 3], 1);
    const flips = sampleFlips(8, new Rng(7), { p: 0.5 });
    expect(flips.some(Boolean) && !flips.every(Boolean)).toBe(true);
    const y = applyHorizontalFlip(x, flips);
    const mirrored = tf.reverse(x, 2);
    for (let i = 0; i < 8; i++) {
      const got = y.slice([i, 0, 0, 0], [1, 16, 16, 3]).dataSync();
      const want = (flips[i] ? mirrored : x).slice([i, 0, 0, 0], [1, 16, 16, 3]).dataSync();
      expect(Array.from(got)).toEqual(Array.from(want));
    }
    tf.dispose([x, y, mirrored]);
  });
});

describe('solarize', () => {
  it('inverts values >= threshold on chosen samples only', () => {
    const row = [0, 0.25, 0.4999, 0.5, 0.75, 1];
    const x = tf.tensor4d([...row, ...row], [2, 1, 6, 1]);
    const y = applySolarize(x, [true, false], 0.5);
    // 1 − 0.5 = 0.5, 1 − 0.75 = 0.25, 1 − 1 = 0; below 0.5 unchanged.
    expect(Array.from(y.dataSync())).toEqual(Array.from(new Float32Array([0, 0.25, 0.4999, 0.5, 0.25, 0, ...row])));
    tf.dispose([x, y]);
  });
});

describe('color adjustments', () => {
  it('brightness: x·b, clamped to [0, 1]', () => {
    const x = tinyImage();
    const y = adjustBrightness(x, perSample([1.5]));
    close(y, [0.3, 0.6, 0.9, 1.0, 0.15, 0.75]); // 0.8·1.5 = 1.2 → 1
    tf.dispose([x, y]);
  });

  it('contrast: blend with the mean luma of the image', () => {
    const x = tinyImage();
    const y = adjustContrast(x, perSample([0.5]));
    // 0.5·x + 0.5·0.3589
    close(y, [0.27945, 0.37945, 0.47945, 0.57945, 0.22945, 0.42945]);
    tf.dispose([x, y]);
  });

  it('saturation: blend with the pixel luma; grayscale is the luma on every channel', () => {
    const x = tinyImage();
    const y = adjustSaturation(x, perSample([2]));
    // 2x − luma: p1 → (0.03702, 0.43702, 0.83702); p2 → (1.24518 → 1, −0.15482 → 0, 0.64518)
    close(y, [0.03702, 0.43702, 0.83702, 1, 0, 0.64518]);
    const g = toGrayscale(x);
    close(g, [0.36298, 0.36298, 0.36298, 0.35482, 0.35482, 0.35482]);
    tf.dispose([x, y, g]);
  });

  it('random grayscale only touches chosen samples; 1-channel images pass through', () => {
    const x = tf.concat([tinyImage(), tinyImage()]) as tf.Tensor4D;
    const y = applyGrayscale(x, [false, true]);
    close(y, [0.2, 0.4, 0.6, 0.8, 0.1, 0.5, 0.36298, 0.36298, 0.36298, 0.35482, 0.35482, 0.35482]);
    const mono = tf.tensor4d([0.1, 0.9], [1, 1, 2, 1]);
    const same = applyGrayscale(mono, [true]);
    expect(Array.from(same.dataSync())).toEqual(Array.from(new Float32Array([0.1, 0.9])));
    tf.dispose([x, y, mono, same]);
  });

  it('hue: matches colorsys rgb→hsv, shift, hsv→rgb per sample', () => {
    // Python: colorsys.hsv_to_rgb((h + d) % 1, s, v) for (rgb, d):
    //   (0.2,0.4,0.6), +0.1  → (0.24, 0.20, 0.60)
    //   (0.8,0.1,0.5), −0.25 → (0.10, 0.15, 0.80)
    //   (0.9,0.9,0.3), +0.5  → (0.30, 0.30, 0.90)
    //   (0.3,0.3,0.3), +0.2  → (0.30, 0.30, 0.30)
    const x = tf.tensor4d([0.2, 0.4, 0.6, 0.8, 0.1, 0.5, 0.9, 0.9, 0.3, 0.3, 0.3, 0.3], [4, 1, 1, 3]);
    const y = adjustHue(x, perSample([0.1, -0.25, 0.5, 0.2]));
    close(y, [0.24, 0.2, 0.6, 0.1, 0.15, 0.8, 0.3, 0.3, 0.9, 0.3, 0.3, 0.3]);
    // Pure red rotated by 1/3 of the wheel is pure green.
    const red = tf.tensor4d([1, 0, 0], [1, 1, 1, 3]);
    const green = adjustHue(red, perSample([1 / 3]));
    close(green, [0, 1, 0]);
    tf.dispose([x, y, red, green]);
  });

  it.each(['per-sample', 'per-batch'] as const)('applies each sample its own factors in the %s order, like a per-image reference', (order) => {
    const n = 8;
    const x = randomImages([n, 6, 6, 3], 2);
    const params = sampleColorJitter(n, 3, new Rng(11), { p: 0.5, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.2, order });
    expect(params.applied.some((a) => !a)).toBe(true); // seed chosen so both cases occur
    const orders = new Set(params.order.filter((o) => o.length > 0).map((o) => o.join()));
    expect(orders.size).toBe(order === 'per-batch' ? 1 : Math.max(3, orders.size));
    const y = applyColorJitter(x, params);

    // Reference: one image at a time, adjustments in the sample's order.
    const fns: Record<ColorAdjustment, (img: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor4D> = {
      brightness: adjustBrightness,
      contrast: adjustContrast,
      saturation: adjustSaturation,
      hue: adjustHue,
    };
    for (let i = 0; i < n; i++) {
      const ref = tf.tidy(() => {
        let img = x.slice([i, 0, 0, 0], [1, 6, 6, 3]) as tf.Tensor4D;
        for (const adj of params.order[i]) img = fns[adj](img, perSample([params[adj][i]]));
        return img;
      });
      const got = y.slice([i, 0, 0, 0], [1, 6, 6, 3]);
      close(got, ref.dataSync() as Float32Array, 1e-6);
      if (!params.applied[i]) expect(Array.from(got.dataSync())).toEqual(Array.from(ref.dataSync()));
      tf.dispose([ref, got]);
    }
    tf.dispose([x, y]);
  });
});

describe('gaussian blur', () => {
  it('keeps a constant image constant (reflect padding) and leaves unchosen samples alone', () => {
    const x = tf.fill([3, 16, 16, 3], 0.3) as tf.Tensor4D;
    const y = applyGaussianBlur(x, { applied: [true, true, false], sigma: Float32Array.from([0.5, 2.0, 1.0]) }, 5);
    close(y, new Float32Array(3 * 16 * 16 * 3).fill(0.3), 1e-6);
    tf.dispose([x, y]);
  });

  it('spreads an impulse as the outer product of the 1-D taps', () => {
    // 7×7, 1 channel, impulse at (3, 3), kernel 3, σ = 1 → out[3+dy][3+dx] = t[dy]·t[dx].
    const data = new Float32Array(49);
    data[3 * 7 + 3] = 1;
    const x = tf.tensor4d(data, [1, 7, 7, 1]);
    const y = applyGaussianBlur(x, { applied: [true], sigma: Float32Array.from([1]) }, 3);
    const t = [0.2740686, 0.4518628, 0.2740686];
    const out = y.dataSync();
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) expect(out[(3 + dy) * 7 + 3 + dx]).toBeCloseTo(t[dy + 1] * t[dx + 1], 6);
    }
    expect(out[0]).toBe(0);
    tf.dispose([x, y]);
  });

  it('uses each sample its own σ (no mixing across the folded batch) and roughly keeps the mean', () => {
    const n = 6;
    const x = randomImages([n, 16, 16, 3], 3);
    const params = { applied: [true, true, true, false, true, true], sigma: Float32Array.from([0.1, 0.7, 1.3, 1.0, 2.0, 1.6]) };
    const y = applyGaussianBlur(x, params, 5);
    const taps = (s: number) => gaussianKernel1d(5, s);
    for (let i = 0; i < n; i++) {
      const single = x.slice([i, 0, 0, 0], [1, 16, 16, 3]) as tf.Tensor4D;
      const alone = applyGaussianBlur(single, { applied: [params.applied[i]], sigma: Float32Array.from([params.sigma[i]]) }, 5);
      const got = y.slice([i, 0, 0, 0], [1, 16, 16, 3]);
      close(got, alone.dataSync() as Float32Array, 1e-6);
      if (!params.applied[i]) expect(Array.from(got.dataSync())).toEqual(Array.from(single.dataSync()));
      // Blurring uniform noise keeps its mean (reflect padding only reweights the borders).
      expect(Math.abs(got.mean().dataSync()[0] - single.mean().dataSync()[0])).toBeLessThan(0.01);
      tf.dispose([single, alone, got]);
    }
    // σ = 2 smooths more than σ = 0.1 (whose taps are ≈ [0, 0, 1, 0, 0]).
    expect(taps(0.1)[2]).toBeGreaterThan(0.999);
    const std = (i: number) => tf.tidy(() => tf.moments(y.slice([i, 0, 0, 0], [1, 16, 16, 3])).variance.sqrt().dataSync()[0]);
    expect(std(4)).toBeLessThan(std(0) * 0.6);
    tf.dispose([x, y]);
  });

  it('shrinks a kernel wider than a tiny image instead of failing', () => {
    const x = randomImages([2, 3, 3, 1], 4);
    const y = randomGaussianBlur(x, new Rng(1), { p: 1, sigma: [1, 2], kernelSize: 23 });
    expect(y.shape).toEqual([2, 3, 3, 1]);
    tf.dispose([x, y]);
  });
});

describe('resized crop and normalize', () => {
  it('crops the window exactly when the output size equals the window size', () => {
    const x = randomImages([2, 16, 16, 3], 5);
    const windows = [
      { top: 4, left: 2, height: 8, width: 8, fallback: false },
      { top: 0, left: 0, height: 16, width: 16, fallback: true },
    ];
    const y = applyResizedCrop(x, windows, 8);
    const first = y.slice([0, 0, 0, 0], [1, 8, 8, 3]);
    close(first, x.slice([0, 4, 2, 0], [1, 8, 8, 3]).dataSync() as Float32Array, 1e-5);
    // The whole image resized to 8×8: output pixel o samples source 15·o/7, so the output's
    // corners are the source's corner pixels (the far corner 15·2^-18 px inside the edge, so
    // that no sample lands past it: see the next test).
    expect(y.shape).toEqual([2, 8, 8, 3]);
    const corners = (t: tf.Tensor, i: number, last: number) =>
      [t.slice([i, 0, 0, 0], [1, 1, 1, 3]), t.slice([i, last, last, 0], [1, 1, 1, 3])].flatMap((c) => Array.from(c.dataSync()));
    const got = corners(y, 1, 7);
    corners(x, 1, 15).forEach((v, k) => expect(got[k]).toBeCloseTo(v, 3));
    tf.dispose([x, y, first]);
  });

  it('never samples past the image edge: a window on the last row/column keeps its edge pixels', async () => {
    // tfjs's cropAndResize writes 0 (its extrapolation value) where float rounding puts the
    // last sample a hair past the image edge; seen on wasm and cpu for 14 px outputs.
    const sizes: Array<[number, number]> = [[28, 14], [28, 13], [28, 27], [28, 9], [32, 14]];
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      for (const [side, out] of sizes) {
        const windows = [];
        for (let top = 0; top < side - 2; top += 3) for (const h of [side - top, Math.max(2, side - top - 1)]) windows.push({ top, left: side - h, height: h, width: h, fallback: false });
        const x = tf.ones([windows.length, side, side, 1]) as tf.Tensor4D;
        const y = applyResizedCrop(x, windows, out);
        const min = tf.min(y);
        expect({ backend, side, out, min: min.dataSync()[0] }).toEqual({ backend, side, out, min: 1 });
        tf.dispose([x, y, min]);
      }
    }
    await useBackend('cpu');
  });

  it('normalizes per channel', () => {
    const x = tinyImage();
    const y = normalize(x, { mean: [0.5, 0.4, 0.3], std: [0.5, 0.2, 0.1] });
    // ((0.2−0.5)/0.5, (0.4−0.4)/0.2, (0.6−0.3)/0.1) = (−0.6, 0, 3); ((0.8−0.5)/0.5, (0.1−0.4)/0.2, (0.5−0.3)/0.1) = (0.6, −1.5, 2)
    close(y, [-0.6, 0, 3, 0.6, -1.5, 2]);
    expect(() => normalize(x, { mean: [0.5, 0.5], std: [1, 1] })).toThrow(/mean has 2 and std 2 values but the images have 3 channel/);
    tf.dispose([x, y]);
  });
});
