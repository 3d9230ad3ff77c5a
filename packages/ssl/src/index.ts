import 'reflect-metadata';

// What self-supervised methods share; each method package (@selfsup/byol, @selfsup/simclr, ...)
// builds on these and adds only its loss and heads.
export * from './models';
export * from './loss';
export * from './optim';
export * from './augment';
export * from './experiment';
