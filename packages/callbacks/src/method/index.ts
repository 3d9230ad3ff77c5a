export * from './pairs';
export * from './target-init';
export * from './ema';
export * from './lr-schedule';
export * from './collapse-monitor';
