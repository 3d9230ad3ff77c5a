import * as tf from '@tensorflow/tfjs';
import { EventEmitter } from 'eventemitter3';
import { Callback } from '../callbacks/callback';
import type { HookEvent } from '../callbacks/events';
import { RESTORE_ORDER } from '../callbacks/order';
import { CallbackError, CallbackRunner, isStopTraining, type ScheduledHook } from '../callbacks/runner';
import { Rng } from '../util/rng';
import type { ImageDataset } from '../data/types';
import { History } from './history';
import { LazyLogs, MetricAccumulator, type StepLogs } from './logs';
import type { LoopStateDict, SnapshotCounters, SnapshotMeta } from './checkpoint/format';
import { checkpointReader } from './checkpoint/reader';
import type { RestoreOptions } from './checkpoint/restore';
import { createRunContext, type MethodRunInfo, type RunContext } from './run-context';
import type { ResolvedConfig } from '../config/resolve';

/** A batch source: iterables, a tfjs Dataset, or a factory called once per epoch. */
export type DataSource<B> =
  | AsyncIterable<B>
  /** Arrays are re-iterated every epoch and their tensors left to the caller; every other
   *  source's batches are disposed by the loop once their step is done. */
  | Iterable<B>
  | tf.data.Dataset<B & tf.TensorContainer>
  | ((ctx: { epoch: number; skipBatches: number }) => AsyncIterable<B> | Iterable<B>);

export interface FitOptions<B> {
  epochs: number;
  /** Cut each epoch after this many batches (also what schedules use to know the total). */
  stepsPerEpoch?: number;
  validationData?: DataSource<B>;
  /** Stop after this many optimizer steps in total (counted from step 0, across resumes). */
  maxSteps?: number;
  /** Read the step's numbers and emit a `log` event every N steps (default 10; 0 = never). */
  logEvery?: number;
  /**
   * Images per step, as the data source batches them. fit does not batch; it hands this to
   * the callbacks (`exp.run.batchSize`: img/s, LR scaling). Default: the method's
   * (`runContextInfo().batchSize`).
   */
  batchSize?: number;
  /** Extra callbacks for this fit, after the ones given with `addCallback`. */
  callbacks?: Callback[];
  /**
   * Resume from this checkpoint: a checkpoint directory, a `checkpoints/` directory (its
   * `last/`) or a run directory (its `checkpoints/last/`). Restored during experimentStart,
   * once the MODEL_INIT hooks have built the models (see `Experiment.restore`).
   */
  resumeFrom?: string;
}

export interface BatchEvent {
  epoch: number;
  batch: number;
  step: number;
}

/** Observer events (eventemitter3), emitted after the ordered hooks of the same moment. */
export interface ExperimentEvents {
  experimentStart: [ExperimentState];
  epochStart: [{ epoch: number }];
  batchStart: [BatchEvent];
  batchEnd: [BatchEvent & { logs: LazyLogs }];
  log: [BatchEvent & { values: Record<string, number> }];
  validationEnd: [{ epoch: number; metrics: Record<string, number> }];
  epochEnd: [{ epoch: number; metrics: Record<string, number> }];
  experimentEnd: [{ history: History; stopped: boolean; error?: unknown }];
}

/** Raised when the loss is NaN or infinite; names where it happened. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly key: string,
    readonly value: number,
    readonly where: BatchEvent,
  ) {
    super(
      `${key} is ${value} at step ${where.step} (epoch ${where.epoch}, batch ${where.batch}); training stopped. ` +
        'Lower the learning rate or check the data; the last checkpoint written before this step is intact.',
    );
    this.name = 'NonFiniteLossError';
  }
}

/** Where the loop is: what `stateDict()` and `restore()` go by. */
type LoopPhase =
  | 'idle' // outside fit
  | 'start' // experimentStart hooks
  | 'epoch' // epochStart hooks, between batches, batchStart hooks, the step itself
  | 'afterStep' // the step is counted: batchEnd hooks
  | 'epochEnd' // the epoch's batches are done: validation and epochEnd hooks
  | 'epochRecorded' // its History row is recorded: epochEnd observers
  | 'end'; // experimentEnd

