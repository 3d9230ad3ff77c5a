import * as tf from '@tensorflow/tfjs';
import { l2Normalize, stopGradient } from '@selfsup/ssl';

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

/**
 * BYOL loss with multi-crop local views (SwAV-style, as solo-learn and DINO do it): 2 × the
 * mean over pairs of ℓ(p, sg(z)), the pairs being (view 1's prediction, view 2's target
 * projection), (view 2's, view 1's), and every local crop's prediction with each of the two
 * target projections. `pLocal` holds the local crops' online predictions, [count·N, dim],
 * crop-major (rows c·N … c·N + N − 1 are crop c), as `localCropViews` makes them. Without
 * local crops (undefined or zero rows) it is exactly `symmetricByolLoss`; with `count` crops
 * the range is still [0, 8].
 */
export function multiCropByolLoss(p1: tf.Tensor2D, z2: tf.Tensor2D, p2: tf.Tensor2D, z1: tf.Tensor2D, pLocal?: tf.Tensor2D): tf.Scalar {
  if (pLocal === undefined || pLocal.shape[0] === 0) return symmetricByolLoss(p1, z2, p2, z1);
  const n = z1.shape[0];
  if (pLocal.rank !== 2 || n === 0 || pLocal.shape[0] % n !== 0 || pLocal.shape[1] !== z1.shape[1]) {
    throw new Error(
      `multiCropByolLoss: local predictions must be [count·N, dim] for N = ${n} images of dim ${z1.shape[1]}, got ${JSON.stringify(pLocal.shape)}.`,
    );
  }
  const count = pLocal.shape[0] / n;
  return tf.tidy(() => {
    const global = symmetricByolLoss(p1, z2, p2, z1);
    // the mean over count·N rows of a tiled target is (1/count) Σ_c (crop c's batch mean)
    const local1 = byolRegressionLoss(pLocal, tf.tile(z1, [count, 1]) as tf.Tensor2D);
    const local2 = byolRegressionLoss(pLocal, tf.tile(z2, [count, 1]) as tf.Tensor2D);
    const pairs = 2 + 2 * count;
    const sum = tf.add(global, tf.mul(tf.add(local1, local2), count));
    return tf.mul(sum, 2 / pairs) as tf.Scalar;
  });
}
