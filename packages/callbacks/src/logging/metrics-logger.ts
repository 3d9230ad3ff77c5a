import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { IsBoolean, IsNotEmpty, IsOptional, IsString } from 'class-validator';
import {
  Callback,
  CallbackOrder,
  dropEventsAfterStep,
  JsonlWriter,
  MetricsCsvWriter,
  registerCallback,
  TensorBoardWriter,
  writeFileAtomicSync,
  type CsvValue,
  type CallbackInit,
  type ExperimentEvents,
} from '@selfsup/core';
import { resolveCallbackOptions } from '../eval/options';
import { EventSubscriptions } from './observer';
import { resolveOutputDir, type LoggingExperiment } from './output-dir';
import { describeError, summarizeConfig } from './summary';

export class MetricsLoggerOptions {
  /** Folder of `metrics.jsonl`, `metrics.csv`, `train.log` and the TensorBoard events. Default: the experiment's `runDir`. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  dir?: string;

  /** Also write `metrics.csv`. */
  @IsBoolean()
  csv = true;

  /** Also write TensorBoard scalars (`events.out.tfevents.*`). */
  @IsBoolean()
  tensorboard = true;
}

export const METRICS_JSONL = 'metrics.jsonl';
export const METRICS_CSV = 'metrics.csv';
export const TRAIN_LOG = 'train.log';

/** A row of `metrics.jsonl` / `metrics.csv`. */
export type MetricsRow =
  | ({ type: 'step'; epoch: number; batch: number; step: number; time: number } & Record<string, number | string>)
  | ({ type: 'epoch'; epoch: number; step: number; time: number } & Record<string, number | string>);

const RESERVED = new Set(['type', 'epoch', 'batch', 'step', 'time']);

/** Metric keys that would overwrite a row's own fields are dropped from the row (never silently renamed). */
function metricsOnly(values: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) if (!RESERVED.has(k)) out[k] = v;
  return out;
}

const seconds = () => Date.now() / 1000;

/**
 * Writes the run's numbers as they come: `metrics.jsonl` and `metrics.csv` (a row per `log`
 * event and per epoch), `train.log` (JSON lines: start with a config summary, epoch ends,
 * the end, stop or failure with its message) and TensorBoard scalars (`train/<key>` per log
 * interval, `epoch/<key>` per epoch, both against the global step). Every line is one
 * write(2) as it happens, so a crash loses at most the line being written; files are fsynced
 * at each epoch end and closed when the experiment ends, failed runs included.
 *
 * Steps are mirrored from the experiment's `log` observer event (no tensor reads of its
 * own); epoch rows from the `epochEnd` event, so they include what every callback logged.
 * Opening an existing run directory continues it (resume): rows logged after the checkpoint
 * are dropped first, since the resumed run logs those steps again, and an epoch row lost to a
 * kill between that epoch's checkpoint and its row is rebuilt from the checkpoint's History;
 * the old TensorBoard event files lose their events past the checkpoint's step, and a new
 * event file is started.
 */
const CSV_FIRST_COLUMNS = ['type', 'epoch', 'batch', 'step', 'time'];

@registerCallback('metrics-logger', {
  options: MetricsLoggerOptions,
  order: CallbackOrder.LOGGING,
  description: 'metrics.jsonl, metrics.csv, train.log and TensorBoard scalars in the run directory',
})
export class MetricsLoggerCallback extends Callback {
  readonly options: MetricsLoggerOptions;
  /** The folder being written (set at experimentStart). */
  dir: string | undefined;
  private jsonl: JsonlWriter | undefined;
  private csv: MetricsCsvWriter | undefined;
  private trainLog: JsonlWriter | undefined;
  private tb: TensorBoardWriter | undefined;
  private readonly subs: EventSubscriptions;
  private startedAt = 0;

  constructor(options: Partial<MetricsLoggerOptions> = {}, init: CallbackInit = {}) {
    super(init);
    this.options = resolveCallbackOptions(MetricsLoggerOptions, options, this.name || 'metrics-logger');
    this.subs = new EventSubscriptions(this.name);
  }

