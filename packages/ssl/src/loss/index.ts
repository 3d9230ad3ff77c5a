export { zStd } from './z-std';
export { l2Normalize, stopGradient } from './normalize';
export { logSumExpRows } from './log-sum-exp';
