import * as path from 'node:path';
import {
  Callback,
  CallbackOrder,
  captureExperimentState,
  cleanAtomicLeftovers,
  disposeSnapshot,
  nonFiniteTensors,
  onExperimentStart,
  registerCallback,
  UserError,
  writeSnapshot,
  type CallbackInit,
  type CaptureOptions,
  type Experiment,
  type SnapshotMeta,
} from '@selfsup/core';
import { resolveCallbackOptions } from '../eval/options';
import { CheckpointOptions } from './options';
import { emptyTrash, epochDirName, pruneEpochCheckpoints } from './prune';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any>;

/** What the constructor takes: the options, and the deprecated `resumeFrom`. */
export type CheckpointCallbackOptions = Partial<CheckpointOptions> & {
  /**
   * @deprecated Resuming is the loop's: `fit(data, { resumeFrom })` or `exp.restore(dir)`.
   * Still honoured (not from a YAML config): the loop restores this checkpoint at
   * experimentStart, once target-init has built the target network.
   */
  resumeFrom?: string;
};

export interface CheckpointInit extends CallbackInit {
  /** Where warnings go (default console.warn with a `[selfsup]` prefix). */
  warn?: (message: string) => void;
  /** Where the resume notice goes (default console.log). */
  log?: (message: string) => void;
}

const LOSS_KEY = /loss$/i;

/**
 * Decides when and where to save what an exact resume needs (`captureExperimentState` in
 * @selfsup/core: the loop's `stateDict()` says where the run resumes), at epoch end, after
 * evaluation (CHECKPOINT order), so it can monitor `knn_acc`:
 *
 * - `last/` after every epoch, and at experimentEnd when the run stopped mid-epoch;
 * - `best/` when the monitored epoch metric improves (`mode` max or min);
 * - `epoch-<E>/` every `every` epochs, keeping the `keepLast` newest.
 *
 * Every directory is replaced atomically. Nothing is written once a non-finite loss (epoch
 * mean) or weight has been seen, so the last good checkpoint survives a diverging run.
 * Resuming is the loop's: `fit(data, { resumeFrom })` or `exp.restore(dir)`. The constructor's
 * deprecated `resumeFrom` is kept for older code: it asks the loop to restore at
 * experimentStart (MODEL_INIT + 10, after target-init).
 */
@registerCallback('checkpoint', {
  order: CallbackOrder.CHECKPOINT,
  options: CheckpointOptions,
  description: 'last/best/every-N checkpoints for an exact resume',
})
export class CheckpointCallback extends Callback {
  readonly options: CheckpointOptions;
  /** @deprecated see {@link CheckpointCallbackOptions.resumeFrom}. */
  readonly resumeFrom: string | undefined;
  /** Best monitored value so far (survives a resume through getState). */
  best: number | undefined;
  bestEpoch: number | undefined;
  /** Meta of the checkpoint restored at the last start, if any. */
  restored: { dir: string; meta: SnapshotMeta } | undefined;
  private dir: string | undefined;
  /** Whether an epoch of this run reported the monitored metric (an evaluation every N epochs is fine). */
  private sawMonitor = false;
  private lastMetricNames: string[] | undefined;
  /** Set once a non-finite loss or weight was seen: from then on nothing is written. */
  private poisoned = false;
  private lastWrittenStep: number | undefined;
  private readonly warn: (message: string) => void;
  private readonly log: (message: string) => void;

  constructor(options: CheckpointCallbackOptions = {}, init: CheckpointInit = {}) {
    super(init);
    const { resumeFrom, ...rest } = options;
    this.resumeFrom = resumeFrom;
    this.options = resolveCallbackOptions(CheckpointOptions, rest, this.name || 'checkpoint');
    if (this.options.keepLast !== undefined && this.options.every === undefined) {
      throw new UserError(`callback "${this.name}": keepLast applies to the epoch-<E>/ checkpoints; set every (e.g. every: 5) or remove keepLast`);
    }
    this.warn = init.warn ?? ((m) => console.warn(`[selfsup] ${m}`));
    this.log = init.log ?? ((m) => console.log(`[selfsup] ${m}`));
  }

  /** The directory checkpoints are written to (known from experimentStart on). */
  get checkpointDir(): string | undefined {
    return this.dir;
  }

  private resolveDir(exp: AnyExperiment): string {
    if (this.options.dir !== undefined) return path.resolve(this.options.dir);
    const rd = exp.run.runDir;
    if (rd !== undefined) return path.join(rd, 'checkpoints');
    throw new Error(`callback "${this.name}": no checkpoint folder; set the callback's \`dir\` option (e.g. dir: runs/my-run/checkpoints)`);
  }

  /** The deprecated `resumeFrom`: the loop restores it now (the models exist: target-init has run). */
  // Not `async`: the hook decorators' descriptor type (HookFn) rejects a Promise-only return type.
  @onExperimentStart(CallbackOrder.MODEL_INIT + 10)
  resumeFromOption(exp: AnyExperiment): void | Promise<void> {
    if (this.resumeFrom === undefined) return;
    return exp.restore(this.resumeFrom, { warn: this.warn }).then(() => undefined);
  }

