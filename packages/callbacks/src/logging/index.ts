export { MetricsLoggerCallback, MetricsLoggerOptions, METRICS_JSONL, METRICS_CSV, TRAIN_LOG, type MetricsRow } from './metrics-logger';
export { PlotsCallback, PlotsOptions, type PlotFiles } from './plots-callback';
export { ProgressBarCallback, ProgressBarOptions, type ProgressBarInit, type ProgressStream } from './progress-bar';
export { MetricHistory, metricChart, plotFileStem, type StepPoint, type EpochPoint } from './metric-series';
export {
  formatDuration,
  formatMetric,
  formatRate,
  formatProgressLine,
  formatEpochSummary,
  formatBar,
  type ProgressLine,
} from './progress-format';
export { summarizeConfig, describeError, type SummaryLimits } from './summary';
export { resolveOutputDir, type LoggingExperiment } from './output-dir';
