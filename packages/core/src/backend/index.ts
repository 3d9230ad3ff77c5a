export * from './types';
export { selectBackend, availableBackends, describeBackends, currentBackend } from './select';
export { nativeInstallHelp, NATIVE_PACKAGES, LAST_NODE_MAJOR_FOR_NATIVE } from './native';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './kernels/register';
export { conv2dBackpropFilterImpl, conv2dBackpropInputImpl, depthwiseBackpropFilterImpl } from './kernels/conv_grads';
export { accumulateGradients, splitBatch, type AccumulatedGradients } from './memory';
export { batchNormTraining, type BatchNormTrainingResult } from './batch_norm';
export { originalKernel as stockWasmKernel } from './kernels/kernel_util';
