import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterImpl, conv2dBackpropInputImpl, depthwiseBackpropFilterImpl } from './conv_grads';
import { castKernel, gatherKernel, identityKernel, sliceKernel, splitVKernel, unpackKernel } from './heap_views';
import { meanKernel, sumKernel, tileKernel } from './reductions';
import { batchMatMulKernel, fusedMatMulKernel } from './matmul';
import { fusedBatchNormKernel } from './fused_batch_norm';
import { powKernel } from './elementwise';
import { asTensor, delegate, replaceWasmKernel, type KernelArgs, type KernelFunc } from './kernel_util';

type Shape4 = [number, number, number, number];
interface ConvAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
  filterShape?: Shape4;
  inputShape?: Shape4;
}

const dilated = (d: ConvAttrs['dilations']) => d != null && [d].flat().some((v) => v !== 1);

const conv2dBackpropFilter: KernelFunc = (args) => {
  const a = args.attrs as unknown as ConvAttrs;
  if (a.dataFormat === 'NCHW') return delegate('Conv2DBackpropFilter', args, 'NCHW data format');
  return conv2dBackpropFilterImpl(
    asTensor<tf.Tensor4D>(args.inputs.x as tf.TensorInfo),
    asTensor<tf.Tensor4D>(args.inputs.dy as tf.TensorInfo),
    a.filterShape as Shape4, a.strides, a.pad, a.dimRoundingMode);
};

const conv2dBackpropInput: KernelFunc = (args) => {
  const a = args.attrs as unknown as ConvAttrs;
  if (a.dataFormat === 'NCHW') return delegate('Conv2DBackpropInput', args, 'NCHW data format');
  return conv2dBackpropInputImpl(
    asTensor<tf.Tensor4D>(args.inputs.dy as tf.TensorInfo),
    asTensor<tf.Tensor4D>(args.inputs.filter as tf.TensorInfo),
    a.inputShape as Shape4, a.strides, a.pad, a.dimRoundingMode);
};

function depthwiseUnsupported(args: KernelArgs, multiplier: number): string | null {
  const a = args.attrs as unknown as ConvAttrs;
  if (multiplier !== 1) return `channel multiplier ${multiplier} (only 1 is supported)`;
  if (dilated(a.dilations)) return 'dilations > 1';
  return null;
}

const depthwiseBackpropInput: KernelFunc = (args) => {
  const a = args.attrs as unknown as ConvAttrs;
  const filter = args.inputs.filter as tf.TensorInfo;
  const why = depthwiseUnsupported(args, filter.shape[3]);
  if (why) return delegate('DepthwiseConv2dNativeBackpropInput', args, why);
  return conv2dBackpropInputImpl(
    asTensor<tf.Tensor4D>(args.inputs.dy as tf.TensorInfo), asTensor<tf.Tensor4D>(filter),
    a.inputShape as Shape4, a.strides, a.pad, a.dimRoundingMode, true);
};

const depthwiseBackpropFilter: KernelFunc = (args) => {
  const a = args.attrs as unknown as ConvAttrs;
  const why = depthwiseUnsupported(args, (a.filterShape as Shape4)[3]);
  if (why) return delegate('DepthwiseConv2dNativeBackpropFilter', args, why);
  return depthwiseBackpropFilterImpl(
    asTensor<tf.Tensor4D>(args.inputs.x as tf.TensorInfo), asTensor<tf.Tensor4D>(args.inputs.dy as tf.TensorInfo),
    a.filterShape as Shape4, a.strides, a.pad, a.dimRoundingMode);
};

/** The kernels selfsup adds to or replaces in the wasm backend, by tfjs kernel name. */
export const WASM_TRAINING_KERNELS: Readonly<Record<string, KernelFunc>> = {
  Conv2DBackpropFilter: conv2dBackpropFilter,
  Conv2DBackpropInput: conv2dBackpropInput,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
  Identity: identityKernel,
  Cast: castKernel,
  Slice: sliceKernel,
  Unpack: unpackKernel,
  SplitV: splitVKernel,
  GatherV2: gatherKernel,
  Sum: sumKernel,
  Mean: meanKernel,
  Tile: tileKernel,
  BatchMatMul: batchMatMulKernel,
  _FusedMatMul: fusedMatMulKernel,
  FusedBatchNorm: fusedBatchNormKernel,
  Pow: powKernel,
};

/**
 * Registers selfsup's training kernels for the 'wasm' backend (idempotent; the stock
 * kernels stay reachable for the cases these do not cover). `selectBackend` calls this
 * whenever it picks wasm. Returns the kernel names.
 */
export function registerWasmTrainingKernels(): string[] {
  for (const [name, fn] of Object.entries(WASM_TRAINING_KERNELS)) replaceWasmKernel(name, fn);
  return Object.keys(WASM_TRAINING_KERNELS);
}
