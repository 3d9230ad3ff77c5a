// FusedBatchNorm (tf.batchNorm: normalisation with given statistics) for the wasm backend.
// The stock kernel is a scalar C++ loop with a division, a square root and four modulo
// counters per element (~31 ms per 8M floats with a cold cache here). y = x·a + b with
// a = scale/√(var + ε) and b = offset − mean·a (per channel, in float64) is a 1×1 depthwise
// conv with bias, one threaded XNNPACK pass: ~2.3 ms for 8M floats (docs/performance.md).
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
  // A 1×1 depthwise conv with bias is x·a + b per channel in one XNNPACK pass (2–4× faster
  // than Multiply then Add, same bits: no fused multiply-add in this build).
  const x4 = x.shape.length === 4 ? x.shape : [1, tf.util.sizeFromShape(x.shape) / c, 1, c];
  return tf.tidy(() =>
    tf.fused
      .depthwiseConv2d({
        x: asTensor(x).reshape(x4) as tf.Tensor4D,
        filter: tf.tensor4d(a, [1, 1, c, 1]),
        strides: 1,
        pad: 'valid',
        bias: tf.tensor1d(b),
      })
      .reshape(x.shape),
  );
}
