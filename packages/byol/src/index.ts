import 'reflect-metadata';
// The method's callbacks must be registered wherever `method: byol` can be named.
import '@selfsup/callbacks';

// The shared pieces (backbones, heads, optimizers, augmentations, z_std, SslExperiment) live
// in @selfsup/ssl; @selfsup/byol still exports them under the same names.
export * from '@selfsup/ssl';
export * from './loss';
export * from './experiment';
