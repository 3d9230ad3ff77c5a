export { lineChartSvg, type LineChartSpec, type LineSeries } from './line-chart';
export { scatterSvg, type ScatterSpec, type ScatterPoint } from './scatter';
export { svgToPng, type PngInfo } from './png';
export { pca2, type Pca2Result, type Pca2Options } from './pca';
export { CATEGORICAL_PALETTE, categoricalColor } from './palette';
export { niceTicks, formatTick, escapeXml, type Ticks, type NiceTicksOptions } from './svg-util';
