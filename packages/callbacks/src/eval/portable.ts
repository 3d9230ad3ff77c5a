// The evaluations with no Node module, which @selfsup/callbacks' browser entry (src/browser.ts)
// exports too: features, kNN, the linear probe and their callbacks. ./index.ts adds the
// embedding plot (it writes SVG/PNG files).
export {
  extractFeatures,
  flattenPixels,
  featureTensor,
  type FeatureArray,
  type ExtractedFeatures,
  type FeatureExtractor,
  type ExtractFeaturesOptions,
} from './features';
export { KnnEvaluator, weightedKnn, l2NormalizeRows, type KnnOptions, type KnnResult, type WeightedKnnArgs } from './knn';
export {
  linearProbe,
  type LinearProbeArgs,
  type LinearProbeOptions,
  type LinearProbeResult,
  type ProbeNormalization,
} from './linear-probe';
export { evaluateKnn, evaluateLinearProbe, type DatasetEvalOptions, type DatasetEvalResult } from './evaluate';
export { FeatureEvalCallback, FeatureEvalOptions, BankQueryEvalCallback, BankQueryEvalOptions } from './feature-eval-callback';
export { KnnEvalCallback, KnnEvalOptions, conventionalTargetName, declaredTargetEncoder, type KnnTargetChoice } from './knn-eval-callback';
export { LinearProbeCallback, LinearProbeEvalOptions } from './linear-probe-callback';
