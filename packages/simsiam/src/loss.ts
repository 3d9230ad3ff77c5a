import * as tf from '@tensorflow/tfjs';
import { l2Normalize, stopGradient } from '@selfsup/ssl';

/** D(p, z) = −cos(p, sg(z)), averaged over the batch; the target side z gets no gradient. */
export function negativeCosine(p: tf.Tensor2D, z: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(l2Normalize(p), l2Normalize(stopGradient(z))), -1))) as tf.Scalar);
}

/** SimSiam's symmetric loss ½·D(p₁, sg(z₂)) + ½·D(p₂, sg(z₁)), in [−1, 1] (−1: the views agree). */
export function simSiamLoss(p1: tf.Tensor2D, z2: tf.Tensor2D, p2: tf.Tensor2D, z1: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mul(0.5, tf.add(negativeCosine(p1, z2), negativeCosine(p2, z1))) as tf.Scalar);
}
