import 'reflect-metadata';
export * from './loss';
export * from './simsiam-experiment';
