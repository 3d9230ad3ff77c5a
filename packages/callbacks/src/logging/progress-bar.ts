import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';
import { Callback, CallbackOrder, registerCallback, type CallbackInit, type ExperimentEvents } from '@selfsup/core';
import { resolveCallbackOptions } from '../eval/options';
import { EventSubscriptions } from './observer';
import type { LoggingExperiment } from './observer';
import { formatBar, formatDuration, formatEpochSummary, formatProgressLine } from './progress-format';

export class ProgressBarOptions {
  /** Images per step, for img/s. Default: the run's (`exp.run.batchSize`: fit's batchSize, else the method's); without one, steps/s. */
  @IsOptional()
  @IsInt()
  @Min(1)
  batchSize?: number;

  /** Force the single updating line (true) or plain lines (false). Default: whether the stream is a TTY. */
  @IsOptional()
  @IsBoolean()
  tty?: boolean;

  /** Width of the `[###...]` bar on a TTY (0: no bar). */
  @IsInt()
  @Min(0)
  @Max(200)
  barWidth = 20;
}

/** Where the progress goes: `process.stderr` unless given (tests pass a collector). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** `process.stderr` in Node; in a browser (no process) the console, one line per write. */
function defaultStream(): ProgressStream {
  const proc = (globalThis as { process?: { stderr?: ProgressStream } }).process;
  if (proc?.stderr) return proc.stderr;
  return {
    write(chunk: string) {
      const line = chunk.replace(/[\r\n]+/g, ' ').trim();
      if (line) console.log(line);
    },
  };
}

export interface ProgressBarInit extends CallbackInit {
  stream?: ProgressStream;
  /** Clock in seconds; injectable so tests can check img/s and ETA exactly. */
  now?: () => number;
}

/**
 * A progress line per `log` event — step/total, epoch, loss, img/s, ETA — and a summary
 * line with every metric at each epoch end. On a TTY the step line updates in place (`\r`);
 * anywhere else (CI, a file, a pipe) each update is its own plain line, never with `\r` or
 * escape codes. Only the numbers of the `log` and `epochEnd` events are shown: the bar reads
 * no tensors, so it costs no device sync.
 *
 * img/s is measured over the steps since the previous line or the epoch start (evaluation at
 * epoch end does not drag it down); the ETA extrapolates the average wall time per step of
 * this fit, evaluation included, over the steps left.
 */
@registerCallback('progress', {
  options: ProgressBarOptions,
  order: CallbackOrder.LOGGING,
  description: 'progress line (step, epoch, loss, img/s, ETA) and epoch summaries on stderr',
})
export class ProgressBarCallback extends Callback {
  readonly options: ProgressBarOptions;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly subs: EventSubscriptions;
  private tty = false;
  private batchSize: number | undefined;
  /** A TTY line is on screen without its newline. */
  private pending = false;
  private fitStart = { t: 0, step: 0 };
  private rateRef = { t: 0, step: 0 };
  private epochStartTime = 0;
  /** Steps of the first complete epoch, to estimate a total the data source did not tell. */
  private observedStepsPerEpoch: number | undefined;
  private epochStartStep = 0;
  private epochFromStart = false;

  constructor(options: Partial<ProgressBarOptions> = {}, init: ProgressBarInit = {}) {
    super(init);
    this.options = resolveCallbackOptions(ProgressBarOptions, options, this.name || 'progress');
    this.stream = init.stream ?? defaultStream();
    this.now = init.now ?? (() => performance.now() / 1000);
    this.subs = new EventSubscriptions(this.name);
  }

  override onExperimentStart(exp: LoggingExperiment): void {
    this.subs.clear();
    this.tty = this.options.tty ?? this.stream.isTTY === true;
    this.batchSize = this.options.batchSize ?? exp.run.batchSize;
    this.pending = false;
    this.observedStepsPerEpoch = undefined;
    const st = exp.state;
    const t = this.now();
    this.fitStart = { t, step: st.globalStep };
    this.rateRef = { t, step: st.globalStep };
    const { epochs, totalSteps: total } = exp.run;
    this.line(
      `training ${exp.constructor.name}: ${epochs} epoch${epochs === 1 ? '' : 's'}` +
        (total !== undefined ? `, ${total} steps` : '') +
        (this.batchSize !== undefined ? `, batch size ${this.batchSize}` : '') +
        (st.globalStep > 0 ? `, resuming at step ${st.globalStep} (epoch ${st.epoch + 1})` : ''),
    );
    this.subs.on(exp, 'epochStart', () => this.onEpochStartEvent(exp));
    this.subs.on(exp, 'log', (e) => this.onLog(exp, e));
    this.subs.on(exp, 'epochEnd', (e) => this.onEpochEndEvent(exp, e));
    this.subs.on(exp, 'experimentEnd', (e) => this.onEnd(exp, e));
  }

