import 'reflect-metadata';
// The method's callbacks must be registered wherever `method: byol` can be named.
import '@selfsup/callbacks';

export * from './models';
export * from './loss';
export * from './optim';
export * from './augment';
export * from './experiment';
