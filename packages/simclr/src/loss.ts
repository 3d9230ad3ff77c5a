import * as tf from '@tensorflow/tfjs';
import { l2Normalize, logSumExpRows } from '@selfsup/ssl';

/**
 * NT-Xent (SimCLR, Chen et al. 2020): the 2N projections of both views, L2-normalised; row i's
 * positive is the other view of the same image (i ± N), its negatives the 2N − 2 others; the
 * loss is the mean over the 2N rows of the cross-entropy of softmax(cos(zᵢ, ·)/T) over the
 * 2N − 1 rows other than i, at the positive. A row is never compared with itself.
 */
export function ntXentLoss(z1: tf.Tensor2D, z2: tf.Tensor2D, temperature: number): tf.Scalar {
  if (z1.rank !== 2 || z2.rank !== 2 || z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1]) {
    throw new Error(`ntXentLoss: both views must be [batch, dim] with equal shapes, got ${JSON.stringify(z1.shape)} and ${JSON.stringify(z2.shape)}.`);
  }
  if (!(temperature > 0)) throw new Error(`ntXentLoss: temperature must be > 0, got ${temperature}.`);
  const n = z1.shape[0];
  return tf.tidy(() => {
    const z = l2Normalize(tf.concat([z1, z2], 0));
    const sim = tf.div(tf.matMul(z, z, false, true), temperature) as tf.Tensor2D;
    // self-similarity out of the softmax: −1e9 on the diagonal (exp underflows to 0)
    const masked = tf.sub(sim, tf.mul(tf.eye(2 * n), 1e9));
    const positives = Array.from({ length: 2 * n }, (_, i) => (i < n ? i + n : i - n));
    const pos = tf.sum(tf.mul(sim, tf.oneHot(tf.tensor1d(positives, 'int32'), 2 * n)), 1);
    return tf.mean(tf.sub(logSumExpRows(masked as tf.Tensor2D), pos)) as tf.Scalar;
  });
}
