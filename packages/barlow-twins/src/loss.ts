import * as tf from '@tensorflow/tfjs';

export interface BarlowTwinsTerms {
  /** scale · (onDiagonal + λ · offDiagonal): what is minimised. */
  loss: tf.Scalar;
  /** Σ_i (1 − C_ii)². */
  onDiagonal: tf.Scalar;
  /** Σ_{i≠j} C_ij² (before λ). */
  offDiagonal: tf.Scalar;
}

/** Per-dimension batch normalisation without affine parameters: (z − mean) / √(Var_biased + ε), as BatchNorm1d(affine=False) in training mode. */
export function batchStandardize(z: tf.Tensor2D, eps = 1e-5): tf.Tensor2D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(z, 0, true);
    return tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, eps))) as tf.Tensor2D;
  });
}

/**
 * Barlow Twins (Zbontar et al., 2021): C = bn(z₁)ᵀ bn(z₂) / N, the cross-correlation of the
 * two views' embeddings, each dimension normalised over the batch; loss = Σ_i (1 − C_ii)² +
 * λ Σ_{i≠j} C_ij² (λ 5e-3 by default; the official code's 0.0051), times `scale` (solo-learn's
 * `scale_loss`, 1 by default; its CIFAR recipe uses 0.1). The terms are returned unscaled.
 * With clipped LARS the scale is not a no-op: the biases and norm parameters take plain SGD
 * steps on the raw gradient, and a layer's trust ratio is capped by the LR only where its
 * gradient is small next to its weights.
 */
export function barlowTwinsTerms(z1: tf.Tensor2D, z2: tf.Tensor2D, lambda = 5e-3, eps = 1e-5, scale = 1): BarlowTwinsTerms {
  if (z1.rank !== 2 || z2.rank !== 2 || z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1]) {
    throw new Error(`barlowTwinsLoss: both views must be [batch, dim] with equal shapes, got ${JSON.stringify(z1.shape)} and ${JSON.stringify(z2.shape)}.`);
  }
  const n = z1.shape[0];
  if (n < 2) throw new Error(`barlowTwinsLoss: needs a batch of at least 2, got ${n}.`);
  return tf.tidy(() => {
    const a = batchStandardize(z1, eps);
    const b = batchStandardize(z2, eps);
    const c = tf.div(tf.matMul(a, b, true, false), n);
    const diag = tf.div(tf.sum(tf.mul(a, b), 0), n); // C_ii without building eye(D)
    const onDiagonal = tf.sum(tf.square(tf.sub(1, diag))) as tf.Scalar;
    const offDiagonal = tf.sub(tf.sum(tf.square(c)), tf.sum(tf.square(diag))) as tf.Scalar;
    const unscaled = tf.add(onDiagonal, tf.mul(lambda, offDiagonal));
    const loss = (scale === 1 ? unscaled : tf.mul(scale, unscaled)) as tf.Scalar;
    return { loss, onDiagonal, offDiagonal };
  });
}

/** The Barlow Twins loss (see barlowTwinsTerms). */
export function barlowTwinsLoss(z1: tf.Tensor2D, z2: tf.Tensor2D, lambda = 5e-3, eps = 1e-5, scale = 1): tf.Scalar {
  return tf.tidy(() => barlowTwinsTerms(z1, z2, lambda, eps, scale).loss);
}