/** Counters and handles the callbacks read. Mutated only by the loop (and restore). */
export class ExperimentState<C = unknown> {
  /** Current epoch, 0-based. */
  epoch = 0;
  /** Optimizer steps completed since the start of training (across resumes). */
  globalStep = 0;
  /** Index of the current batch within the epoch. */
  batchIndex = 0;
  /** Planned epochs of the current fit. */
  epochs = 0;
  stepsPerEpoch: number | undefined = undefined;
  /** Metrics of the current epoch: train means, `val_*`, and whatever callbacks add. */
  epochMetrics: Record<string, number> = {};
  /** The latest step's logs (lazy; valid during that step's batch hooks). */
  logs: LazyLogs = new LazyLogs();
  stopTraining = false;
  stopReason: string | undefined = undefined;
  /**
   * During an epoch's validation and epochEnd hooks: whether the epoch ran to its end (data
   * exhausted or stepsPerEpoch reached) rather than being cut short by a stop. A checkpoint
   * taken then resumes at the next epoch, or mid-epoch when false.
   */
  epochComplete = false;

  constructor(private readonly exp: Experiment<unknown, C>) {}

  get config(): C {
    return this.exp.config;
  }

  get models(): ReadonlyMap<string, tf.LayersModel> {
    return this.exp.models;
  }

  get optimizer(): tf.Optimizer | undefined {
    return this.exp.optimizer;
  }

  get rng(): Rng {
    return this.exp.rng;
  }

  /** Total optimizer steps planned, when knowable (epochs × stepsPerEpoch, capped by maxSteps): `exp.run.totalSteps`. */
  get totalSteps(): number | undefined {
    return this.exp.run.totalSteps;
  }
}

/**
 * The training loop. A self-supervised method subclasses it and overrides `trainStep` (and
 * usually `configureModels` / `configureOptimizer`). The loop owns every tensor it creates:
 * `trainStep` runs inside `tf.tidy`, only the returned scalars survive it, and they are
 * disposed once the step's batchEnd hooks have run; batches are disposed after their step.
 *
 * Event order: experimentStart → (epochStart → (batchStart → step → batchEnd)* →
 * [validation] → epochEnd)* → experimentEnd. The experiment's own `on*Start` runs before the
 * callbacks, its `on*End` after them; observers on `events` are told last.
 */
export abstract class Experiment<B = tf.TensorContainer, C = unknown> {
  readonly events = new EventEmitter<ExperimentEvents>();
  readonly state: ExperimentState<C>;
  readonly models = new Map<string, tf.LayersModel>();
  /**
   * The run directory (`runs/<name>/version_<N>`) when run by the CLI; callbacks write there by
   * default. Set it before fit: hooks read it as `exp.run.runDir`, fixed for the fit.
   */
  runDir: string | undefined = undefined;
  /**
   * The validated config of a YAML run (`selfsup train` sets it before fit): hooks read it as
   * `exp.run.resolvedConfig`, and checkpoints record it (`toPlain()`) instead of `config`.
   */
  resolvedConfig: ResolvedConfig | undefined = undefined;
  /** Datasets by role ('train', 'val', ...) for callbacks that evaluate (kNN, linear probe). */
  readonly datasets = new Map<string, ImageDataset>();
  optimizer: tf.Optimizer | undefined = undefined;
  rng: Rng;
  history = new History();
  /** The checkpoint the current (or last) fit resumed from, once restored; undefined when it started afresh. */
  resumedFrom: { dir: string; meta: SnapshotMeta } | undefined = undefined;
  /** @internal fit's `maxSteps`, kept for the run context; read `exp.run.maxSteps`. */
  maxSteps: number | undefined = undefined;
  /** fit's logEvery and batchSize, kept for the run context (see `run`). */
  private fitLogEvery = 10;
  private fitBatchSize: number | undefined = undefined;
  /** The context of the running fit: built once the models and optimizer exist, dropped when fit returns. */
  private fitContext: RunContext | undefined = undefined;
  private readonly ownCallbacks: Callback[] = [];
  private runner: CallbackRunner | undefined = undefined;
  private setupDone = false;
  private phase: LoopPhase = 'idle';
  /** A checkpoint `restore()` scheduled for the next fit. */
  private pendingResume: { dir: string; opts: RestoreOptions } | undefined = undefined;

  constructor(
    readonly config: C,
    opts: { seed?: number } = {},
  ) {
    this.state = new ExperimentState<C>(this);
    this.rng = new Rng(opts.seed ?? 0);
  }

