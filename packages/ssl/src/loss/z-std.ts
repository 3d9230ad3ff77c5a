import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from './normalize';

/**
 * Collapse signal: standard deviation over the batch of the L2-normalised projections,
 * averaged over dimensions (solo-learn's `z_std`, lightly's `std_of_l2_normalized`).
 * Uses the unbiased (n − 1) estimator like `torch.std`. Healthy ≈ 1/√dim, collapsed → 0.
 * Not differentiated through in practice, but pure tfjs ops so it can run in a train step.
 */
export function zStd(z: tf.Tensor2D): tf.Scalar {
  if (z.rank !== 2) throw new Error(`zStd: expected projections of shape [batch, dim], got ${JSON.stringify(z.shape)}.`);
  const n = z.shape[0];
  if (n < 2) throw new Error(`zStd: needs a batch of at least 2 projections to measure spread, got ${n}.`);
  return tf.tidy(() => {
    const { variance } = tf.moments(l2Normalize(z), 0);
    return tf.mean(tf.sqrt(tf.mul(variance, n / (n - 1)))) as tf.Scalar;
  });
}
