// `--baseline`: undo the BYOL-step optimisations of issue 3's second round, for an A/B run
// on the same machine: the stock wasm BatchMatMul / _FusedMatMul (slow with transposed
// operands) and tf.layers' own batch-norm training path (autodiff through tf.moments).
import * as tf from '@tensorflow/tfjs';
import { stockWasmKernel } from '@selfsup/core';
import { TrainingBatchNormalization } from '@selfsup/byol';

export function useBaselineKernels(): string[] {
  const undone: string[] = [];
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const stock = stockWasmKernel(name);
    if (!stock) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: stock });
    undone.push(name);
  }
  const proto = TrainingBatchNormalization.prototype as unknown as { call: unknown };
  proto.call = (Object.getPrototypeOf(proto) as { call: unknown }).call;
  undone.push('TrainingBatchNormalization.call');
  return undone;
}
