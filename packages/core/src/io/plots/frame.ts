/**
 * The parts every chart shares: canvas, title, axes with ticks and labels, legend.
 *
 * @packageDocumentation
 */
import { escapeXml, formatTick, px, textWidth, type Ticks } from './svg-util';

/** One legend row. */
export interface LegendEntry {
  name: string;
  color: string;
  marker: 'line' | 'dot';
  /** stroke-dasharray of a 'line' marker (a dashed series). */
  dash?: string;
}

export interface FrameSpec {
  width: number;
  height: number;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  xTicks: Ticks;
  yTicks: Ticks;
  legend: LegendEntry[];
  /** Text shown in the middle of the plot area (e.g. "no data"). */
  note?: string;
  /** Small text above the top-right corner of the plot area (e.g. "3 points not drawn"). */
  caption?: string;
}

export interface Frame {
  /** Maps a data x to a pixel x. */
  sx: (x: number) => number;
  /** Maps a data y to a pixel y. */
  sy: (y: number) => number;
  /** SVG up to and including the axes; chart content goes after it. */
  head: string;
  /** Legend and closing tag. */
  tail: string;
  /** The id of the clip path of the plot area. */
  clipId: string;
}

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const TICK_FONT = 11;
const LABEL_FONT = 12;
const TITLE_FONT = 15;

export function renderFrame(spec: FrameSpec): Frame {
  const { width, height, xTicks, yTicks } = spec;
  const legendWidth =
    spec.legend.length === 0 ? 0 : 34 + Math.max(...spec.legend.map((e) => textWidth(e.name, LABEL_FONT)));
  const yTickWidth = Math.max(...yTicks.values.map((v) => textWidth(formatTick(v), TICK_FONT)));
  const left = 14 + (spec.yLabel ? LABEL_FONT + 8 : 0) + yTickWidth + 8;
  const right = 16 + legendWidth;
  const top = spec.title ? TITLE_FONT + 22 : 16;
  const bottom = 26 + (spec.xLabel ? LABEL_FONT + 10 : 0);
  const x0 = left;
  const x1 = Math.max(left + 10, width - right);
  const y0 = top;
  const y1 = Math.max(top + 10, height - bottom);
  const sx = (x: number) => x0 + ((x - xTicks.min) / (xTicks.max - xTicks.min)) * (x1 - x0);
  const sy = (y: number) => y1 - ((y - yTicks.min) / (yTicks.max - yTicks.min)) * (y1 - y0);
  // A fixed id keeps output deterministic; each SVG is a standalone document.
  const clipId = 'plot-area';

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<defs><clipPath id="${clipId}"><rect x="${px(x0)}" y="${px(y0)}" width="${px(x1 - x0)}" height="${px(y1 - y0)}"/></clipPath></defs>`,
  );
  if (spec.title) {
    out.push(
      `<text x="${px((x0 + x1) / 2)}" y="${TITLE_FONT + 6}" font-size="${TITLE_FONT}" font-weight="bold" text-anchor="middle">${escapeXml(spec.title)}</text>`,
    );
  }
  // Grid and ticks.
  out.push('<g class="grid" stroke="#e6e6e6" stroke-width="1">');
  for (const v of xTicks.values) out.push(`<line x1="${px(sx(v))}" y1="${px(y0)}" x2="${px(sx(v))}" y2="${px(y1)}"/>`);
  for (const v of yTicks.values) out.push(`<line x1="${px(x0)}" y1="${px(sy(v))}" x2="${px(x1)}" y2="${px(sy(v))}"/>`);
  out.push('</g>');
  out.push(`<g class="x-axis" font-size="${TICK_FONT}" fill="#333333" text-anchor="middle">`);
  for (const v of xTicks.values) {
    out.push(
      `<line x1="${px(sx(v))}" y1="${px(y1)}" x2="${px(sx(v))}" y2="${px(y1 + 5)}" stroke="#333333"/>`,
      `<text x="${px(sx(v))}" y="${px(y1 + 18)}">${escapeXml(formatTick(v))}</text>`,
    );
  }
  out.push('</g>');
  out.push(`<g class="y-axis" font-size="${TICK_FONT}" fill="#333333" text-anchor="end">`);
  for (const v of yTicks.values) {
    out.push(
      `<line x1="${px(x0 - 5)}" y1="${px(sy(v))}" x2="${px(x0)}" y2="${px(sy(v))}" stroke="#333333"/>`,
      `<text x="${px(x0 - 8)}" y="${px(sy(v) + 4)}">${escapeXml(formatTick(v))}</text>`,
    );
  }
  out.push('</g>');
  out.push(
    `<rect x="${px(x0)}" y="${px(y0)}" width="${px(x1 - x0)}" height="${px(y1 - y0)}" fill="none" stroke="#333333"/>`,
  );
  if (spec.xLabel) {
    out.push(
      `<text class="x-label" x="${px((x0 + x1) / 2)}" y="${px(height - 10)}" font-size="${LABEL_FONT}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    );
  }
  if (spec.yLabel) {
    const cy = (y0 + y1) / 2;
    out.push(
      `<text class="y-label" x="${LABEL_FONT + 2}" y="${px(cy)}" font-size="${LABEL_FONT}" text-anchor="middle" transform="rotate(-90 ${LABEL_FONT + 2} ${px(cy)})">${escapeXml(spec.yLabel)}</text>`,
    );
  }
  if (spec.note) {
    out.push(
      `<text class="note" x="${px((x0 + x1) / 2)}" y="${px((y0 + y1) / 2)}" font-size="${LABEL_FONT}" fill="#888888" text-anchor="middle">${escapeXml(spec.note)}</text>`,
    );
  }

  if (spec.caption) {
    out.push(
      `<text class="caption" x="${px(x1)}" y="${px(y0 - 5)}" font-size="${TICK_FONT - 1}" fill="#888888" text-anchor="end">${escapeXml(spec.caption)}</text>`,
    );
  }

  const tail: string[] = [];
  if (spec.legend.length > 0) {
    const lx = x1 + 14;
    tail.push(`<g class="legend" font-size="${LABEL_FONT}">`);
    spec.legend.forEach((e, i) => {
      const ly = y0 + 10 + i * 18;
      tail.push(
        e.marker === 'line'
          ? `<line x1="${px(lx)}" y1="${px(ly)}" x2="${px(lx + 16)}" y2="${px(ly)}" stroke="${e.color}" stroke-width="2.5"${e.dash ? ` stroke-dasharray="${escapeXml(e.dash)}"` : ''}/>`
          : `<circle cx="${px(lx + 8)}" cy="${px(ly)}" r="4" fill="${e.color}"/>`,
        `<text x="${px(lx + 22)}" y="${px(ly + 4)}">${escapeXml(e.name)}</text>`,
      );
    });
    tail.push('</g>');
  }
  tail.push('</svg>');
  return { sx, sy, head: out.join('\n'), tail: tail.join('\n'), clipId };
}
