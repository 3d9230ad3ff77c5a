// The schedules are generic (the lr-schedule and ema callbacks use them too), so they live
// in @selfsup/core; re-exported here for BYOL users.
export { warmupCosineLr, cosineWithWarmupFactorLr, scaleLrByBatch, cosineTau, type WarmupCosineOptions, type CosineTauOptions } from '@selfsup/core';
