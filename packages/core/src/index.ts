import 'reflect-metadata';

export * from './util/rng';
export * from './schedules';
export * from './callbacks';
export * from './experiment';
export * from './plugins';
export * from './config';
export * from './backend';
export * from './data';
export * from './io';
