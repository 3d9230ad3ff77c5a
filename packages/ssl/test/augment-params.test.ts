import { describe, expect, it } from 'vitest';
import { Rng } from '@selfsup/core';
import {
  AugmentationPipeline,
  blurKernelSize,
  byolSmallGrayViewT,
  byolSmallGrayViewTPrime,
  byolViewT,
  byolViewTPrime,
  cropWindowsToBoxes,
  gaussianKernel1d,
  resolveAugmentSection,
  sampleBlur,
  sampleColorJitter,
  sampleCropWindow,
  sampleCropWindows,
} from '../src/augment';

// Pure-JS parameter sampling: no tensors involved.

describe('random resized crop parameters', () => {
  it('keeps thousands of windows inside the image with area and aspect in range', () => {
    const rng = new Rng(1);
    const H = 224;
    const W = 224;
    const scale: [number, number] = [0.08, 1];
    const ratio: [number, number] = [3 / 4, 4 / 3];
    const windows = sampleCropWindows(5000, H, W, rng, { scale, ratio });
    const areas: number[] = [];
    let wide = 0;
    for (const w of windows) {
      expect(w.top).toBeGreaterThanOrEqual(0);
      expect(w.left).toBeGreaterThanOrEqual(0);
      expect(w.top + w.height).toBeLessThanOrEqual(H);
      expect(w.left + w.width).toBeLessThanOrEqual(W);
      expect(Number.isInteger(w.top) && Number.isInteger(w.height)).toBe(true);
      if (w.fallback) continue;
      // Sides are rounded to whole pixels: at >= 0.08·224² px a side is >= ~55 px, so the
      // rounding moves area and aspect by < 2%; 3% is the allowance.
      const area = (w.height * w.width) / (H * W);
      const aspect = w.width / w.height;
      expect(area).toBeGreaterThanOrEqual(scale[0] * 0.97);
      expect(area).toBeLessThanOrEqual(scale[1] * 1.03);
      expect(aspect).toBeGreaterThanOrEqual(ratio[0] * 0.97);
      expect(aspect).toBeLessThanOrEqual(ratio[1] * 1.03);
      areas.push(area);
      if (aspect > 1) wide++;
    }
    // The ranges are actually covered (sampling spans them, not a constant).
    expect(Math.min(...areas)).toBeLessThan(0.1);
    expect(Math.max(...areas)).toBeGreaterThan(0.95);
    // log-uniform aspect over a range symmetric in log: about half the crops are wider than tall.
    expect(wide / areas.length).toBeGreaterThan(0.45);
    expect(wide / areas.length).toBeLessThan(0.55);
    // Per-sample: the positions differ across a batch.
    expect(new Set(windows.slice(0, 8).map((w) => `${w.top},${w.left},${w.height},${w.width}`)).size).toBeGreaterThan(4);
  });

  it('converts windows to cropAndResize boxes inside [0, 1] with corners on pixel centers', () => {
    const windows = sampleCropWindows(3000, 16, 24, new Rng(2), { scale: [0.08, 1], ratio: [3 / 4, 4 / 3] });
    const boxes = cropWindowsToBoxes(windows, 16, 24);
    for (let i = 0; i < windows.length; i++) {
      const [y1, x1, y2, x2] = boxes.subarray(i * 4, i * 4 + 4);
      for (const v of [y1, x1, y2, x2]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      expect(y2).toBeGreaterThanOrEqual(y1);
      expect(x2).toBeGreaterThanOrEqual(x1);
    }
    // Hand-computed: window rows 4..11, cols 2..9 of a 16×24 image → [4/15, 2/23, 11/15, 9/23].
    const one = cropWindowsToBoxes([{ top: 4, left: 2, height: 8, width: 8, fallback: false }], 16, 24);
    expect(Array.from(one)).toEqual(Array.from(new Float32Array([4 / 15, 2 / 23, 11 / 15, 9 / 23])));
  });

  it('falls back to a ratio-clamped center crop after 10 misses', () => {
    // No crop of >= 90% of a 10×100 image has aspect <= 4/3, so all 10 tries miss. torchvision:
    // in_ratio 10 > 4/3 → h = 10, w = round(10·4/3) = 13, left = (100 − 13) // 2 = 43.
    const w = sampleCropWindow(10, 100, new Rng(3), [0.9, 1], [3 / 4, 4 / 3]);
    expect(w).toEqual({ top: 0, left: 43, height: 10, width: 13, fallback: true });
    // Aspect inside the range → the whole image.
    const whole = sampleCropWindow(4, 4, new Rng(3), [5, 6], [3 / 4, 4 / 3]);
    expect(whole).toEqual({ top: 0, left: 0, height: 4, width: 4, fallback: true });
  });
});

describe('color jitter and blur parameters', () => {
  const config = { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 };

  it('draws its own factors and order per sample, within torchvision ranges', () => {
    const n = 2000;
    const params = sampleColorJitter(n, 3, new Rng(4), config);
    const applied = params.applied.filter(Boolean).length;
    expect(applied / n).toBeGreaterThan(0.76);
    expect(applied / n).toBeLessThan(0.84);
    const orders = new Set<string>();
    for (let i = 0; i < n; i++) {
      if (!params.applied[i]) {
        expect([params.brightness[i], params.contrast[i], params.saturation[i], params.hue[i]]).toEqual([1, 1, 1, 0]);
        expect(params.order[i]).toEqual([]);
        continue;
      }
      expect(params.brightness[i]).toBeGreaterThanOrEqual(0.6 - 1e-6);
      expect(params.brightness[i]).toBeLessThanOrEqual(1.4 + 1e-6);
      expect(params.contrast[i]).toBeGreaterThanOrEqual(0.6 - 1e-6);
      expect(params.saturation[i]).toBeGreaterThanOrEqual(0.8 - 1e-6);
      expect(params.saturation[i]).toBeLessThanOrEqual(1.2 + 1e-6);
      expect(Math.abs(params.hue[i])).toBeLessThanOrEqual(0.1 + 1e-6);
      expect([...params.order[i]].sort()).toEqual(['brightness', 'contrast', 'hue', 'saturation']);
      orders.add(params.order[i].join());
    }
    // All 24 permutations show up: the order is random per sample.
    expect(orders.size).toBe(24);
    expect(new Set(Array.from(params.brightness.subarray(0, 8))).size).toBeGreaterThan(4);
  });

  it('drops saturation and hue on 1-channel images', () => {
    const params = sampleColorJitter(50, 1, new Rng(5), { ...config, p: 1 });
    for (let i = 0; i < 50; i++) {
      expect([...params.order[i]].sort()).toEqual(['brightness', 'contrast']);
      expect(params.saturation[i]).toBe(1);
      expect(params.hue[i]).toBe(0);
    }
  });

  it('draws σ per sample in range', () => {
    const { applied, sigma } = sampleBlur(1000, new Rng(6), { p: 0.1, sigma: [0.1, 2.0] });
    expect(applied.filter(Boolean).length).toBeGreaterThan(70);
    expect(applied.filter(Boolean).length).toBeLessThan(130);
    for (const s of sigma) {
      expect(s).toBeGreaterThanOrEqual(0.1 - 1e-6);
      expect(s).toBeLessThan(2.0 + 1e-6);
    }
    expect(new Set(Array.from(sigma.subarray(0, 8))).size).toBe(8);
  });

  it('builds odd kernels of ~10% of the side and normalized gaussian taps', () => {
    expect(blurKernelSize(224)).toBe(23); // the paper's 23×23 at 224 px
    expect(blurKernelSize(96)).toBe(11);
    expect(blurKernelSize(32)).toBe(3);
    expect(blurKernelSize(16)).toBe(3);
    // σ = 1, 3 taps: [e^−½, 1, e^−½] / (1 + 2e^−½) = [0.2740686, 0.4518628, 0.2740686] (by hand).
    const taps = gaussianKernel1d(3, 1);
    expect(taps[0]).toBeCloseTo(0.2740686, 6);
    expect(taps[1]).toBeCloseTo(0.4518628, 6);
    expect(taps[2]).toBeCloseTo(0.2740686, 6);
  });
});

describe('configs, presets and validation', () => {
  it('presets carry the paper defaults (Table 6)', () => {
    const t = byolViewT(224);
    const tp = byolViewTPrime(224);
    expect(t.crop).toEqual({ size: 224, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] });
    expect([t.blur?.p, tp.blur?.p]).toEqual([1.0, 0.1]);
    expect([t.solarize?.p, tp.solarize?.p]).toEqual([0, 0.2]);
    expect(t.colorJitter).toEqual({ p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 });
    expect([t.grayscale?.p, t.flip?.p]).toEqual([0.2, 0.5]);
    const g = byolSmallGrayViewT();
    expect(g.crop?.scale).toEqual([0.2, 1]);
    expect(g.crop?.size).toBe(28);
    expect(g.grayscale).toBeUndefined();
    expect([g.colorJitter?.saturation, g.colorJitter?.hue]).toEqual([0, 0]);
    // no blur at 28 px (solo-learn's CIFAR setting), solarize only in T'
    const gp = byolSmallGrayViewTPrime();
    expect([g.blur?.p, gp.blur?.p]).toEqual([0, 0]);
    expect([g.solarize?.p, gp.solarize?.p]).toEqual([0, 0.2]);
  });

  it('rejects bad values and unknown keys, naming the key', () => {
    expect(() => new AugmentationPipeline({ crop: { size: 32, scale: [0.5, 0.2], ratio: [0.75, 1.33] } })).toThrow(
      'augment.crop.scale = [0.5,0.2]; expected [min, max], two numbers with min <= max',
    );
    expect(() => new AugmentationPipeline({ crop: { size: 32, scale: [0, 1], ratio: [0.75, 1.33] } })).toThrow(/augment\.crop\.scale.*0 < min/);
    expect(() => new AugmentationPipeline({ colorJitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.7 } })).toThrow(
      /augment\.colorJitter\.hue = 0\.7; expected a number in \[0, 0\.5\]/,
    );
    expect(() => new AugmentationPipeline({ flip: { p: 1.5 } })).toThrow('augment.flip.p = 1.5; expected a probability in [0, 1]');
    expect(() => new AugmentationPipeline({ colorjitter: {} } as never)).toThrow('unknown key augment.colorjitter; allowed keys are: crop, flip');
    expect(() => new AugmentationPipeline({ blur: { p: 1, sigma: [0.1, 2], kernelSize: 4 } })).toThrow(/augment\.blur\.kernelSize = 4; expected an odd/);
    expect(() => new AugmentationPipeline({ normalize: { mean: [0.5], std: [0] } })).toThrow('augment.normalize.std = [0]; expected all values > 0');
  });

  it('resolves the YAML section: preset, size, per-view overrides and removals', () => {
    const { t, tPrime } = resolveAugmentSection(
      { preset: 'byol', size: 24, t: { blur: { p: 0.5 } }, tPrime: { solarize: null, flip: { p: 0 } } },
      { size: 32, channels: 3 },
    );
    expect(t.crop?.size).toBe(24);
    expect(t.blur).toEqual({ p: 0.5, sigma: [0.1, 2.0] });
    expect(tPrime.solarize).toBeUndefined();
    expect(tPrime.flip).toEqual({ p: 0 });
    expect(resolveAugmentSection({}, { size: 28, channels: 1 }).t.colorJitter?.hue).toBe(0);
    expect(() => resolveAugmentSection({ preset: 'byol-small-gray' }, { size: 32, channels: 3 })).toThrow(/needs 1-channel images, the data has 3/);
    expect(() => resolveAugmentSection({ preset: 'simclr' as never }, { size: 32, channels: 3 })).toThrow(/augment\.preset = "simclr"/);
    expect(() => resolveAugmentSection({ t: { blurr: { p: 1 } } as never }, { size: 32, channels: 3 })).toThrow(/unknown key augment\.t\.blurr/);
  });
});
