export * from './experiment';
export * from './logs';
export * from './history';
export * from './checkpoint';