  private onEpochStartEvent(exp: LoggingExperiment): void {
    const t = this.now();
    this.epochStartTime = t;
    this.epochStartStep = exp.state.globalStep;
    // batchIndex is still the resume position here: non-zero means a partial epoch
    this.epochFromStart = exp.state.batchIndex === 0;
    this.rateRef = { t, step: exp.state.globalStep };
  }

  private onLog(exp: LoggingExperiment, e: ExperimentEvents['log'][0]): void {
    const st = exp.state;
    const t = this.now();
    const dt = t - this.rateRef.t;
    const dSteps = e.step - this.rateRef.step;
    const stepsPerSec = dt > 0 && dSteps > 0 ? dSteps / dt : undefined;
    this.rateRef = { t, step: e.step };

    const run = exp.run;
    let total = run.totalSteps;
    let estimated = false;
    if (total === undefined && this.observedStepsPerEpoch !== undefined) {
      total = run.epochs * this.observedStepsPerEpoch;
      estimated = true;
    }
    const done = e.step - this.fitStart.step;
    const elapsed = t - this.fitStart.t;
    const eta = total !== undefined && done > 0 && elapsed > 0 ? (Math.max(0, total - e.step) * elapsed) / done : undefined;
    const text = formatProgressLine({
      step: e.step,
      total,
      estimated,
      epoch: e.epoch,
      epochs: run.epochs,
      loss: e.values.loss,
      rate: stepsPerSec === undefined ? undefined : stepsPerSec * (this.batchSize ?? 1),
      rateUnit: this.batchSize === undefined ? 'steps/s' : 'img/s',
      eta,
    });
    if (this.tty) {
      const bar = formatBar(total === undefined ? undefined : e.step / total, this.options.barWidth);
      this.update(bar + text);
    } else {
      this.line(text);
    }
  }

  private onEpochEndEvent(exp: LoggingExperiment, e: ExperimentEvents['epochEnd'][0]): void {
    const st = exp.state;
    if (this.epochFromStart && this.observedStepsPerEpoch === undefined && exp.run.stepsPerEpoch === undefined) {
      // an epoch that ran from its first batch tells how long an epoch is
      this.observedStepsPerEpoch = st.globalStep - this.epochStartStep;
    }
    this.line(formatEpochSummary(e.epoch, exp.run.epochs, this.now() - this.epochStartTime, st.globalStep, e.metrics));
  }

  private onEnd(exp: LoggingExperiment, e: ExperimentEvents['experimentEnd'][0]): void {
    this.subs.clear();
    const st = exp.state;
    const took = formatDuration(this.now() - this.fitStart.t);
    const where = `step ${st.globalStep} (epoch ${st.epoch + 1}/${exp.run.epochs})`;
    if (e.error !== undefined) {
      const msg = e.error instanceof Error ? e.error.message : String(e.error);
      this.line(`failed at ${where} after ${took}: ${msg}`);
    } else if (e.stopped) {
      this.line(`stopped at ${where} after ${took}: ${st.stopReason ?? 'stop requested'}`);
    } else {
      this.line(`done: ${st.globalStep - this.fitStart.step} steps in ${took}`);
    }
  }

  /** Rewrites the TTY line in place; cut to the terminal width, since a wrapped line cannot be rewritten. */
  private update(text: string): void {
    const cols = this.stream.columns;
    const fitted = cols !== undefined && cols > 1 && text.length > cols - 1 ? text.slice(0, cols - 1) : text;
    this.stream.write(`\r${fitted}\x1b[K`);
    this.pending = true;
  }

  /** A whole line; on a TTY it first ends the updating one, which stays visible above. */
  private line(text: string): void {
    if (this.pending) {
      this.stream.write('\n');
      this.pending = false;
    }
    this.stream.write(`${text}\n`);
  }
}
