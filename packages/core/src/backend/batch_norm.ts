// Training-mode batch normalization over every axis but the last, with a hand-written
// gradient. tf.layers' BatchNormalization builds it from tf.moments + tf.batchNorm, and
// autodiff through that graph costs ~20 full-size elementwise passes per layer (the
// FusedBatchNorm gradient alone tiles and multiplies the activation 8 times, then the
// moments' gradient adds more); on wasm those passes are ~30% of a BYOL step. The closed
// form below needs two per-channel sums and three full-size passes.
import * as tf from '@tensorflow/tfjs';

export interface BatchNormTrainingResult {
  /** (x − mean)·γ/√(var + ε) + β */
  y: tf.Tensor;
  /** Batch mean and (biased) variance per channel, as tf.moments gives them; no gradient. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Σ over every axis but the last, as [C]. */
const channelSum = (t: tf.Tensor) => tf.sum(t, [...Array(t.rank - 1).keys()]) as tf.Tensor1D;

/**
 * Forward values are exactly those of tf.layers' training path (same tf.moments and
 * tf.batchNorm calls); gradients w.r.t. x, γ and β are the analytic ones, with the batch
 * statistics differentiated through:
 *   dβ = Σ dy,  dγ = Σ dy·x̂ = r·(Σ dy·x − μ·Σ dy),  r = 1/√(var + ε),  R = rows
 *   dx = a·dy + b·x + c,  a = γ·r,  b = −a·r·dγ/R,  c = −a·dβ/R − b·μ
 */
export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): BatchNormTrainingResult {
  const c = x.shape[x.rank - 1];
  if (x.rank < 2 || gamma.shape[0] !== c || beta.shape[0] !== c) {
    throw new Error(`batchNormTraining: expected x [..., C] with γ and β [C], got x [${x.shape}], γ [${gamma.shape}], β [${beta.shape}]`);
  }
  const rows = x.size / c;
  const axes = [...Array(x.rank - 1).keys()];
  // Not on the gradient tape: the custom gradient below accounts for the statistics.
  const { mean, variance } = tf.tidy(() => {
    const m = tf.moments(x, axes);
    return { mean: m.mean as tf.Tensor1D, variance: m.variance as tf.Tensor1D };
  });
  const op = tf.customGrad((xi, g, b, save) => {
    // saved (not closed over): the forward pass's tidy disposes everything else before backprop
    (save as tf.GradSaveFunc)([xi as tf.Tensor, g as tf.Tensor, mean, variance]);
    return {
      value: tf.batchNorm(xi as tf.Tensor, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, epsilon),
      gradFunc: (dy, saved) => {
        const [xs, gs, mu, vr] = saved;
        const d = dy as tf.Tensor;
        // gradFunc results are kept by the engine; the intermediates must go
        return tf.tidy(() => {
          const r = tf.rsqrt(tf.add(vr, epsilon));
          const dBeta = channelSum(d);
          const dGamma = tf.mul(r, tf.sub(channelSum(tf.mul(d, xs)), tf.mul(mu, dBeta))) as tf.Tensor1D;
          const a = tf.mul(gs, r);
          const bx = tf.mul(tf.mul(a, r), tf.div(dGamma, -rows));
          const cx = tf.sub(tf.div(tf.mul(a, dBeta), -rows), tf.mul(bx, mu));
          // a·dy + c in one pass (batchNorm with zero mean, unit variance), then + b·x
          const ady = tf.batchNorm(d, tf.zerosLike(mu), tf.onesLike(vr), cx as tf.Tensor1D, a as tf.Tensor1D, 0);
          const dx = tf.add(ady, tf.mul(xs, bx));
          return [dx, dGamma, dBeta];
        });
      },
    };
  });
  const y = op(x, gamma, beta) as tf.Tensor;
  return { y, mean, variance };
}
