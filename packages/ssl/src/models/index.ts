export { buildResNet, resnetFeatureDim, type ResNetDepth, type ResNetStem, type ResNetOptions } from './resnet';
export { wrapBackbone, type WrapBackboneOptions } from './wrap';
export {
  BACKBONE_NAMES,
  createBackbone,
  backboneFeatureDim,
  isBackboneName,
  type BackboneName,
  type BackboneOptions,
} from './registry';
export { buildMlpHead, type MlpHeadOptions } from './heads';
export { TrainingBatchNormalization, batchNormalization } from './batch-norm';
export { FusableReLU, FusableAdd, feedsOnlyRelu } from './fusion';
export { countTrainableParams, countAllParams, trainableVariables } from './params';
export { convKaimingNormalFanOut, linearUniform, TORCH_BATCH_NORM } from './init';
