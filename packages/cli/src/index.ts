import 'reflect-metadata';

export { main } from './main';
export { train, type TrainOptions, type TrainResult } from './train';
export { info } from './info';
