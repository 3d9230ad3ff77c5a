/**
 * Class-coloured scatter plots (the 2-D PCA embedding plot) as standalone SVG.
 *
 * @packageDocumentation
 */
import { renderFrame } from './frame';
import { categoricalColor } from './palette';
import { niceTicks, px } from './svg-util';

/** One point; `label` is a class index (or any category key). */
export interface ScatterPoint {
  x: number;
  y: number;
  label: number | string;
}

/** Input of {@link scatterSvg}. */
export interface ScatterSpec {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  points: ReadonlyArray<ScatterPoint>;
  /** Names for numeric labels: `classNames[label]`; default the label itself. */
  classNames?: readonly string[];
  /** Default 640. */
  width?: number;
  /** Default 480. */
  height?: number;
  /** Dot radius in px; default 2.5. */
  radius?: number;
}

function compareLabels(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/**
 * Renders `points` as dots coloured by class with a categorical palette (Tableau 10, then
 * golden-angle hues) and a legend listing each class present. Points with a non-finite
 * coordinate are left out and counted in a note.
 */
export function scatterSvg(spec: ScatterSpec): string {
  const width = spec.width ?? 640;
  const height = spec.height ?? 480;
  const radius = spec.radius ?? 2.5;
  const finite = spec.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const skipped = spec.points.length - finite.length;
  const labels = [...new Set(spec.points.map((p) => p.label))].sort(compareLabels);
  const colorOf = new Map(labels.map((l, i) => [l, categoricalColor(i)]));
  const nameOf = (l: number | string) =>
    typeof l === 'number' && spec.classNames?.[l] !== undefined ? spec.classNames[l] : String(l);

  let xLo = Infinity;
  let xHi = -Infinity;
  let yLo = Infinity;
  let yHi = -Infinity;
  for (const p of finite) {
    xLo = Math.min(xLo, p.x);
    xHi = Math.max(xHi, p.x);
    yLo = Math.min(yLo, p.y);
    yHi = Math.max(yHi, p.y);
  }
  const empty = finite.length === 0;
  const frame = renderFrame({
    width,
    height,
    title: spec.title,
    xLabel: spec.xLabel,
    yLabel: spec.yLabel,
    xTicks: empty ? niceTicks(0, 1) : niceTicks(xLo, xHi, 6),
    yTicks: empty ? niceTicks(0, 1) : niceTicks(yLo, yHi, 5),
    legend: labels.map((l) => ({ name: nameOf(l), color: colorOf.get(l)!, marker: 'dot' as const })),
    note: empty ? 'no data' : undefined,
    caption: !empty && skipped > 0 ? `${skipped} non-finite point${skipped === 1 ? '' : 's'} not drawn` : undefined,
  });

  // One group per class keeps the SVG small (fill set once) and lets a viewer toggle classes.
  const body: string[] = [`<g class="points" clip-path="url(#${frame.clipId})" fill-opacity="0.75">`];
  for (const l of labels) {
    body.push(`<g data-class="${nameOf(l).replace(/[<>&"']/g, '_')}" fill="${colorOf.get(l)}">`);
    for (const p of finite) {
      if (p.label === l) body.push(`<circle cx="${px(frame.sx(p.x))}" cy="${px(frame.sy(p.y))}" r="${radius}"/>`);
    }
    body.push('</g>');
  }
  body.push('</g>');
  return `${frame.head}\n${body.join('\n')}\n${frame.tail}\n`;
}
