import 'reflect-metadata';

export * from './method';
export * from './eval';
export * from './logging';
export * from './checkpoint';
