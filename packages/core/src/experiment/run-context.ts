import type { ResolvedConfig } from '../config/resolve';

/**
 * What a method tells the callbacks of its run through the run context: the numbers
 * schedules and progress reports need and only the method knows. Returned by the
 * experiment's `runContextInfo()` (see `Experiment`); every field is optional.
 */
export interface MethodRunInfo {
  /** Images per optimizer step, as the method sees them (e.g. what it scaled its LR by). */
  batchSize?: number;
  /** The learning rate before any schedule (e.g. lr × batchSize/256); `lr-schedule`'s default peak. */
  baseLearningRate?: number;
}

/**
 * What one fit runs with, built once per fit (after the models and optimizer exist, before the
 * first experimentStart hook) and frozen: hooks read it as `exp.run`, the same object from
 * experimentStart to experimentEnd. It holds values, not handles: the fit's arguments, where
 * the run writes, and what the method reports through `runContextInfo()`. The counters that
 * move (epoch, step, logs) are in `exp.state`.
 */
export interface RunContext {
  /** The run directory callbacks write into by default (`exp.runDir` at the start of the fit). */
  readonly runDir: string | undefined;
  /** The validated config of a YAML run (`exp.resolvedConfig`; `selfsup train` sets it); undefined from code. */
  readonly resolvedConfig: ResolvedConfig | undefined;
  /** fit's `epochs`. */
  readonly epochs: number;
  /** fit's `stepsPerEpoch`: the batches of each epoch, when the fit cuts them (undefined: until the data ends). */
  readonly stepsPerEpoch: number | undefined;
  /** fit's `maxSteps`: the cap on optimizer steps, counted from step 0 across resumes. */
  readonly maxSteps: number | undefined;
  /** Optimizer steps planned, when knowable: epochs × stepsPerEpoch, capped by maxSteps (or maxSteps alone). */
  readonly totalSteps: number | undefined;
  /** fit's `logEvery`: a `log` event (and a read of the step's numbers) every this many steps; 0 = never. */
  readonly logEvery: number;
  /** Images per step: fit's `batchSize`, else the method's (`runContextInfo().batchSize`). */
  readonly batchSize: number | undefined;
  /** The learning rate before any schedule, as the method reports it (`runContextInfo().baseLearningRate`). */
  readonly baseLearningRate: number | undefined;
}

/** The fit arguments and experiment fields a run context is built from. */
export interface RunContextSource {
  runDir: unknown;
  resolvedConfig: ResolvedConfig | undefined;
  epochs: number;
  stepsPerEpoch: number | undefined;
  maxSteps: number | undefined;
  logEvery: number;
  batchSize: number | undefined;
  method: MethodRunInfo;
}

/** Epochs × stepsPerEpoch capped by maxSteps; maxSteps alone when the epoch length is unknown. */
export function plannedSteps(epochs: number, stepsPerEpoch: number | undefined, maxSteps: number | undefined): number | undefined {
  const perEpoch = stepsPerEpoch === undefined ? undefined : epochs * stepsPerEpoch;
  if (perEpoch === undefined) return maxSteps;
  return maxSteps === undefined ? perEpoch : Math.min(perEpoch, maxSteps);
}

/** Builds the frozen context of a fit; a runDir that is not a path fails here, before any hook. */
export function createRunContext(src: RunContextSource): RunContext {
  const rd = src.runDir;
  if (rd !== undefined && rd !== null && typeof rd !== 'string') {
    const hint = typeof rd === 'object' && typeof (rd as { dir?: unknown }).dir === 'string' ? ' (createRunDir returns { dir }: assign its .dir)' : '';
    throw new TypeError(`runDir must be a path string, got ${typeof rd}${hint}`);
  }
  const ctx: RunContext = {
    runDir: rd ? rd : undefined,
    resolvedConfig: src.resolvedConfig,
    epochs: src.epochs,
    stepsPerEpoch: src.stepsPerEpoch,
    maxSteps: src.maxSteps,
    totalSteps: plannedSteps(src.epochs, src.stepsPerEpoch, src.maxSteps),
    logEvery: src.logEvery,
    batchSize: src.batchSize ?? src.method.batchSize,
    baseLearningRate: src.method.baseLearningRate,
  };
  return Object.freeze(ctx);
}
