// `--baseline`: undo the BYOL-step optimisations of issue 3's second round, for an A/B run
// on the same machine: the stock wasm BatchMatMul / _FusedMatMul (slow with transposed
// operands) and tf.layers' own batch-norm training path (autodiff through tf.moments).
import * as tf from '@tensorflow/tfjs';
import { stockWasmKernel } from '@selfsup/core';
import { TrainingBatchNormalization } from '@selfsup/byol';

/**
 * `--stock FusedBatchNorm,Pow,GatherV2`: put back the stock wasm kernels of these names (ones
 * selfsup replaced; the others stay), for A/B runs of single kernels. Returns the names undone.
 */
export function useStockKernels(names: string[]): string[] {
  const undone: string[] = [];
  for (const name of names) {
    const stock = stockWasmKernel(name);
    if (!stock) throw new Error(`--stock: selfsup does not replace a wasm kernel named "${name}" that has a stock version`);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: stock });
    undone.push(name);
  }
  return undone;
}

export function useBaselineKernels(): string[] {
  const undone = useStockKernels(['BatchMatMul', '_FusedMatMul']);
  const proto = TrainingBatchNormalization.prototype as unknown as { call: unknown };
  proto.call = (Object.getPrototypeOf(proto) as { call: unknown }).call;
  undone.push('TrainingBatchNormalization.call');
  return undone;
}