  /** One training step on one batch. Synchronous; runs inside tf.tidy; returns named scalars. */
  abstract trainStep(batch: B): StepLogs;

  /** Optional validation step (inside tf.tidy); its logs are averaged into `val_<name>`. */
  valStep?(batch: B): StepLogs;

  /** Build models and put them in `this.models` (called once, at experimentStart). */
  protected configureModels(): void | Promise<void> {}

  /** Return the optimizer (called once, after configureModels). */
  protected configureOptimizer(): tf.Optimizer | undefined {
    return undefined;
  }

  /**
   * What the method tells its run's callbacks through `exp.run` (batch size, base learning
   * rate: what `lr-schedule` and the progress bar read). Called once per fit, after
   * `configureModels` and `configureOptimizer`; nothing by default. A method that scales its
   * learning rate returns it: `return { ...super.runContextInfo(), baseLearningRate: this.lr }`.
   */
  protected runContextInfo(): MethodRunInfo {
    return {};
  }

  /**
   * The run context (frozen): the fit's arguments (epochs, stepsPerEpoch, maxSteps, totalSteps,
   * logEvery, batchSize), `runDir`, `resolvedConfig` and what the method reports through
   * `runContextInfo()` (batchSize, baseLearningRate). During a fit — from before the first
   * experimentStart hook until fit returns — the one built at its start, the same object in
   * every hook. Outside a fit, a new one from the experiment's current fields (the last fit's
   * arguments, `state.epochs` / `state.stepsPerEpoch` as set), for a hook run by hand.
   */
  get run(): RunContext {
    return this.fitContext ?? this.buildRunContext();
  }

  private buildRunContext(): RunContext {
    return createRunContext({
      runDir: this.runDir,
      resolvedConfig: this.resolvedConfig,
      epochs: this.state.epochs,
      stepsPerEpoch: this.state.stepsPerEpoch,
      maxSteps: this.maxSteps,
      logEvery: this.fitLogEvery,
      batchSize: this.fitBatchSize,
      method: this.runContextInfo(),
    });
  }

  /** The experiment's own hooks (Start ones run before the callbacks, End ones after). */
  protected onExperimentStart(): void | Promise<void> {}
  protected onEpochStart(): void | Promise<void> {}
  protected onBatchStart(): void | Promise<void> {}
  protected onBatchEnd(): void | Promise<void> {}
  protected onEpochEnd(): void | Promise<void> {}
  protected onExperimentEnd(): void | Promise<void> {}

  addCallback(...callbacks: Callback[]): this {
    this.ownCallbacks.push(...callbacks);
    return this;
  }

  /** The callbacks of the running (or last) fit, in registration order. */
  get callbacks(): readonly Callback[] {
    return this.runner?.callbacks ?? this.ownCallbacks;
  }

  /** Ask the loop to stop after the current batch. */
  stop(reason = 'stop requested'): void {
    this.state.stopTraining = true;
    this.state.stopReason = reason;
  }

  get stopTraining(): boolean {
    return this.state.stopTraining;
  }

  set stopTraining(v: boolean) {
    this.state.stopTraining = v;
  }

  /** Add an epoch-level metric (e.g. `knn_acc`) to the current epoch's row of the History. */
  logMetric(key: string, value: number): void {
    this.state.epochMetrics[key] = value;
  }

  /** Variables the optimizer updates: the trainable weights of every model, unless overridden. */
  trainableVariables(): tf.Variable[] {
    const vars: tf.Variable[] = [];
    for (const m of this.models.values()) for (const w of m.trainableWeights) vars.push(w.read() as tf.Variable);
    return vars;
  }

  /**
   * The optimizer-step contract for `trainStep`: computes the loss and its gradients w.r.t.
   * `vars` (default: `trainableVariables()`), applies them with `this.optimizer`, and returns
   * the loss (a scalar owned by the enclosing tidy).
   */
  protected minimize(lossFn: () => tf.Scalar, vars: tf.Variable[] = this.trainableVariables()): tf.Scalar {
    if (!this.optimizer) {
      throw new Error(`${this.constructor.name}.minimize: no optimizer; return one from configureOptimizer()`);
    }
    const { value, grads } = tf.variableGrads(lossFn, vars);
    this.optimizer.applyGradients(grads);
    tf.dispose(grads);
    return value;
  }

