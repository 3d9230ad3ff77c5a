export * from './experiment';
export type { MethodRunInfo, RunContext } from './run-context';
export * from './logs';
export * from './history';
export * from './checkpoint';
