export * from './portable';
export { MetricsLoggerCallback, MetricsLoggerOptions, METRICS_JSONL, METRICS_CSV, TRAIN_LOG, type MetricsRow } from './metrics-logger';
export { PlotsCallback, PlotsOptions, type PlotFiles } from './plots-callback';
export { resolveOutputDir } from './output-dir';
