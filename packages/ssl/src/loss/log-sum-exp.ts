import * as tf from '@tensorflow/tfjs';

const logSumExpRowsOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor2D;
  const save = args[1] as tf.GradSaveFunc;
  const rows = x.shape[0];
  // tf.logSumExp(x, 1), op for op (so the same values), keeping e = exp(x − max) and its row sums
  const xMax = tf.max(x, 1, true);
  const e = tf.exp(tf.sub(x, xMax));
  const sums = tf.sum(e, 1);
  const value = tf.add(tf.reshape(xMax, [rows]), tf.log(sums)) as tf.Tensor1D;
  save([e, sums]);
  return {
    value,
    // ∂/∂x of log Σⱼ exp(xᵢⱼ) is softmax(xᵢ) = eᵢⱼ / Σⱼ eᵢⱼ; times the incoming gradient of row i
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [es, s] = saved;
      return tf.mul(es, tf.reshape(tf.div(dy as tf.Tensor, s), [rows, 1]));
    },
  };
});

/**
 * log Σⱼ exp(xᵢⱼ) of each row of x ([rows, cols] → [rows]): the same values as
 * `tf.logSumExp(x, 1)`, bit for bit, with the gradient written as softmax · dy from the
 * forward pass's exponentials (no second exp over the matrix). tfjs's own
 * gradient also runs back through the max it subtracts for stability, whose contributions cancel
 * (to rounding) but cost a broadcast `Equal` over the whole matrix: on wasm ~50 ms for MoCo's
 * [128 × 4097] logits, a quarter of its step.
 */
export function logSumExpRows(x: tf.Tensor2D): tf.Tensor1D {
  if (x.rank !== 2) throw new Error(`logSumExpRows: x must be [rows, cols], got ${JSON.stringify(x.shape)}.`);
  return logSumExpRowsOp(x) as tf.Tensor1D;
}
