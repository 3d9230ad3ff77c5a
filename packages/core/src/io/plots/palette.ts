/**
 * Categorical colours for classes and series.
 *
 * @packageDocumentation
 */

/** Tableau 10, a palette designed so the ten colours stay distinguishable. */
export const CATEGORICAL_PALETTE: readonly string[] = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** Colour number `i`: the palette first, then hues spaced by the golden angle. */
export function categoricalColor(i: number): string {
  if (i < CATEGORICAL_PALETTE.length) return CATEGORICAL_PALETTE[i];
  const hue = Math.round((i * 137.508) % 360);
  return `hsl(${hue}, 55%, ${i % 2 === 0 ? 45 : 60}%)`;
}
