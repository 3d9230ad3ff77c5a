/** `83` → `1m23s`, `3725` → `1h02m`, `4.4` → `4s`; NaN/negative → `?`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Four significant digits, scientific notation for very small or large magnitudes. */
export function formatMetric(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(2);
  return v.toPrecision(4);
}

/** Throughput: whole numbers from 100 up, one decimal below. */
export function formatRate(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/** What one progress line shows. */
export interface ProgressLine {
  /** Optimizer steps done. */
  step: number;
  /** Planned total; `estimated` marks one extrapolated from the first epoch. */
  total?: number;
  estimated?: boolean;
  /** 0-based, shown 1-based as Keras does (`epoch 1/10`). */
  epoch: number;
  epochs: number;
  loss?: number;
  /** Images (or steps, when the batch size is unknown) per second. */
  rate?: number;
  rateUnit: 'img/s' | 'steps/s';
  /** Seconds left; undefined when the total is unknown. */
  eta?: number;
}

/**
 * `step 120/1000 (12%) | epoch 2/10 | loss 0.4123 | 512 img/s | ETA 1m23s`; fields without
 * a value are left out, except the ETA, shown as `?` until it can be estimated.
 */
export function formatProgressLine(p: ProgressLine): string {
  const parts: string[] = [];
  if (p.total !== undefined && p.total > 0) {
    const pct = Math.min(100, Math.floor((100 * p.step) / p.total));
    parts.push(`step ${p.step}/${p.estimated ? '~' : ''}${p.total} (${pct}%)`);
  } else {
    parts.push(`step ${p.step}`);
  }
  parts.push(`epoch ${p.epoch + 1}/${p.epochs}`);
  if (p.loss !== undefined) parts.push(`loss ${formatMetric(p.loss)}`);
  if (p.rate !== undefined && Number.isFinite(p.rate)) parts.push(`${formatRate(p.rate)} ${p.rateUnit}`);
  parts.push(`ETA ${p.eta === undefined ? '?' : formatDuration(p.eta)}`);
  return parts.join(' | ');
}

/** `[#####...............] ` for a TTY line; empty when the fraction is unknown. */
export function formatBar(fraction: number | undefined, width: number): string {
  if (fraction === undefined || !Number.isFinite(fraction) || width <= 0) return '';
  const filled = Math.max(0, Math.min(width, Math.floor(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] `;
}

/** `epoch 2/10 done in 12s at step 200 | knn_acc 0.7120 | loss 0.4123` — every metric, sorted by name. */
export function formatEpochSummary(epoch: number, epochs: number, seconds: number, step: number, metrics: Record<string, number>): string {
  const parts = [`epoch ${epoch + 1}/${epochs} done in ${formatDuration(seconds)} at step ${step}`];
  for (const k of Object.keys(metrics).sort()) parts.push(`${k} ${formatMetric(metrics[k])}`);
  return parts.join(' | ');
}
