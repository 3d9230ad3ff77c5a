import 'reflect-metadata';

export * from './method';
