import 'reflect-metadata';

export * from './util/rng';
export * from './backend';
export * from './data';
export * from './io';
