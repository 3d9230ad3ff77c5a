export * from './portable';
export { EmbeddingPlotCallback, EmbeddingPlotOptions, writeEmbeddingPlot, type EmbeddingPlotFiles } from './embedding-plot-callback';
