import * as tf from '@tensorflow/tfjs';
import { l2Normalize, stopGradient } from './normalize';

function checkPair(p: tf.Tensor, z: tf.Tensor, fn: string): void {
  if (p.rank !== 2 || z.rank !== 2 || p.shape[0] !== z.shape[0] || p.shape[1] !== z.shape[1]) {
    throw new Error(
      `${fn}: prediction and target must both be [batch, dim] with equal shapes, got ` +
        `${JSON.stringify(p.shape)} and ${JSON.stringify(z.shape)}.`,
    );
  }
}

/**
 * BYOL regression loss, one direction: mean over the batch of
 * ‖p̄ − z̄‖² = 2 − 2·cos(p, z), where z (the target projection) is stop-gradiented.
 * Range [0, 4]. Returns a scalar; safe inside `tf.tidy` and gradient functions.
 */
export function byolRegressionLoss(p: tf.Tensor2D, z: tf.Tensor2D): tf.Scalar {
  checkPair(p, z, 'byolRegressionLoss');
  return tf.tidy(() => {
    const cos = tf.sum(tf.mul(l2Normalize(p), l2Normalize(stopGradient(z))), -1);
    return tf.mean(tf.sub(2, tf.mul(2, cos))) as tf.Scalar;
  });
}

/**
 * Symmetric BYOL loss as in the paper: ℓ(q(z₁), z'₂) + ℓ(q(z₂), z'₁), the *sum* of both
 * directions (range [0, 8]). `p1`, `p2`: online predictions of view 1 and 2; `z1`, `z2`:
 * target projections of view 1 and 2.
 */
export function symmetricByolLoss(p1: tf.Tensor2D, z2: tf.Tensor2D, p2: tf.Tensor2D, z1: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.add(byolRegressionLoss(p1, z2), byolRegressionLoss(p2, z1)) as tf.Scalar);
}
