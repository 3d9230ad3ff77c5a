export { byolRegressionLoss, multiCropByolLoss, symmetricByolLoss } from './byol-loss';
// moved to @selfsup/ssl (shared by every method); still exported from @selfsup/byol
export { zStd, l2Normalize, stopGradient } from '@selfsup/ssl';
