/**
 * Small helpers shared by the SVG charts: escaping, "nice" axis ticks, number labels.
 *
 * @packageDocumentation
 */

/** Escapes text for use in SVG element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Rounds a coordinate so the SVG stays short; 0.01 px is far below what renders. */
export function px(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A step of the form {1, 2, 2.5, 5} × 10^k close to `rough`, so tick labels read well. */
function niceStep(rough: number): number {
  const exp = Math.floor(Math.log10(rough));
  const base = 10 ** exp;
  const f = rough / base;
  const nice = f < 1.5 ? 1 : f < 2.25 ? 2 : f < 3.5 ? 2.5 : f < 7.5 ? 5 : 10;
  return nice * base;
}

/** Axis domain widened to whole ticks, and the ticks themselves. */
export interface Ticks {
  min: number;
  max: number;
  values: number[];
}

/** Options of {@link niceTicks}. */
export interface NiceTicksOptions {
  /** The values are counts (steps, epochs): ticks only at whole numbers (a step of at least 1). */
  integer?: boolean;
}

/**
 * About `count` evenly spaced round tick values covering [lo, hi]. A zero-width range
 * (one point, or a constant series) is widened so the axis still has extent.
 */
export function niceTicks(lo: number, hi: number, count = 5, opts: NiceTicksOptions = {}): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return opts.integer ? { min: 0, max: 1, values: [0, 1] } : { min: 0, max: 1, values: [0, 0.5, 1] };
  if (lo > hi) [lo, hi] = [hi, lo];
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(lo))) {
    const pad = lo === 0 || opts.integer ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  let step = niceStep((hi - lo) / Math.max(1, count));
  // whole numbers only: 0.25 → 1, 2.5 → 2 (25, 250, ... are whole already)
  if (opts.integer && !Number.isInteger(step)) step = Math.max(1, Math.floor(step));
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil(hi / step) * step;
  const values: number[] = [];
  const n = Math.round((max - min) / step);
  // toPrecision strips float noise such as 0.6000000000000001 from the tick values.
  for (let i = 0; i <= n; i++) values.push(Number((min + i * step).toPrecision(12)));
  return { min, max, values };
}

/** A short label for a tick value: no float noise, exponent form when very large/small. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(6)));
}

/** Rough text width in px for a sans-serif font (no font metrics at hand in Node). */
export function textWidth(s: string, fontSize: number): number {
  return s.length * fontSize * 0.6;
}
