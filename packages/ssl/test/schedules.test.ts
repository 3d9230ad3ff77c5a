import { describe, expect, it } from 'vitest';
import { cosineTau, cosineWithWarmupFactorLr, scaleLrByBatch, warmupCosineLr } from '../src/optim';

describe('cosineWithWarmupFactorLr', () => {
  const base = { baseLr: 1, warmupSteps: 10, totalSteps: 100 };
  const lr = (step: number, extra: object = {}) => cosineWithWarmupFactorLr({ ...base, ...extra, step });

  it('is one cosine over the whole run, scaled by k/W during warm-up', () => {
    // by hand: cos part (1 + cos(π·k/100))/2; k = 5: 0.5 · (1 + cos(0.05π))/2
    expect(lr(0)).toBe(0);
    expect(lr(5)).toBeCloseTo((0.5 * (1 + Math.cos(0.05 * Math.PI))) / 2, 12);
    expect(lr(10)).toBeCloseTo((1 + Math.cos(0.1 * Math.PI)) / 2, 12); // < 1: the cosine started at k = 0
    expect(lr(50)).toBeCloseTo(0.5, 12);
    expect(lr(100)).toBeCloseTo(0, 12);
    expect(lr(50, { minLr: 0.1 })).toBeCloseTo(0.55, 12);
    // it decays sooner than warm-up-then-cosine at every step after the warm-up
    for (const k of [20, 50, 90]) expect(lr(k)).toBeLessThan(warmupCosineLr({ ...base, step: k }));
  });

  it('clamps steps, handles no warm-up and rejects bad settings by name', () => {
    expect(lr(500)).toBeCloseTo(0, 12);
    expect(lr(0, { warmupSteps: 0 })).toBe(1);
    expect(() => lr(0, { warmupSteps: 101 })).toThrow(/cosineWithWarmupFactorLr: warmupSteps must be an integer in \[0, totalSteps = 100\], got 101/);
    expect(() => lr(0, { minLr: 2 })).toThrow(/minLr/);
  });
});

describe('warmupCosineLr', () => {
  const base = { baseLr: 1, warmupSteps: 10, totalSteps: 110 };
  const lr = (step: number, extra: object = {}) => warmupCosineLr({ ...base, ...extra, step });

  it('warms up linearly from 0 to baseLr', () => {
    expect(lr(0)).toBe(0);
    expect(lr(5)).toBeCloseTo(0.5, 12);
    expect(lr(9)).toBeCloseTo(0.9, 12);
    expect(lr(10)).toBeCloseTo(1, 12);
    // From a non-zero start: 0.2 + 0.8·5/10.
    expect(lr(5, { warmupStartLr: 0.2 })).toBeCloseTo(0.6, 12);
  });

  it('decays with a half cosine to minLr', () => {
    // Decay progress (k − 10)/100; value (1 + cos(π·progress))/2.
    expect(lr(35)).toBeCloseTo((1 + Math.SQRT1_2) / 2, 12); // progress ¼ → 0.853553…
    expect(lr(60)).toBeCloseTo(0.5, 12); // halfway
    expect(lr(110)).toBeCloseTo(0, 12);
    expect(lr(60, { minLr: 0.1 })).toBeCloseTo(0.55, 12); // 0.1 + 0.9·½
    expect(lr(110, { minLr: 0.1 })).toBeCloseTo(0.1, 12);
  });

  it('clamps steps outside [0, totalSteps] and handles no warm-up', () => {
    expect(lr(500)).toBeCloseTo(0, 12);
    expect(lr(-3)).toBe(0);
    expect(warmupCosineLr({ baseLr: 0.3, warmupSteps: 0, totalSteps: 4, step: 0 })).toBeCloseTo(0.3, 12);
    expect(warmupCosineLr({ baseLr: 0.3, warmupSteps: 0, totalSteps: 4, step: 2 })).toBeCloseTo(0.15, 12);
    expect(warmupCosineLr({ baseLr: 0.3, warmupSteps: 4, totalSteps: 4, step: 4 })).toBeCloseTo(0.3, 12);
  });

  it('rejects inconsistent settings, naming the key', () => {
    expect(() => lr(0, { warmupSteps: 200 })).toThrow(/warmupSteps must be an integer in \[0, totalSteps = 110\], got 200/);
    expect(() => lr(0, { totalSteps: 0 })).toThrow(/totalSteps must be a positive integer/);
    expect(() => lr(0, { minLr: 2 })).toThrow(/minLr/);
    expect(() => lr(Number.NaN)).toThrow(/step must be a finite number/);
  });
});

describe('scaleLrByBatch', () => {
  it('applies the linear scaling rule', () => {
    expect(scaleLrByBatch(0.45, 4096)).toBeCloseTo(7.2, 12); // DeepMind BYOL: 0.45 × 4096/256
    expect(scaleLrByBatch(0.06, 512, 128)).toBeCloseTo(0.24, 12); // lightly: 0.06 × bs/128
    expect(scaleLrByBatch(1.0, 256)).toBe(1);
    expect(() => scaleLrByBatch(1, 0)).toThrow(/batchSize must be a positive integer, got 0/);
  });
});

describe('cosineTau', () => {
  const tau = (step: number) => cosineTau({ tauBase: 0.99, totalSteps: 1000, step });

  it('goes from tauBase at k = 0 to 1 at k = K', () => {
    expect(tau(0)).toBeCloseTo(0.99, 12);
    expect(tau(500)).toBeCloseTo(0.995, 12); // 1 − 0.01·(cos(π/2) + 1)/2
    expect(tau(250)).toBeCloseTo(1 - 0.01 * (Math.SQRT1_2 + 1) / 2, 12); // 0.991464…
    expect(tau(1000)).toBeCloseTo(1, 12);
    expect(tau(2000)).toBeCloseTo(1, 12);
  });

  it('is monotone non-decreasing', () => {
    let prev = 0;
    for (let k = 0; k <= 1000; k += 50) {
      expect(tau(k)).toBeGreaterThanOrEqual(prev);
      prev = tau(k);
    }
  });

  it('rejects tauBase outside [0, 1]', () => {
    expect(() => cosineTau({ tauBase: 1.5, totalSteps: 10, step: 0 })).toThrow(/tauBase must be in \[0, 1\], got 1.5/);
  });
});
