import 'reflect-metadata';
export * from './loss';
export * from './vicreg-experiment';