  /**
   * Builds models and optimizer once (fit calls it first); call it earlier to check the
   * config or to use the models before training. Models that callbacks create (BYOL's target
   * network, built by target-init at experimentStart) do not exist yet then: to resume from
   * a checkpoint use `restore()` or fit's `resumeFrom`, not a restore after setup().
   */
  async setup(): Promise<void> {
    if (this.setupDone) return;
    await this.configureModels();
    this.optimizer ??= this.configureOptimizer();
    this.setupDone = true;
  }

  /**
   * The random generators a checkpoint holds, by name: `{ rng }`. A method with generators
   * of its own declares them by overriding this (`return { ...super.rngs(), noise: this.noiseRng }`);
   * a generator not declared is not saved, so adding one never breaks older checkpoints.
   */
  rngs(): Record<string, Rng> {
    return { rng: this.rng };
  }

  /**
   * Tensors of the training state that are neither model weights nor optimizer slots (PyTorch's
   * registered buffers: MoCo's queue of keys and its write position), by name: a checkpoint
   * saves them and a resume assigns them back in place, so they must be `tf.Variable`s of a
   * fixed shape and dtype. Default: none. A method with buffers overrides this
   * (`return { ...super.buffers(), queue: this.queue }`) and disposes them itself.
   */
  buffers(): Record<string, tf.Variable> {
    return {};
  }

  /**
   * The loop's own state, as a checkpoint saves it: the position a resumed run starts from
   * and the History up to there. It depends on where the loop is: during an epoch's
   * validation and epochEnd hooks, the epoch's History row (not recorded yet) is included and
   * the position is the next epoch — or, for an epoch a stop cut short, the batch after the
   * last one done; during batchEnd hooks, the batch after the current one (the History then
   * lacks the epoch's partial row: its mean is over the steps after the resume only).
   */
  stateDict(): LoopStateDict {
    const st = this.state;
    const live: SnapshotCounters = { epoch: st.epoch, globalStep: st.globalStep, batchIndex: st.batchIndex };
    switch (this.phase) {
      case 'afterStep':
        return { counters: { ...live, batchIndex: st.batchIndex + 1 }, history: this.history.toJSON() };
      case 'epochEnd':
      case 'epochRecorded': {
        const counters = st.epochComplete ? { epoch: st.epoch + 1, globalStep: st.globalStep, batchIndex: 0 } : live;
        if (this.phase === 'epochRecorded') return { counters, history: this.history.toJSON() };
        const history = History.fromJSON(this.history.toJSON());
        history.record(st.epoch, { ...st.epochMetrics });
        return { counters, history: history.toJSON() };
      }
      default:
        return { counters: live, history: this.history.toJSON() };
    }
  }

  /** Puts back what `stateDict()` gave: the loop's position and History (restore calls it last). */
  loadStateDict(state: LoopStateDict): void {
    this.history = History.fromJSON(state.history);
    this.state.epoch = state.counters.epoch;
    this.state.globalStep = state.counters.globalStep;
    this.state.batchIndex = state.counters.batchIndex;
  }

  /**
   * Resumes from a checkpoint (a checkpoint directory, a `checkpoints/` directory or a run
   * directory). The checkpoint holds models that callbacks create (BYOL's target network), so
   * it is put back during the next fit's experimentStart, after the hooks ordered below
   * RESTORE_ORDER (the MODEL_INIT band, which builds those models) and before the rest, in
   * this order: models and buffers, callbacks' state, optimizer, generators, the loop's position and
   * History. Called before fit, it finds and reads the checkpoint now (a missing or foreign
   * one fails here) and schedules it — the same as `fit(data, { resumeFrom })`; called from
   * an experimentStart hook, it restores at once. Returns the checkpoint's meta.
   */
  async restore(checkpoint: string, opts: RestoreOptions = {}): Promise<SnapshotMeta> {
    if (this.phase === 'start') return this.restoreNow(checkpoint, opts);
    if (this.phase !== 'idle') {
      throw new Error(`${this.constructor.name}.restore: called during fit (${this.phase}); restore before fit, or from an experimentStart hook`);
    }
    const reader = checkpointReader();
    const dir = await reader.resolveDir(checkpoint);
    const meta = await reader.readMeta(dir);
    this.pendingResume = { dir, opts };
    return meta;
  }

