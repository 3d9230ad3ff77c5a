import * as tf from '@tensorflow/tfjs';

const logSumExpRowsOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor2D;
  const save = args[1] as tf.GradSaveFunc;
  const value = tf.logSumExp(x, 1) as tf.Tensor1D;
  save([x, value]);
  return {
    value,
    // ∂/∂x of log Σⱼ exp(xᵢⱼ) is softmax(xᵢ) = exp(xᵢⱼ − lseᵢ); times the incoming gradient of row i
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [xs, lse] = saved;
      const rows = xs.shape[0] as number;
      return tf.mul(tf.exp(tf.sub(xs, tf.reshape(lse, [rows, 1]))), tf.reshape(dy as tf.Tensor, [rows, 1]));
    },
  };
});

/**
 * log Σⱼ exp(xᵢⱼ) of each row of x ([rows, cols] → [rows]): the same values as
 * `tf.logSumExp(x, 1)`, bit for bit, with the gradient written as softmax · dy. tfjs's own
 * gradient also runs back through the max it subtracts for stability, whose contributions cancel
 * (to rounding) but cost a broadcast `Equal` over the whole matrix: on wasm ~50 ms for MoCo's
 * [128 × 4097] logits, a quarter of its step.
 */
export function logSumExpRows(x: tf.Tensor2D): tf.Tensor1D {
  if (x.rank !== 2) throw new Error(`logSumExpRows: x must be [rows, cols], got ${JSON.stringify(x.shape)}.`);
  return logSumExpRowsOp(x) as tf.Tensor1D;
}
