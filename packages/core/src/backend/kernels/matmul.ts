// Matrix products with a transposed operand. The stock wasm BatchMatMul with transposeA or
// transposeB runs ~8–15× slower than without (measured: [256,512]ᵀ·[256,4096] 3.2 s against
// 0.16 s with an explicit transpose first); every dense layer's backward pass asks for
// both (dW = xᵀ·dy, dx = dy·Wᵀ). Transposing the operand explicitly and multiplying
// without flags gives the same product.
import * as tf from '@tensorflow/tfjs';
import { asTensor, delegate, type KernelArgs } from './kernel_util';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: tf.fused.Activation;
  leakyreluAlpha?: number;
}

/** Swaps the last two axes (a plain 2-D / batched 2-D transpose that XNNPACK handles well). */
export function swapInner(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  const perm = x.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/** Why the stock kernel should run instead, or null when the operands can be pre-transposed. */
function unsupported(args: KernelArgs): string | null {
  const { transposeA, transposeB } = args.attrs as unknown as MatMulAttrs;
  if (!transposeA && !transposeB) return 'no transposed operand';
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return `dtype ${a.dtype}/${b.dtype}`;
  return null;
}

function untransposed(args: KernelArgs): { a: tf.Tensor; b: tf.Tensor } {
  const { transposeA, transposeB } = args.attrs as unknown as MatMulAttrs;
  const a = asTensor(args.inputs.a as tf.TensorInfo);
  const b = asTensor(args.inputs.b as tf.TensorInfo);
  return { a: transposeA ? swapInner(a) : a, b: transposeB ? swapInner(b) : b };
}

export function batchMatMulKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const why = unsupported(args);
  if (why) return delegate('BatchMatMul', args, why);
  return tf.tidy(() => {
    const ops = untransposed(args);
    // re-enters this kernel without transposes, hence the stock one
    return tf.matMul(ops.a, ops.b);
  });
}

export function fusedMatMulKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const why = unsupported(args);
  if (why) return delegate('_FusedMatMul', args, why);
  const attrs = args.attrs as unknown as MatMulAttrs;
  return tf.tidy(() => {
    const ops = untransposed(args);
    const { bias, preluActivationWeights } = args.inputs as { bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
    return tf.fused.matMul({
      a: ops.a,
      b: ops.b,
      bias: bias ? asTensor(bias) : undefined,
      activation: attrs.activation,
      preluActivationWeights: preluActivationWeights ? asTensor(preluActivationWeights) : undefined,
      leakyreluAlpha: attrs.leakyreluAlpha,
    });
  });
}
