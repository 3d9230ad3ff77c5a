import type { LineChartSpec, LineSeries } from '@selfsup/core';

/** One `log` event's numbers. */
export interface StepPoint {
  step: number;
  values: Readonly<Record<string, number>>;
}

/** One epoch's metrics and the global step it ended at. */
export interface EpochPoint {
  epoch: number;
  step: number;
  metrics: Readonly<Record<string, number>>;
}

/**
 * The numbers a run's plots are drawn from: step rows (one per `log` event) and epoch rows
 * (one per epoch; a later report of the same epoch replaces the earlier one). Only numbers
 * are kept, never tensors, so a long run costs a few floats per log interval.
 */
export class MetricHistory {
  readonly steps: StepPoint[] = [];
  private readonly epochRows = new Map<number, EpochPoint>();

  addStep(step: number, values: Record<string, number>): void {
    this.steps.push({ step, values: { ...values } });
  }

  setEpoch(epoch: number, step: number, metrics: Record<string, number>): void {
    this.epochRows.set(epoch, { epoch, step, metrics: { ...metrics } });
  }

  get epochs(): EpochPoint[] {
    return [...this.epochRows.values()].sort((a, b) => a.epoch - b.epoch);
  }

  clear(): void {
    this.steps.length = 0;
    this.epochRows.clear();
  }

  /**
   * Loads rows of a `metrics.jsonl` written by an earlier process of the same run (resume),
   * keeping those up to `upToStep` — later ones belong to steps that are being redone.
   * The strings "NaN"/"Infinity" of the JSON lines come back as numbers.
   */
  loadRows(rows: ReadonlyArray<Record<string, unknown>>, upToStep: number): void {
    for (const r of rows) {
      const step = Number(r.step);
      if (!Number.isFinite(step) || step > upToStep) continue;
      const nums: Record<string, number> = {};
      for (const [k, v] of Object.entries(r)) {
        if (k === 'type' || k === 'epoch' || k === 'batch' || k === 'step' || k === 'time') continue;
        const n = typeof v === 'number' ? v : v === 'NaN' || v === 'Infinity' || v === '-Infinity' ? Number(v) : undefined;
        if (n !== undefined) nums[k] = n;
      }
      if (r.type === 'epoch') this.setEpoch(Number(r.epoch), step, nums);
      else if (r.type === 'step') this.addStep(step, nums);
    }
  }
}

/**
 * The chart of one metric, or undefined when the run has not logged it. A metric logged per
 * step is drawn against the step, with its epoch values (the epoch means) as a second line
 * at the step each epoch ended; a metric that exists only per epoch (knn_acc) is drawn
 * against the epoch, numbered from 1 as the progress lines and file names count them
 * (the rows keep the 0-based epoch of metrics.jsonl). Both x axes tick at whole numbers.
 * Such a metric's target-encoder companion, `<metric>_target` (knn-eval's `knn_acc_target`),
 * is drawn in the same chart as a second line when the run logged it.
 */
export function metricChart(metric: string, history: MetricHistory): LineChartSpec | undefined {
  const stepPts = history.steps.filter((s) => metric in s.values).map((s) => [s.step, s.values[metric]] as const);
  const epochs = history.epochs.filter((e) => metric in e.metrics);
  if (stepPts.length > 0) {
    const series: LineSeries[] = [{ name: `${metric} (logged steps)`, points: stepPts }];
    if (epochs.length > 0) series.push({ name: `${metric} (epoch mean)`, points: epochs.map((e) => [e.step, e.metrics[metric]] as const) });
    return { title: metric, xLabel: 'step', yLabel: metric, series, integerX: true };
  }
  if (epochs.length > 0) {
    const byEpoch = (m: string): LineSeries => ({
      name: m,
      points: history.epochs.filter((e) => m in e.metrics).map((e) => [e.epoch + 1, e.metrics[m]] as const),
    });
    const target = byEpoch(`${metric}_target`);
    const series = target.points.length > 0 ? [byEpoch(metric), target] : [byEpoch(metric)];
    return { title: metric, xLabel: 'epoch', yLabel: metric, integerX: true, series };
  }
  return undefined;
}

/** A metric name as a file name stem (`val/loss` → `val_loss`). */
export function plotFileStem(metric: string): string {
  return metric.replace(/[^\w.-]+/g, '_');
}
