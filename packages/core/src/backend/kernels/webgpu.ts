import * as tf from '@tensorflow/tfjs';

/**
 * Every kernel a BYOL training run dispatches (byol-fashion-mnist.yaml and tiny.yaml with
 * lars, sgd, adam and adamw: augmentations, forward, backward, optimizers, EMA, the kNN
 * evaluation), recorded on the cpu backend. tfjs-backend-webgpu 4.22 registers all of them,
 * so selfsup adds no webgpu kernels (unlike wasm: ./register.ts); test/webgpu-parity.test.ts
 * checks their values and gradients against the cpu backend. Augment presets with colour
 * jitter, blur and solarize are covered by that test too.
 */
export const WEBGPU_TRAINING_KERNELS: readonly string[] = [
  'Abs', 'Add', 'Any', 'BatchMatMul', 'Cast', 'ClipByValue', 'Concat', 'Conv2DBackpropFilter',
  'Conv2DBackpropInput', 'CropAndResize', 'Exp', 'ExpandDims', 'FlipLeftRight', 'FusedBatchNorm',
  'FusedConv2D', 'GatherV2', 'Greater', 'GreaterEqual', 'Identity', 'IsFinite', 'LogicalAnd',
  'LogicalNot', 'Maximum', 'Mean', 'Minimum', 'Multiply', 'Neg', 'OneHot', 'OnesLike', 'Pack',
  'PadV2', 'Pow', 'RealDiv', 'Relu', 'Reshape', 'Rsqrt', 'Select', 'Slice', 'SplitV', 'Sqrt',
  'Square', 'Step', 'Sub', 'Sum', 'TopK', 'Transpose', 'ZerosLike', '_FusedMatMul',
];

/**
 * Checks that the webgpu backend has every kernel training needs and returns the missing
 * ones (none with tfjs-backend-webgpu 4.22.0; a different version might drop some).
 */
export function registerWebgpuTrainingKernels(): string[] {
  return WEBGPU_TRAINING_KERNELS.filter((k) => tf.getKernel(k, 'webgpu') == null);
}