  private async restoreNow(checkpoint: string, opts: RestoreOptions): Promise<SnapshotMeta> {
    const reader = checkpointReader();
    const dir = await reader.resolveDir(checkpoint);
    const meta = await reader.restore(dir, this, opts);
    this.resumedFrom = { dir, meta };
    return meta;
  }

  async fit(data: DataSource<B>, opts: FitOptions<B>): Promise<History> {
    if (!Number.isInteger(opts.epochs) || opts.epochs < 1) {
      throw new Error(`fit: epochs must be a positive integer, got ${String(opts.epochs)}`);
    }
    if (opts.stepsPerEpoch !== undefined && (!Number.isInteger(opts.stepsPerEpoch) || opts.stepsPerEpoch < 1)) {
      throw new Error(`fit: stepsPerEpoch must be a positive integer, got ${String(opts.stepsPerEpoch)}`);
    }
    if (opts.batchSize !== undefined && (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)) {
      throw new Error(`fit: batchSize must be a positive integer, got ${String(opts.batchSize)}`);
    }
    if (this.phase !== 'idle') throw new Error(`${this.constructor.name}.fit: already fitting; one fit at a time`);
    const resume = this.takeResume(opts.resumeFrom);
    const st = this.state;
    st.epochs = opts.epochs;
    st.stepsPerEpoch = opts.stepsPerEpoch;
    st.stopTraining = false;
    st.stopReason = undefined;
    this.maxSteps = opts.maxSteps;
    const logEvery = opts.logEvery ?? 10;
    this.fitLogEvery = logEvery;
    this.fitBatchSize = opts.batchSize;
    // Validates names and `requires` before anything runs.
    const runner = new CallbackRunner([...this.ownCallbacks, ...(opts.callbacks ?? [])]);
    this.runner = runner;

    this.resumedFrom = undefined;
    let failure: unknown;
    let started = false;
    try {
      await this.setup();
      this.fitContext = this.buildRunContext();
      this.phase = 'start';
      await this.onExperimentStart();
      started = true;
      // models first (MODEL_INIT band), then the checkpoint, then every other hook
      const beforeRestore = (h: ScheduledHook) => h.order < RESTORE_ORDER;
      if (await this.hook('experimentStart', beforeRestore)) {
        if (resume) await this.restoreNow(resume.dir, resume.opts);
        await this.hook('experimentStart', (h) => !beforeRestore(h));
      }
      this.events.emit('experimentStart', st);

      while (st.epoch < opts.epochs && !this.shouldStop()) {
        // An epoch cut short by a stop keeps its epoch and batch counters, so a checkpoint
        // taken now resumes mid-epoch; a finished one moves the counters on.
        if (await this.runEpoch(data, opts, logEvery)) {
          st.epoch++;
          st.batchIndex = 0;
        }
      }
    } catch (err) {
      failure = err;
    } finally {
      await this.finish(started, failure);
    }
    return this.history;
  }

  /** The checkpoint this fit resumes from: fit's `resumeFrom`, else one `restore()` scheduled. */
  private takeResume(resumeFrom: string | undefined): { dir: string; opts: RestoreOptions } | undefined {
    const pending = this.pendingResume;
    this.pendingResume = undefined;
    if (resumeFrom !== undefined) {
      if (pending) throw new Error(`fit: resumeFrom "${resumeFrom}" given, but restore("${pending.dir}") already scheduled a checkpoint; pass one of them`);
      return { dir: resumeFrom, opts: {} };
    }
    return pending;
  }

  private shouldStop(): boolean {
    const cap = this.run.maxSteps;
    return this.state.stopTraining || (cap !== undefined && this.state.globalStep >= cap);
  }

  /** Runs the hooks of `event` (those `only` accepts); false when one of them stopped training by throwing StopTraining. */
  private async hook(event: HookEvent, only?: (h: ScheduledHook) => boolean): Promise<boolean> {
    try {
      await this.runner!.run(event, this, only);
      return true;
    } catch (err) {
      if (!isStopTraining(err)) throw err;
      this.stop(err.message);
      return false;
    }
  }

