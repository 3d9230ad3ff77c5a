/**
 * Line charts of training curves (loss, knn_acc, lr, tau, z_std) as standalone SVG.
 *
 * @packageDocumentation
 */
import { renderFrame, type LegendEntry } from './frame';
import { categoricalColor } from './palette';
import { escapeXml, niceTicks, px } from './svg-util';

/** One curve. */
export interface LineSeries {
  name: string;
  /** `[x, y]` pairs; non-finite values break the line instead of failing. */
  points: ReadonlyArray<readonly [number, number]>;
  /** CSS colour; default: the categorical palette by series index. */
  color?: string;
  /** SVG stroke-dasharray (e.g. `'6 4'`) for a dashed line; default solid. */
  dash?: string;
  /** Draw dots on the points (default: when the series has at most `markersUpTo` points). */
  markers?: boolean;
}

/** Input of {@link lineChartSvg}. */
export interface LineChartSpec {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  series: LineSeries[];
  /** Default 640. */
  width?: number;
  /** Default 400. */
  height?: number;
  /** Draw a dot on every point when a series has at most this many; default 40. */
  markersUpTo?: number;
  /** x is a count (step, epoch): ticks at whole numbers only. Default false. */
  integerX?: boolean;
}

/**
 * Renders `series` as an SVG line chart with titled axes, round ticks, a grid and a legend.
 * NaN/Infinity points split a line into segments (a diverged step shows as a gap) and are
 * counted in a note; with no finite point at all the chart shows "no data".
 */
export function lineChartSvg(spec: LineChartSpec): string {
  const width = spec.width ?? 640;
  const height = spec.height ?? 400;
  const markersUpTo = spec.markersUpTo ?? 40;
  let xLo = Infinity;
  let xHi = -Infinity;
  let yLo = Infinity;
  let yHi = -Infinity;
  let skipped = 0;
  const segmented = spec.series.map((s) => {
    const segments: Array<Array<readonly [number, number]>> = [];
    let current: Array<readonly [number, number]> = [];
    for (const p of s.points) {
      const [x, y] = p;
      if (Number.isFinite(x) && Number.isFinite(y)) {
        current.push(p);
        xLo = Math.min(xLo, x);
        xHi = Math.max(xHi, x);
        yLo = Math.min(yLo, y);
        yHi = Math.max(yHi, y);
      } else {
        skipped++;
        if (current.length > 0) segments.push(current);
        current = [];
      }
    }
    if (current.length > 0) segments.push(current);
    return segments;
  });
  const empty = xLo > xHi;
  const xTicks = empty ? niceTicks(0, 1, 5, { integer: spec.integerX }) : niceTicks(xLo, xHi, 6, { integer: spec.integerX });
  const yTicks = empty ? niceTicks(0, 1) : niceTicks(yLo, yHi, 5);
  const colors = spec.series.map((s, i) => s.color ?? categoricalColor(i));
  const legend: LegendEntry[] = spec.series.map((s, i) => ({ name: s.name, color: colors[i], marker: 'line', dash: s.dash }));
  const note = empty ? 'no data' : undefined;
  const caption = !empty && skipped > 0 ? `${skipped} non-finite point${skipped === 1 ? '' : 's'} not drawn` : undefined;
  const frame = renderFrame({
    width,
    height,
    title: spec.title,
    xLabel: spec.xLabel,
    yLabel: spec.yLabel,
    xTicks,
    yTicks,
    legend,
    note,
    caption,
  });

  const body: string[] = [`<g class="series" clip-path="url(#${frame.clipId})" fill="none" stroke-width="2">`];
  segmented.forEach((segments, i) => {
    const s = spec.series[i];
    const dash = s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : '';
    body.push(`<g data-series="${escapeXml(s.name)}" stroke="${colors[i]}"${dash}>`);
    for (const seg of segments) {
      if (seg.length > 1) {
        const d = seg.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(frame.sx(x))} ${px(frame.sy(y))}`).join(' ');
        body.push(`<path d="${d}" stroke-linejoin="round"/>`);
      }
    }
    const count = segments.reduce((n, seg) => n + seg.length, 0);
    for (const seg of segments) {
      // A lone point between gaps would be invisible as a path.
      if (s.markers ?? (count <= markersUpTo || seg.length === 1)) {
        for (const [x, y] of seg) {
          body.push(`<circle cx="${px(frame.sx(x))}" cy="${px(frame.sy(y))}" r="3" fill="${colors[i]}" stroke="none"/>`);
        }
      }
    }
    body.push('</g>');
  });
  body.push('</g>');
  return `${frame.head}\n${body.join('\n')}\n${frame.tail}\n`;
}
