import { AUGMENTATION_OP_ORDER, AugmentationConfig } from './config';
import { UserError } from '@selfsup/core';

/**
 * Checks a view config before any tensor is touched, so a typo or a bad range fails at start
 * with the key path, the value and the rule, rather than as NaNs or a silently skipped op.
 */
export function validateAugmentationConfig(config: unknown, path = 'augment'): asserts config is AugmentationConfig {
  const cfg = asObject(config, path);
  rejectUnknownKeys(cfg, AUGMENTATION_OP_ORDER, path);

  if (cfg.crop !== undefined) {
    const p = `${path}.crop`;
    const c = asObject(cfg.crop, p);
    rejectUnknownKeys(c, ['size', 'scale', 'ratio'], p);
    if (!Number.isInteger(c.size) || (c.size as number) < 1) fail(`${p}.size`, c.size, 'a positive integer (output side in pixels)');
    const scale = range(c.scale, `${p}.scale`);
    if (!(scale[0] > 0 && scale[1] <= 1)) fail(`${p}.scale`, c.scale, '[min, max] with 0 < min <= max <= 1 (fractions of the image area)');
    const ratio = range(c.ratio, `${p}.ratio`);
    if (!(ratio[0] > 0)) fail(`${p}.ratio`, c.ratio, '[min, max] with 0 < min <= max (width / height)');
  }
  if (cfg.flip !== undefined) {
    const p = `${path}.flip`;
    const c = asObject(cfg.flip, p);
    rejectUnknownKeys(c, ['p'], p);
    probability(c.p, `${p}.p`);
  }
  if (cfg.colorJitter !== undefined) {
    const p = `${path}.colorJitter`;
    const c = asObject(cfg.colorJitter, p);
    rejectUnknownKeys(c, ['p', 'brightness', 'contrast', 'saturation', 'hue', 'order'], p);
    if (c.order !== undefined && c.order !== 'per-sample' && c.order !== 'per-batch') {
      fail(`${p}.order`, c.order, '"per-sample" or "per-batch"');
    }
    probability(c.p, `${p}.p`);
    for (const key of ['brightness', 'contrast', 'saturation'] as const) {
      if (!isFiniteNumber(c[key]) || (c[key] as number) < 0) fail(`${p}.${key}`, c[key], 'a number >= 0 (0 disables it)');
    }
    if (!isFiniteNumber(c.hue) || (c.hue as number) < 0 || (c.hue as number) > 0.5) {
      fail(`${p}.hue`, c.hue, 'a number in [0, 0.5] (fraction of the color wheel; 0 disables it)');
    }
  }
  if (cfg.grayscale !== undefined) {
    const p = `${path}.grayscale`;
    const c = asObject(cfg.grayscale, p);
    rejectUnknownKeys(c, ['p'], p);
    probability(c.p, `${p}.p`);
  }
  if (cfg.blur !== undefined) {
    const p = `${path}.blur`;
    const c = asObject(cfg.blur, p);
    rejectUnknownKeys(c, ['p', 'sigma', 'kernelSize'], p);
    probability(c.p, `${p}.p`);
    const sigma = range(c.sigma, `${p}.sigma`);
    if (!(sigma[0] > 0)) fail(`${p}.sigma`, c.sigma, '[min, max] with 0 < min <= max (pixels)');
    if (c.kernelSize !== undefined && (!Number.isInteger(c.kernelSize) || (c.kernelSize as number) < 1 || (c.kernelSize as number) % 2 === 0)) {
      fail(`${p}.kernelSize`, c.kernelSize, 'an odd positive integer, or omit it for ~10% of the image side');
    }
  }
  if (cfg.solarize !== undefined) {
    const p = `${path}.solarize`;
    const c = asObject(cfg.solarize, p);
    rejectUnknownKeys(c, ['p', 'threshold'], p);
    probability(c.p, `${p}.p`);
    if (!isFiniteNumber(c.threshold)) fail(`${p}.threshold`, c.threshold, 'a number (pixels >= threshold are inverted)');
  }
  if (cfg.normalize !== undefined) {
    const p = `${path}.normalize`;
    const c = asObject(cfg.normalize, p);
    rejectUnknownKeys(c, ['mean', 'std'], p);
    for (const key of ['mean', 'std'] as const) {
      const v = c[key];
      if (!Array.isArray(v) || v.length === 0 || !v.every(isFiniteNumber)) fail(`${p}.${key}`, v, 'a non-empty list of numbers, one per channel');
    }
    if ((c.mean as number[]).length !== (c.std as number[]).length) {
      fail(`${p}`, c, 'mean and std of the same length');
    }
    if (!(c.std as number[]).every((s) => s > 0)) fail(`${p}.std`, c.std, 'all values > 0');
  }
}

function fail(path: string, value: unknown, rule: string): never {
  throw new UserError(`Invalid augmentation config: ${path} = ${JSON.stringify(value)}; expected ${rule}.`);
}

function asObject(value: unknown, path: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, value, 'an object');
  return value as Record<string, unknown>;
}

function rejectUnknownKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new UserError(`Invalid augmentation config: unknown key ${path}.${key}; allowed keys are: ${allowed.join(', ')}.`);
    }
  }
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function probability(v: unknown, path: string): void {
  if (!isFiniteNumber(v) || v < 0 || v > 1) fail(path, v, 'a probability in [0, 1]');
}

function range(v: unknown, path: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every(isFiniteNumber) || v[0] > v[1]) {
    fail(path, v, '[min, max], two numbers with min <= max');
  }
  return v as [number, number];
}