  /** Runs one epoch; true when it ran to its end (data exhausted or stepsPerEpoch reached). */
  private async runEpoch(data: DataSource<B>, opts: FitOptions<B>, logEvery: number): Promise<boolean> {
    const st = this.state;
    const epoch = st.epoch;
    const skip = st.batchIndex; // > 0 only when resuming mid-epoch
    st.epochMetrics = {};
    this.phase = 'epoch';
    await this.onEpochStart();
    await this.hook('epochStart');
    this.events.emit('epochStart', { epoch });

    const acc = new MetricAccumulator();
    let complete = false;
    try {
      const it = await openIterator(data, epoch, skip);
      try {
        st.batchIndex = skip;
        for (;;) {
          if (opts.stepsPerEpoch !== undefined && st.batchIndex >= opts.stepsPerEpoch) {
            complete = true;
            break;
          }
          if (this.shouldStop()) break;
          const next = await it.next();
          if (next.done) {
            complete = true;
            break;
          }
          await this.runBatch(next.value, acc, logEvery, it.ownsBatches);
          st.batchIndex++;
        }
      } finally {
        await it.return?.();
      }
      if (st.batchIndex === skip && skip === 0) {
        throw new Error(`epoch ${epoch} produced no batches: the data source is empty (or a one-shot iterable already used up — pass a factory (ctx) => iterable)`);
      }
      const means = await acc.flush();
      // Resumed mid-epoch: the checkpoint's History row of this epoch holds the means of its
      // first `skip` steps; weight both parts by their steps so the row is the epoch's mean.
      const earlier = skip > 0 ? this.history.lastRowOf(epoch) : undefined;
      const ran = st.batchIndex - skip;
      if (earlier) {
        for (const [k, v] of Object.entries(means)) {
          if (Number.isFinite(earlier[k])) means[k] = (earlier[k] * skip + v * ran) / (skip + ran);
        }
      }
      Object.assign(st.epochMetrics, means);
    } finally {
      acc.reset();
    }
    st.epochComplete = complete;
    this.phase = 'epochEnd';

    if (opts.validationData && this.valStep) await this.runValidation(opts.validationData);

    await this.hook('epochEnd');
    await this.onEpochEnd();
    this.history.record(epoch, { ...st.epochMetrics });
    this.phase = 'epochRecorded';
    this.events.emit('epochEnd', { epoch, metrics: { ...st.epochMetrics } });
    return complete;
  }

  private async runBatch(batch: B, acc: MetricAccumulator, logEvery: number, ownsBatch: boolean): Promise<void> {
    const st = this.state;
    try {
      const where = () => ({ epoch: st.epoch, batch: st.batchIndex, step: st.globalStep });
      await this.onBatchStart();
      await this.hook('batchStart');
      this.events.emit('batchStart', where());

      const out = tf.tidy(() => this.trainStep(batch));
      checkStepLogs(this.constructor.name, out);
      st.logs.dispose();
      st.logs = new LazyLogs(out);
      st.globalStep++;
      this.phase = 'afterStep';

      const done = { epoch: st.epoch, batch: st.batchIndex, step: st.globalStep };
      await this.hook('batchEnd');
      await this.onBatchEnd();
      // after the hooks, so what they added to the logs (tau, lr) is averaged and reported too
      acc.add(st.logs.entriesView());
      if (logEvery > 0 && st.globalStep % logEvery === 0) {
        const values = await st.logs.values();
        for (const [k, v] of Object.entries(values)) {
          if (k === 'loss' && !Number.isFinite(v)) throw new NonFiniteLossError(k, v, done);
        }
        this.events.emit('log', { ...done, values });
      }
      this.events.emit('batchEnd', { ...done, logs: st.logs });
    } finally {
      this.phase = 'epoch';
      st.logs.dispose();
      if (ownsBatch) tf.dispose(batch as tf.TensorContainer);
    }
  }

  private async runValidation(data: DataSource<B>): Promise<void> {
    const st = this.state;
    await this.hook('validationStart');
    const acc = new MetricAccumulator();
    try {
      const it = await openIterator(data, st.epoch, 0);
      try {
        for (let r = await it.next(); !r.done; r = await it.next()) {
          const batch = r.value;
          try {
            const out = tf.tidy(() => this.valStep!(batch));
            checkStepLogs(`${this.constructor.name}.valStep`, out);
            const logs = new LazyLogs(out);
            acc.add(out);
            st.logs.dispose();
            st.logs = logs;
            await this.hook('validationBatchEnd');
          } finally {
            st.logs.dispose();
            if (it.ownsBatches) tf.dispose(batch as tf.TensorContainer);
          }
        }
      } finally {
        await it.return?.();
      }
      const means = await acc.flush();
      for (const [k, v] of Object.entries(means)) st.epochMetrics[`val_${k}`] = v;
    } finally {
      acc.reset();
    }
    await this.hook('validationEnd');
    this.events.emit('validationEnd', {
      epoch: st.epoch,
      metrics: Object.fromEntries(Object.entries(st.epochMetrics).filter(([k]) => k.startsWith('val_'))),
    });
  }

