export * from './registry';
export * from './load';
export * from './run';
