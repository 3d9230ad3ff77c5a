function need(fn: string, key: string, value: number, ok: boolean, rule: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok) throw new Error(`${fn}: ${key} must be ${rule}, got ${String(value)}.`);
}

export interface WarmupCosineOptions {
  /** Peak learning rate, reached at the end of warm-up (already batch-scaled if wanted). */
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Floor of the cosine decay, reached at totalSteps. Default 0. */
  minLr?: number;
  /** Learning rate at step 0. Default 0. */
  warmupStartLr?: number;
  /** 0-based optimizer step; clamped to [0, totalSteps]. */
  step: number;
}

/** The checks both warm-up schedules share; returns minLr and the step clamped to [0, totalSteps]. */
function checkWarmupSchedule(fn: string, o: WarmupCosineOptions): { minLr: number; k: number } {
  const minLr = o.minLr ?? 0;
  need(fn, 'baseLr', o.baseLr, o.baseLr >= 0, 'a number ≥ 0');
  need(fn, 'totalSteps', o.totalSteps, Number.isInteger(o.totalSteps) && o.totalSteps > 0, 'a positive integer');
  need(fn, 'warmupSteps', o.warmupSteps, Number.isInteger(o.warmupSteps) && o.warmupSteps >= 0 && o.warmupSteps <= o.totalSteps, `an integer in [0, totalSteps = ${o.totalSteps}]`);
  need(fn, 'minLr', minLr, minLr >= 0 && minLr <= o.baseLr, `in [0, baseLr = ${o.baseLr}]`);
  need(fn, 'step', o.step, true, 'a finite number');
  return { minLr, k: Math.min(Math.max(o.step, 0), o.totalSteps) };
}

/**
 * Linear warm-up from `warmupStartLr` to `baseLr` over `warmupSteps`, then cosine decay
 * to `minLr` at `totalSteps` (DeepMind's BYOL schedule when minLr = warmupStartLr = 0):
 *   k < W:  start + (base − start)·k/W
 *   k ≥ W:  min + (base − min)·(1 + cos(π·(k − W)/(K − W)))/2
 */
export function warmupCosineLr(o: WarmupCosineOptions): number {
  const { minLr, k } = checkWarmupSchedule('warmupCosineLr', o);
  const start = o.warmupStartLr ?? 0;
  need('warmupCosineLr', 'warmupStartLr', start, start >= 0, 'a number ≥ 0');
  if (k < o.warmupSteps) return start + ((o.baseLr - start) * k) / o.warmupSteps;
  const decaySteps = o.totalSteps - o.warmupSteps;
  if (decaySteps === 0) return o.baseLr;
  const progress = (k - o.warmupSteps) / decaySteps;
  return minLr + ((o.baseLr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
}

/** Linear scaling rule: baseLr × batchSize / reference (BYOL: reference 256; lightly: 128). */
export function scaleLrByBatch(baseLr: number, batchSize: number, reference = 256): number {
  const fn = 'scaleLrByBatch';
  need(fn, 'baseLr', baseLr, baseLr >= 0, 'a number ≥ 0');
  need(fn, 'batchSize', batchSize, Number.isInteger(batchSize) && batchSize > 0, 'a positive integer');
  need(fn, 'reference', reference, reference > 0, 'a number > 0');
  return (baseLr * batchSize) / reference;
}

/**
 * One cosine over the whole run, with the linear warm-up as a factor on top of it:
 *   lr_k = (min + (base − min)·(1 + cos(π·k/K))/2) · min(1, k/W)
 * (`warmupCosineLr` instead starts the cosine after the warm-up). On short runs this decays
 * sooner, which is what short runs need (docs/quality.md has the measurements). `warmupStartLr`
 * is not used.
 */
export function cosineWithWarmupFactorLr(o: WarmupCosineOptions): number {
  const { minLr, k } = checkWarmupSchedule('cosineWithWarmupFactorLr', o);
  const cosine = minLr + ((o.baseLr - minLr) * (1 + Math.cos((Math.PI * k) / o.totalSteps))) / 2;
  return k < o.warmupSteps ? (cosine * k) / o.warmupSteps : cosine;
}

export interface CosineTauOptions {
  /** τ at step 0, e.g. 0.996 (BYOL 1000 epochs) or 0.99. */
  tauBase: number;
  /** 0-based step; clamped to [0, totalSteps]. */
  step: number;
  totalSteps: number;
}

/** BYOL target-momentum schedule τ_k = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2: τ_base at k = 0, 1 at k = K. */
export function cosineTau(o: CosineTauOptions): number {
  const fn = 'cosineTau';
  need(fn, 'tauBase', o.tauBase, o.tauBase >= 0 && o.tauBase <= 1, 'in [0, 1]');
  need(fn, 'totalSteps', o.totalSteps, Number.isInteger(o.totalSteps) && o.totalSteps > 0, 'a positive integer');
  need(fn, 'step', o.step, true, 'a finite number');
  const k = Math.min(Math.max(o.step, 0), o.totalSteps);
  return 1 - ((1 - o.tauBase) * (Math.cos((Math.PI * k) / o.totalSteps) + 1)) / 2;
}
