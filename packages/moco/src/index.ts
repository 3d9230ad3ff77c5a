import 'reflect-metadata';
// The method's callbacks (target-init, ema) must be registered wherever `method: moco` can be named.
import '@selfsup/callbacks';

export * from './loss';
export * from './queue';
export * from './moco-experiment';
