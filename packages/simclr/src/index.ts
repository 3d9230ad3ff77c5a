import 'reflect-metadata';
export * from './loss';
export * from './simclr-experiment';
