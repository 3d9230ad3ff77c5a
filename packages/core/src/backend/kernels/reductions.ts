// Reductions over the leading axes of a tensor (per-channel sums of an NHWC activation:
// batch-norm statistics and their gradients, bias gradients). The stock wasm Sum/Mean
// first transpose the reduced axes innermost, a slow 4-D permutation (~100 ms per 8M
// floats). XNNPACK's average pooling over x viewed as [1, R, 1, C] with an R×1 window
// computes the same per-channel mean at memory speed (1–5 ms).
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { asTensor, delegate, type KernelArgs } from './kernel_util';

/** Number of leading axes reduced when `axes` is exactly [0..k), k < rank; else 0. */
export function leadingAxesCount(axes: number[], rank: number): number {
  const sorted = [...axes].sort((a, b) => a - b);
  const k = sorted.length;
  if (k === 0 || k >= rank) return 0;
  for (let i = 0; i < k; i++) if (sorted[i] !== i) return 0;
  return k;
}

function reduceLeading(kernel: 'Sum' | 'Mean', args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  if (x.dtype !== 'float32') return delegate(kernel, args, `dtype ${x.dtype}`);
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const k = leadingAxesCount(axes, x.shape.length);
  const rows = tf.util.sizeFromShape(x.shape.slice(0, k));
  if (k === 0 || rows < 2) return delegate(kernel, args, 'not a leading-axes reduction');
  const cols = tf.util.sizeFromShape(x.shape.slice(k));
  const outShape = keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  return tf.tidy(() => {
    const mean = tf.avgPool(asTensor(x).reshape([1, rows, 1, cols]) as tf.Tensor4D, [rows, 1], 1, 'valid');
    return (kernel === 'Sum' ? tf.mul(mean, rows) : mean).reshape(outShape);
  });
}

export const sumKernel = (args: KernelArgs) => reduceLeading('Sum', args);
export const meanKernel = (args: KernelArgs) => reduceLeading('Mean', args);

/**
 * Fills dst (already holding nothing useful) with src tiled by `reps`: each axis copies
 * its first block and then doubles it with copyWithin, so broadcasting a [1,1,1,C]
 * vector to [N,H,W,C] costs O(log N + log H + log W) memmoves.
 */
export function tileInto(
  src: tf.TypedArray | Uint8Array,
  shape: number[],
  reps: number[],
  dst: tf.TypedArray | Uint8Array,
): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  const outShape = shape.map((d, i) => d * reps[i]);
  const inStrides = tf.util.computeStrides(shape).concat([1]);
  const outStrides = tf.util.computeStrides(outShape).concat([1]);
  const replicate = (off: number, len: number, times: number) => {
    const total = len * times;
    let filled = len;
    while (filled < total) {
      const n = Math.min(filled, total - filled);
      dst.copyWithin(off + filled, off, off + n);
      filled += n;
    }
  };
  const fill = (d: number, inOff: number, outOff: number) => {
    if (d === rank - 1) {
      dst.set(src.subarray(inOff, inOff + shape[d]), outOff);
    } else {
      for (let i = 0; i < shape[d]; i++) fill(d + 1, inOff + i * inStrides[d], outOff + i * outStrides[d]);
    }
    replicate(outOff, shape[d] * outStrides[d], reps[d]);
  };
  fill(0, 0, 0);
}

// Below this many elements per innermost run, the per-run JS overhead loses to the
// stock C++ loop.
const MIN_TILE_RUN = 16;

export function tileKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const { reps } = args.attrs as unknown as { reps: number[] };
  if (x.dtype === 'string' || x.dtype === 'complex64') return delegate('Tile', args, `dtype ${x.dtype}`);
  const rank = x.shape.length;
  if (rank > 0 && x.shape[rank - 1] < MIN_TILE_RUN && tf.util.sizeFromShape(x.shape) > 1) {
    return delegate('Tile', args, 'short inner runs');
  }
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(x.shape.map((d, i) => d * reps[i]), x.dtype);
  if (tf.util.sizeFromShape(out.shape) === 0) return out;
  tileInto(backend.typedArrayFromHeap(x), x.shape, reps, backend.typedArrayFromHeap(out));
  return out;
}
