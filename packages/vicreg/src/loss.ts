import * as tf from '@tensorflow/tfjs';

export interface VicRegWeights {
  /** λ, the invariance (MSE) term's weight; the paper: 25. */
  invariance: number;
  /** μ, the variance hinge's weight; the paper: 25. */
  variance: number;
  /** ν, the covariance term's weight; the paper: 1. */
  covariance: number;
}

export const VICREG_DEFAULT_WEIGHTS: Readonly<VicRegWeights> = { invariance: 25, variance: 25, covariance: 1 };

/** Per-term values of the VICReg loss, unweighted, and the weighted sum. */
export interface VicRegTerms {
  loss: tf.Scalar;
  invariance: tf.Scalar;
  variance: tf.Scalar;
  covariance: tf.Scalar;
}

/**
 * VICReg (Bardes et al., 2022), as the official code computes it: invariance = mean over all
 * elements of (z₁ − z₂)²; variance = ½ Σ_views mean_d relu(1 − √(Var_unbiased(z_d) + ε)), ε 1e-4;
 * covariance = Σ_views Σ_{i≠j} C_ij² / D, C = (z − z̄)ᵀ(z − z̄)/(N − 1);
 * loss = λ·invariance + μ·variance + ν·covariance.
 */
export function vicRegTerms(z1: tf.Tensor2D, z2: tf.Tensor2D, weights: VicRegWeights = VICREG_DEFAULT_WEIGHTS, eps = 1e-4): VicRegTerms {
  if (z1.rank !== 2 || z2.rank !== 2 || z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1]) {
    throw new Error(`vicRegLoss: both views must be [batch, dim] with equal shapes, got ${JSON.stringify(z1.shape)} and ${JSON.stringify(z2.shape)}.`);
  }
  const [n, d] = z1.shape;
  if (n < 2) throw new Error(`vicRegLoss: needs a batch of at least 2, got ${n}.`);
  return tf.tidy(() => {
    const invariance = tf.mean(tf.squaredDifference(z1, z2)) as tf.Scalar;
    const hinges: tf.Scalar[] = [];
    const offs: tf.Scalar[] = [];
    for (const z of [z1, z2]) {
      const centred = tf.sub(z, tf.mean(z, 0, true));
      const varUnbiased = tf.div(tf.sum(tf.square(centred), 0), n - 1);
      const std = tf.sqrt(tf.add(varUnbiased, eps));
      hinges.push(tf.div(tf.mean(tf.relu(tf.sub(1, std))), 2) as tf.Scalar);
      const cov = tf.div(tf.matMul(centred, centred, true, false), n - 1);
      // off-diagonal squares: all squares minus the diagonal's (the variances)
      offs.push(tf.div(tf.sub(tf.sum(tf.square(cov)), tf.sum(tf.square(varUnbiased))), d) as tf.Scalar);
    }
    const variance = tf.add(hinges[0], hinges[1]) as tf.Scalar;
    const covariance = tf.add(offs[0], offs[1]) as tf.Scalar;
    const loss = tf.addN([tf.mul(weights.invariance, invariance), tf.mul(weights.variance, variance), tf.mul(weights.covariance, covariance)]) as tf.Scalar;
    return { loss, invariance, variance, covariance };
  });
}

/** The weighted VICReg loss (see vicRegTerms). */
export function vicRegLoss(z1: tf.Tensor2D, z2: tf.Tensor2D, weights: VicRegWeights = VICREG_DEFAULT_WEIGHTS, eps = 1e-4): tf.Scalar {
  return tf.tidy(() => vicRegTerms(z1, z2, weights, eps).loss);
}
