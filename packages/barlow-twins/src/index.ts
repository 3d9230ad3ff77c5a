import 'reflect-metadata';
export * from './loss';
export * from './barlow-twins-experiment';
