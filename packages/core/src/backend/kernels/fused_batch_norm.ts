// FusedBatchNorm (tf.batchNorm: normalisation with given statistics) for the wasm backend.
// The stock kernel is a scalar C++ loop with a division, a square root and four modulo
// counters per element (~31 ms per 8M floats with a cold cache here); XNNPACK's threaded
// broadcast Multiply and Add do y = x·a + b in ~4–7 ms, with a = scale/√(var + ε) and
// b = offset − mean·a computed per channel in float64 (docs/performance.md).
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { asTensor, delegate, type KernelArgs } from './kernel_util';

/** Values of a tensor of size 1 or C as a Float64Array of length C; null for other sizes. */
function perChannel(be: BackendWasm, t: tf.TensorInfo | undefined, c: number, fallback: number): Float64Array | null {
  const out = new Float64Array(c);
  if (!t) return out.fill(fallback);
  const size = tf.util.sizeFromShape(t.shape);
  if (size !== 1 && size !== c) return null;
  const v = be.typedArrayFromHeap(t);
  for (let i = 0; i < c; i++) out[i] = v[size === 1 ? 0 : i];
  return out;
}

/** y = (x − mean)·scale/√(variance + ε) + offset over the last axis; statistics of size 1 or C. */
export function fusedBatchNormKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const eps = (args.attrs as unknown as { varianceEpsilon: number }).varianceEpsilon;
  const be = args.backend as BackendWasm;
  if (!x || !mean || !variance || x.dtype !== 'float32' || x.shape.length === 0) {
    return delegate('FusedBatchNorm', args, 'unsupported inputs');
  }
  const c = x.shape[x.shape.length - 1];
  const m = perChannel(be, mean, c, 0);
  const v = perChannel(be, variance, c, 1);
  const s = perChannel(be, scale, c, 1);
  const o = perChannel(be, offset, c, 0);
  if (!m || !v || !s || !o) return delegate('FusedBatchNorm', args, 'statistics not of size 1 or C');
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const ak = s[k] / Math.sqrt(v[k] + eps);
    a[k] = ak;
    b[k] = o[k] - m[k] * ak;
  }
  return tf.tidy(() => tf.add(tf.mul(asTensor(x), tf.tensor1d(a)), tf.tensor1d(b)));
}
