export * from './config';
export * from './ssl-experiment';