  /** Path of the TensorBoard event file of the latest fit, when one was written. */
  tensorboardFile: string | undefined;

  get isOpen(): boolean {
    return this.jsonl !== undefined || this.trainLog !== undefined || this.csv !== undefined || this.tb !== undefined;
  }

  override onExperimentStart(exp: LoggingExperiment): void {
    this.close(); // a second fit of the same callback starts from a clean slate
    const dir = resolveOutputDir(exp, this.options.dir, this.name);
    this.dir = dir;
    let missing: MetricsRow | undefined;
    try {
      fs.mkdirSync(dir, { recursive: true });
      if (exp.state.globalStep > 0) {
        const kept = keepRowsUpToResumePoint(dir, exp.state.epoch, exp.state.globalStep);
        missing = missingEpochRow(kept, exp);
        if (this.options.tensorboard) dropEventsAfterStep(dir, exp.state.globalStep);
      }
      this.jsonl = new JsonlWriter(path.join(dir, METRICS_JSONL));
      this.trainLog = new JsonlWriter(path.join(dir, TRAIN_LOG));
      if (this.options.csv) this.csv = new MetricsCsvWriter(path.join(dir, METRICS_CSV), { firstColumns: CSV_FIRST_COLUMNS });
      if (this.options.tensorboard) this.tb = new TensorBoardWriter(dir);
      this.tensorboardFile = this.tb?.filePath;
    } catch (err) {
      this.close();
      throw new Error(`cannot open the log files in "${dir}": ${(err as Error).message}`, { cause: err });
    }
    if (missing) this.writeRow(missing);
    this.startedAt = Date.now();
    const st = exp.state;
    this.event('info', 'start', {
      dir,
      experiment: exp.constructor.name,
      backend: tf.engine().backendName ?? null,
      epoch: st.epoch,
      step: st.globalStep,
      epochs: exp.run.epochs,
      stepsPerEpoch: exp.run.stepsPerEpoch ?? null,
      totalSteps: exp.run.totalSteps ?? null,
      callbacks: exp.callbacks.map((c) => c.name),
      config: summarizeConfig(exp.config) ?? null,
    });
    this.subs.on(exp, 'log', (e) => this.onLog(e));
    this.subs.on(exp, 'epochEnd', (e) => this.onEpochRow(exp, e));
    this.subs.on(exp, 'experimentEnd', (e) => this.onEnd(exp, e));
  }

  private onLog(e: ExperimentEvents['log'][0]): void {
    const values = metricsOnly(e.values);
    this.writeRow({ type: 'step', epoch: e.epoch, batch: e.batch, step: e.step, time: seconds(), ...values });
    this.tb?.addScalars(prefixed('train/', values), e.step);
  }

  private onEpochRow(exp: LoggingExperiment, e: ExperimentEvents['epochEnd'][0]): void {
    const step = exp.state.globalStep;
    const metrics = metricsOnly(e.metrics);
    this.writeRow({ type: 'epoch', epoch: e.epoch, step, time: seconds(), ...metrics });
    this.tb?.addScalars(prefixed('epoch/', metrics), step);
    this.event('info', 'epoch', { epoch: e.epoch, step, metrics });
    // Once per epoch is cheap; per step it would cost a disk flush every few milliseconds.
    this.jsonl?.sync();
    this.csv?.sync();
    this.tb?.sync();
    this.trainLog?.sync();
  }

  private onEnd(exp: LoggingExperiment, e: ExperimentEvents['experimentEnd'][0]): void {
    this.subs.clear();
    const st = exp.state;
    const where = { epoch: st.epoch, step: st.globalStep, seconds: (Date.now() - this.startedAt) / 1000 };
    try {
      if (e.error !== undefined) this.event('error', 'failed', { ...where, ...describeError(e.error) });
      else if (e.stopped) this.event('info', 'stopped', { ...where, reason: st.stopReason ?? 'stop requested' });
      else this.event('info', 'end', where);
      this.trainLog?.sync();
      this.jsonl?.sync();
    } catch (err) {
      // Throwing here would replace the run's own error with a logging one.
      if (e.error === undefined) throw err;
      console.error(`[selfsup] ${this.name}: could not log the failure: ${(err as Error).message}`);
    } finally {
      this.close();
    }
  }