  override async onExperimentStart(exp: AnyExperiment): Promise<void> {
    this.dir = this.resolveDir(exp);
    this.poisoned = false;
    this.sawMonitor = false;
    this.lastMetricNames = undefined;
    // a resumed run's checkpoint is its latest one
    this.restored = exp.resumedFrom;
    this.lastWrittenStep = exp.resumedFrom?.meta.counters.globalStep;
    // finish or roll back writes a crash interrupted, before anything prunes
    await cleanAtomicLeftovers(this.dir);
    await emptyTrash(this.dir);
    if (this.restored) {
      const { epoch, globalStep, batchIndex } = this.restored.meta.counters;
      this.log(`resumed from ${this.restored.dir}: epoch ${epoch}${batchIndex ? ` (after batch ${batchIndex})` : ''}, step ${globalStep}`);
    }
  }

  private better(value: number): boolean {
    if (!Number.isFinite(value)) return false;
    if (this.best === undefined) return true;
    return this.options.mode === 'max' ? value > this.best : value < this.best;
  }

  private lastGood(): string {
    return this.lastWrittenStep === undefined ? 'none written yet' : `step ${this.lastWrittenStep}`;
  }

  override async onEpochEnd(exp: AnyExperiment): Promise<void> {
    if (this.poisoned) return;
    const st = exp.state;
    const epoch = st.epoch;
    const metrics = st.epochMetrics;
    const badLoss = Object.entries(metrics).find(([k, v]) => LOSS_KEY.test(k) && !Number.isFinite(v));
    if (badLoss) {
      this.poisoned = true;
      this.warn(
        `checkpoint: ${badLoss[0]} is ${badLoss[1]} in epoch ${epoch} (step ${st.globalStep}); no checkpoint is written from now on in this run — the last good one (${this.lastGood()}) in ${this.dir} stays`,
      );
      return;
    }

    const { monitor } = this.options;
    const value = metrics[monitor];
    if (value !== undefined) this.sawMonitor = true;
    this.lastMetricNames = Object.keys(metrics);
    const improved = value !== undefined && this.better(value);
    const previous = { best: this.best, bestEpoch: this.bestEpoch };
    if (improved) {
      this.best = value;
      this.bestEpoch = epoch;
    }

    // where the run resumes and this epoch's History row come from the loop (exp.stateDict())
    const complete = st.epochComplete;
    const written = await this.write(exp, { extra: { monitor, mode: this.options.mode, value: value ?? null, epoch } }, (dirs) => {
      if (this.options.saveLast) dirs.push('last');
      if (improved) dirs.push('best');
      if (this.options.every !== undefined && complete && (epoch + 1) % this.options.every === 0) dirs.push(epochDirName(epoch));
    });
    if (!written && improved) Object.assign(this, previous);
    if (written && this.options.keepLast !== undefined) await pruneEpochCheckpoints(this.dir!, this.options.keepLast);
  }

  /** A run that stopped mid-epoch (stop request, maxSteps) gets a final `last/`. */
  override async onExperimentEnd(exp: AnyExperiment): Promise<void> {
    if (!this.sawMonitor && this.lastMetricNames !== undefined) {
      const { monitor } = this.options;
      this.warn(
        `checkpoint: no epoch of this run reported the monitored metric "${monitor}" (the last one had: ${this.lastMetricNames.join(', ') || 'none'}), so no best/ was written — add the callback that logs it (e.g. knn-eval) or set monitor`,
      );
    }
    if (this.poisoned || !this.options.saveLast || this.dir === undefined) return;
    const st = exp.state;
    const cap = exp.run.maxSteps;
    const stopped = st.stopTraining || (cap !== undefined && st.globalStep >= cap);
    // without a stop, the run either finished (epochEnd wrote last/) or failed (keep the last good one)
    if (!stopped || st.globalStep === this.lastWrittenStep) return;
    await this.write(exp, { extra: { monitor: this.options.monitor, mode: this.options.mode, value: null, epoch: st.epoch } }, (dirs) => dirs.push('last'));
  }

  /** Captures once and writes the chosen sub-directories; false when it refused (non-finite weights). */
  private async write(exp: AnyExperiment, capture: CaptureOptions, choose: (dirs: string[]) => void): Promise<boolean> {
    const dirs: string[] = [];
    choose(dirs);
    if (dirs.length === 0) return true;
    const snapshot = await captureExperimentState(exp, capture);
    try {
      const bad = await nonFiniteTensors(snapshot);
      if (bad.length > 0) {
        this.poisoned = true;
        const shown = bad.slice(0, 3).join(', ') + (bad.length > 3 ? `, … (${bad.length} in all)` : '');
        this.warn(
          `checkpoint: non-finite values in ${shown} at step ${exp.state.globalStep}; no checkpoint is written from now on in this run — the last good one (${this.lastGood()}) in ${this.dir} stays`,
        );
        return false;
      }
      for (const d of dirs) await writeSnapshot(path.join(this.dir!, d), snapshot);
      this.lastWrittenStep = exp.state.globalStep;
      return true;
    } finally {
      disposeSnapshot(snapshot);
    }
  }

  override getState(): Record<string, unknown> {
    return { best: this.best ?? null, bestEpoch: this.bestEpoch ?? null, monitor: this.options.monitor, mode: this.options.mode };
  }

  override setState(state: Record<string, unknown>): void {
    if (state.monitor !== this.options.monitor || state.mode !== this.options.mode) {
      this.warn(
        `checkpoint: the checkpoint tracked ${String(state.monitor)} (${String(state.mode)}), this run tracks ${this.options.monitor} (${this.options.mode}); the best value starts afresh`,
      );
      return;
    }
    this.best = typeof state.best === 'number' ? state.best : undefined;
    this.bestEpoch = typeof state.bestEpoch === 'number' ? state.bestEpoch : undefined;
  }
}