  /** experimentEnd always runs (cleanup), even after a failure; the first error wins. */
  private async finish(started: boolean, failure: unknown): Promise<void> {
    const runner = this.runner!;
    let error = failure;
    this.phase = 'end';
    if (started) {
      if (failure === undefined) {
        try {
          await this.hook('experimentEnd');
          await this.onExperimentEnd();
        } catch (err) {
          error = err;
        }
      } else {
        const cleanupErrors = await runner.runAll('experimentEnd', this);
        try {
          await this.onExperimentEnd();
        } catch (err) {
          cleanupErrors.push(new CallbackError(this.constructor.name, 'experimentEnd', err));
        }
        for (const e of cleanupErrors) console.error(`[selfsup] also during cleanup: ${e.message}`);
      }
    }
    this.state.logs.dispose();
    this.phase = 'idle';
    try {
      this.events.emit('experimentEnd', { history: this.history, stopped: this.state.stopTraining, error });
    } finally {
      this.fitContext = undefined;
    }
    if (error !== undefined) throw error;
  }

  /** Releases models and optimizer (call when the experiment is no longer needed). */
  dispose(): void {
    for (const m of this.models.values()) m.dispose();
    this.models.clear();
    this.optimizer?.dispose();
    this.optimizer = undefined;
    this.pendingResume = undefined;
    this.setupDone = false;
  }
}

function checkStepLogs(who: string, out: unknown): asserts out is StepLogs {
  if (out === null || typeof out !== 'object' || Array.isArray(out) || out instanceof tf.Tensor) {
    throw new Error(`${who}.trainStep must return named scalars, e.g. { loss }, got ${out instanceof tf.Tensor ? 'a bare tensor' : typeof out}`);
  }
  for (const [k, v] of Object.entries(out)) {
    if (typeof v === 'number') continue;
    if (!(v instanceof tf.Tensor) || v.rank !== 0) {
      tf.dispose(out as tf.TensorContainer);
      throw new Error(`${who}: log "${k}" must be a scalar tensor or a number, got ${v instanceof tf.Tensor ? `shape [${v.shape}]` : typeof v}`);
    }
  }
}

interface BatchIterator<B> {
  next(): Promise<IteratorResult<B>>;
  return?(): Promise<unknown>;
  /** False for arrays: their tensors belong to the caller and are reused every epoch. */
  ownsBatches: boolean;
}

async function openIterator<B>(data: DataSource<B>, epoch: number, skipBatches: number): Promise<BatchIterator<B>> {
  let skip = skipBatches;
  let source: unknown = data;
  if (typeof data === 'function') {
    source = data({ epoch, skipBatches });
    skip = 0; // the factory skipped them itself
  }
  let it: BatchIterator<B>;
  if (source instanceof tf.data.Dataset) {
    const dit = await source.iterator();
    it = { next: () => dit.next() as Promise<IteratorResult<B>>, ownsBatches: true };
  } else if (source && typeof (source as AsyncIterable<B>)[Symbol.asyncIterator] === 'function') {
    const ait = (source as AsyncIterable<B>)[Symbol.asyncIterator]();
    it = { next: () => ait.next(), return: async () => ait.return?.(), ownsBatches: true };
  } else if (source && typeof (source as Iterable<B>)[Symbol.iterator] === 'function') {
    const sit = (source as Iterable<B>)[Symbol.iterator]();
    it = { next: async () => sit.next(), return: async () => sit.return?.(), ownsBatches: !Array.isArray(source) };
  } else {
    throw new TypeError('fit: data must be an iterable, an async iterable, a tf.data.Dataset, or a factory (ctx) => iterable');
  }
  for (let i = 0; i < skip; i++) {
    const r = await it.next();
    if (r.done) break;
    if (it.ownsBatches) tf.dispose(r.value as tf.TensorContainer);
  }
  return it;
}