  private writeRow(row: MetricsRow): void {
    this.jsonl?.write(row);
    this.csv?.write(row);
  }

  private event(level: 'info' | 'error', event: string, fields: Record<string, unknown>): void {
    this.trainLog?.write({ time: new Date().toISOString(), level, event, ...fields });
  }

  /** Closes every file; safe to call twice. */
  close(): void {
    this.subs.clear();
    for (const w of [this.jsonl, this.csv, this.trainLog, this.tb]) {
      try {
        w?.close();
      } catch (err) {
        console.error(`[selfsup] ${this.name}: closing a log file failed: ${(err as Error).message}`);
      }
    }
    this.jsonl = this.csv = this.trainLog = this.tb = undefined;
  }
}

function prefixed(prefix: string, values: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) out[prefix + k] = v;
  return out;
}

/**
 * The checkpoint of an epoch is written before that epoch's metrics row (callbacks run before
 * the loop's epochEnd event), so a process killed in between resumes from a checkpoint whose
 * History has a row that metrics.jsonl lacks. That row, rebuilt from the History (its step is
 * the resume step: the checkpoint was taken at that epoch's end), or undefined.
 */
function missingEpochRow(rows: MetricsRow[], exp: LoggingExperiment): MetricsRow | undefined {
  const st = exp.state;
  const epoch = st.epoch - 1;
  if (st.batchIndex !== 0 || epoch < 0) return undefined;
  const metrics = exp.history.lastRowOf(epoch);
  if (!metrics || rows.some((r) => r.type === 'epoch' && Number(r.epoch) === epoch)) return undefined;
  const values = Object.fromEntries(Object.entries(metrics).filter(([, v]) => !Number.isNaN(v)));
  return { type: 'epoch', epoch, step: st.globalStep, time: seconds(), ...metricsOnly(values) };
}

/**
 * A resumed run redoes the steps logged after its checkpoint: drop those rows (and the rows
 * of epochs it will run again) from metrics.jsonl so each step and epoch appears once, and
 * rebuild metrics.csv from the rows kept — the JSON lines are the record, and a kill between
 * the two writes of a row leaves the CSV one row short. Both files are replaced atomically.
 * Returns the rows kept.
 */
function keepRowsUpToResumePoint(dir: string, epoch: number, step: number): MetricsRow[] {
  const jsonlPath = path.join(dir, METRICS_JSONL);
  if (!fs.existsSync(jsonlPath)) return [];
  const lines = fs.readFileSync(jsonlPath, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const kept: string[] = [];
  const rows: MetricsRow[] = [];
  for (const line of lines) {
    let row: MetricsRow;
    try {
      row = JSON.parse(line) as MetricsRow;
    } catch {
      continue; // a torn last line from the crash
    }
    const redone = Number(row.step) > step || (row.type === 'epoch' && Number(row.epoch) >= epoch);
    if (redone) continue;
    kept.push(line);
    rows.push(row);
  }
  if (kept.length !== lines.length) writeFileAtomicSync(jsonlPath, kept.map((l) => `${l}\n`).join(''));
  const csvPath = path.join(dir, METRICS_CSV);
  if (fs.existsSync(csvPath)) {
    const tmp = `${csvPath}.rebuild-${process.pid}`;
    fs.rmSync(tmp, { force: true });
    const csv = new MetricsCsvWriter(tmp, { firstColumns: CSV_FIRST_COLUMNS });
    for (const r of rows) csv.write(r as Record<string, CsvValue>);
    csv.sync();
    csv.close();
    fs.renameSync(tmp, csvPath);
  }
  return rows;
}
