// Elementwise kernels the stock wasm backend runs as scalar C++ loops although XNNPACK
// (threaded, SIMD) has an equivalent: Pow with exponent 2 — what tf.norm and many losses
// call — takes ~134 ms per 8M floats stock and ~2 ms as a Multiply (docs/performance.md).
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { asTensor, delegate, type KernelArgs } from './kernel_util';

/** Pow(a, b) with a float32 scalar exponent b = 2 is a·a; everything else goes to the stock kernel. */
export function powKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || tf.util.sizeFromShape(b.shape) !== 1 || b.shape.length > a.shape.length) {
    return delegate('Pow', args, 'not a float32 power with a scalar exponent');
  }
  const exponent = (args.backend as BackendWasm).typedArrayFromHeap(b)[0];
  if (exponent !== 2) return delegate('Pow', args, `exponent ${exponent}`);
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  return tf.tidy(() => {
    const x = asTensor(a);
    return tf.mul(x, x).reshape(outShape);
  });
}
