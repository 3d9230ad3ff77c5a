export * from './config';
export * from './byol-experiment';
