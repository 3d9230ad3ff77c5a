// The logging parts with no Node module, which @selfsup/callbacks' browser entry
// (src/browser.ts) exports too: the progress line, metric series and formatting. ./index.ts
// adds the file loggers (metrics JSONL/CSV, plots) and output directories.
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
export type { LoggingExperiment } from './observer';
