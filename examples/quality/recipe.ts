// The recipe examples/quality/torch_quality.py trains: the selfsup run's settings, read from the
// live experiment (models, optimizer, view pipelines, callbacks) so it cannot drift from what
// selfsup actually runs.
import { createDataset, createRun, type Callback, type Experiment, type ResolvedConfig } from '@selfsup/core';

export interface Recipe {
  seed: number;
  threads: number;
  data: { dir: string; trainLimit: number | null; testLimit: number | null };
  epochs: number;
  batchSize: number;
  stepsPerEpoch: number | null;
  model: { width: number; stem: string; projectorHiddenDim: number; projectorDim: number; predictorHiddenDim: number; zeroInitResidual?: boolean };
  optimizer: {
    name: string;
    lr: number;
    momentum: number;
    weightDecay: number;
    eta: number;
    clipTrustRatio: boolean;
    nesterov: boolean;
    beta1: number;
    beta2: number;
    epsilon: number;
    predictorLrMultiplier: number;
    predictorFixedLr: boolean;
  };
  schedule: { type: string; warmupSteps: number; minLr: number };
  ema: { tauBase: number; bnStats: string };
  augment: { t: unknown; tPrime: unknown; localCrops: unknown };
  knn: { k: number; temperature: number };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any>;

/** What a BYOL experiment exposes after setup (read structurally: no import of @selfsup/byol needed). */
interface ByolLike {
  modelConfig: { backbone: string; width: number; stem: string; projectorHiddenDim: number; projectorDim: number; predictorHiddenDim: number; zeroInitResidual?: boolean };
  optimizerConfig: Record<string, unknown> & { name: string };
  baseLearningRate: number;
  t?: { config: unknown };
  tPrime?: { config: unknown };
  /** Multi-crop views (augment.localCrops), when the experiment has them. */
  local?: { count: number; pipeline: { config: { crop?: { size: number; scale: [number, number]; ratio?: [number, number] } } } };
}

/** Settings the torch script cannot reproduce: --compare-torch refuses them. */
export class RecipeError extends Error {}

const num = (...vs: unknown[]): number => vs.find((v): v is number => typeof v === 'number') as number;
const bool = (...vs: unknown[]): boolean => vs.find((v): v is boolean => typeof v === 'boolean') as boolean;

function entryOptions(resolved: ResolvedConfig, name: string): Record<string, unknown> | undefined {
  return resolved.callbacks.find((c) => c.name === name)?.options as Record<string, unknown> | undefined;
}

/**
 * The recipe of an experiment that has been set up (models, optimizer) and whose callbacks
 * have run their experimentStart (lr-schedule computed its warm-up): what the quality-clock
 * callback calls during the selfsup run, and buildRecipe for a standalone look.
 */
export function recipeFromExperiment(exp: AnyExperiment, callbacks: readonly Callback[], resolved: ResolvedConfig, env: { threads: number; dataDir: string }): Recipe {
  const byol = exp as unknown as ByolLike;
  if (!byol.modelConfig || !byol.optimizerConfig) throw new RecipeError(`--compare-torch: method "${resolved.method.name}" is not BYOL; the PyTorch recipe is BYOL only`);
  const m = byol.modelConfig;
  if (m.backbone !== 'resnet18') throw new RecipeError(`--compare-torch: model.backbone ${m.backbone}; the PyTorch script trains resnet18 only`);
  const t = resolved.root.trainer;
  const find = (name: string) => callbacks.find((c) => c.name === name) as unknown as Record<string, unknown> | undefined;

  // optimizer: the live optimizer's own config first (its defaults applied), then the section
  const o = byol.optimizerConfig;
  const live = ((exp.optimizer as unknown as { getConfig?: () => Record<string, unknown> })?.getConfig?.() ?? {}) as Record<string, unknown>;
  const optimizer: Recipe['optimizer'] = {
    name: o.name,
    lr: byol.baseLearningRate,
    momentum: num(live.momentum, o.momentum, 0.9),
    weightDecay: num(live.weightDecay, o.weightDecay, o.name === 'adamw' ? 1e-2 : 0),
    eta: num(live.eta, o.eta, 1e-3),
    clipTrustRatio: bool(live.clipTrustRatio, o.clipTrustRatio, false),
    nesterov: bool(live.nesterov, o.nesterov, false),
    beta1: num(live.beta1, o.beta1, 0.9),
    beta2: num(live.beta2, o.beta2, 0.999),
    epsilon: num(live.epsilon, o.epsilon, 1e-8),
    predictorLrMultiplier: num(o.predictorLrMultiplier, 1),
    predictorFixedLr: bool(o.predictorFixedLr, false),
  };

  // lr schedule: no lr-schedule callback means a constant lr
  const lr = find('lr-schedule');
  const lrOpts = entryOptions(resolved, 'lr-schedule') ?? {};
  const schedule: Recipe['schedule'] = lr
    ? { type: String(lrOpts.schedule ?? 'warmup-cosine'), warmupSteps: num(lr.warmupSteps, 0), minLr: num(lrOpts.minLr, 0) }
    : { type: 'constant', warmupSteps: 0, minLr: 0 };

  const ema = find('ema');
  if (!ema) throw new RecipeError('--compare-torch: the run has no ema callback');
  if (ema.schedule !== undefined && ema.schedule !== 'cosine') throw new RecipeError(`--compare-torch: ema.schedule ${String(ema.schedule)}; the PyTorch script uses the cosine τ schedule`);

  const knn = find('knn-eval') as { options?: { k: number; temperature: number; bankLimit?: number; queryLimit?: number } } | undefined;
  if (!knn?.options) throw new RecipeError('--compare-torch: the run has no knn-eval callback');
  const data = resolved.root.data as { limit?: number };
  const val = (resolved.root.val ?? {}) as { limit?: number };
  if (knn.options.bankLimit !== undefined && knn.options.bankLimit < (data.limit ?? Infinity)) {
    throw new RecipeError('--compare-torch: callbacks[knn-eval].bankLimit has no PyTorch counterpart (trainLimit limits pretraining too); remove it or use data.limit');
  }
  const testLimits = [val.limit, knn.options.queryLimit].filter((v): v is number => v !== undefined);

  const section = ((resolved.methodConfig as { augment?: Record<string, unknown> }).augment ?? {}) as Record<string, unknown>;
  if (!byol.t || !byol.tPrime) throw new RecipeError('--compare-torch: the experiment has no view pipelines (setup() not run?)');
  return {
    seed: t.seed,
    threads: env.threads,
    data: { dir: env.dataDir, trainLimit: data.limit ?? null, testLimit: testLimits.length ? Math.min(...testLimits) : null },
    epochs: t.epochs,
    batchSize: t.batchSize,
    stepsPerEpoch: t.stepsPerEpoch ?? null,
    model: {
      width: m.width,
      stem: m.stem,
      projectorHiddenDim: m.projectorHiddenDim,
      projectorDim: m.projectorDim,
      predictorHiddenDim: m.predictorHiddenDim,
      // only when set, so the recipes (and PyTorch caches) of runs without it stay the same
      ...(m.zeroInitResidual ? { zeroInitResidual: true } : {}),
    },
    optimizer,
    schedule,
    ema: { tauBase: num(ema.tauBase), bnStats: String(ema.bnStats) },
    augment: { t: structuredClone(byol.t.config), tPrime: structuredClone(byol.tPrime.config), localCrops: localCropsOf(byol, section) },
    knn: { k: knn.options.k, temperature: knn.options.temperature },
  };
}

/** augment.localCrops as the experiment built it ({ count, size, scale, ratio }), else the section's value, else null. */
function localCropsOf(byol: ByolLike, section: Record<string, unknown>): unknown {
  const crop = byol.local?.pipeline.config.crop;
  if (byol.local && crop) return { count: byol.local.count, size: crop.size, scale: [...crop.scale], ratio: crop.ratio ? [...crop.ratio] : null };
  return section.localCrops ?? null;
}

/**
 * The recipe of a resolved config without training: builds the run's experiment and
 * callbacks, sets it up on the config's train data, lets lr-schedule plan its warm-up for
 * the run's step count, and reads the result. `dataDir`: the folder of the IDX files.
 */
export async function buildRecipe(resolved: ResolvedConfig, env: { threads: number; dataDir: string }): Promise<Recipe> {
  const train = await createDataset(resolved.root.data, { log: () => {} });
  const run = createRun(resolved);
  const exp = run.experiment;
  try {
    exp.datasets.set('train', train);
    await exp.setup();
    const t = resolved.root.trainer;
    // as `selfsup train` plans the fit: full batches only
    const perEpoch = train.numBatches({ batchSize: t.batchSize, shuffle: true, seed: t.seed, dropRemainder: true });
    exp.state.epochs = t.epochs;
    exp.state.stepsPerEpoch = Math.min(t.stepsPerEpoch ?? perEpoch, perEpoch);
    (exp as unknown as { maxSteps?: number }).maxSteps = t.maxSteps;
    const lr = run.callbacks.find((c) => c.name === 'lr-schedule');
    await lr?.onExperimentStart?.(exp);
    return recipeFromExperiment(exp, run.callbacks, resolved, env);
  } finally {
    exp.dispose();
    await run.dispose();
  }
}
