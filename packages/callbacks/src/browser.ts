import 'reflect-metadata';

// @selfsup/callbacks in a browser (package.json's `browser` field maps dist/index.js here):
// every callback that needs no file system — the method callbacks (target init, EMA, LR
// schedule, collapse monitor), the kNN / linear-probe evaluations and the progress line —
// and the helpers behind them. Left out, with their config names, since they write files:
// checkpoint, metrics-logger, plots, embedding-plot. test/browser-bundle.test.ts checks that a
// browser bundle of this holds no Node import.
export * from './method';

// eval/index.ts without the embedding plot (writes SVG/PNG files)
export {
  extractFeatures,
  flattenPixels,
  featureTensor,
  type FeatureArray,
  type ExtractedFeatures,
  type FeatureExtractor,
  type ExtractFeaturesOptions,
} from './eval/features';
export { KnnEvaluator, weightedKnn, l2NormalizeRows, type KnnOptions, type KnnResult, type WeightedKnnArgs } from './eval/knn';
export {
  linearProbe,
  type LinearProbeArgs,
  type LinearProbeOptions,
  type LinearProbeResult,
  type ProbeNormalization,
} from './eval/linear-probe';
export { evaluateKnn, evaluateLinearProbe, type DatasetEvalOptions, type DatasetEvalResult } from './eval/evaluate';
export { FeatureEvalCallback, FeatureEvalOptions, BankQueryEvalCallback, BankQueryEvalOptions } from './eval/feature-eval-callback';
export { KnnEvalCallback, KnnEvalOptions, conventionalTargetName, declaredTargetEncoder, type KnnTargetChoice } from './eval/knn-eval-callback';
export { LinearProbeCallback, LinearProbeEvalOptions } from './eval/linear-probe-callback';

// logging/index.ts without the file loggers (metrics JSONL/CSV, plots) and output directories
export { ProgressBarCallback, ProgressBarOptions, type ProgressBarInit, type ProgressStream } from './logging/progress-bar';
export { MetricHistory, metricChart, plotFileStem, type StepPoint, type EpochPoint } from './logging/metric-series';
export {
  formatDuration,
  formatMetric,
  formatRate,
  formatProgressLine,
  formatEpochSummary,
  formatBar,
  type ProgressLine,
} from './logging/progress-format';
export { summarizeConfig, describeError, type SummaryLimits } from './logging/summary';
export type { LoggingExperiment } from './logging/observer';
