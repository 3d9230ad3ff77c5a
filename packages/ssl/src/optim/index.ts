export { SlotOptimizer, type SlotOptimizerOptions, type NamedTensorLike, type StepContext } from './slot-optimizer';
export { LARS, type LarsOptions } from './lars';
export { SGD, type SgdOptions } from './sgd';
export { Adam, AdamW, type AdamOptions } from './adam';
export { isBiasOrNormParam, excludeNothing, type ExcludeFn } from './exclude';
export { createOptimizer, OPTIMIZER_NAMES, type OptimizerName, type OptimizerConfig } from './factory';
export { warmupCosineLr, cosineWithWarmupFactorLr, scaleLrByBatch, cosineTau, type WarmupCosineOptions, type CosineTauOptions } from './schedules';
