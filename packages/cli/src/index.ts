import 'reflect-metadata';

export { main } from './main';
export { train, type TrainOptions, type TrainResult } from './train';
export { info } from './info';
export { chooseEncoder, parseEncoderChoice, pickEncoder, pickTargetEncoder, targetEncoderName, type EncoderChoice, type EncoderDecision } from './encoder';
export { exportEncoder, type ExportOptions } from './export';
export { evaluate, type EvalOptions, type EvalResult } from './eval';
