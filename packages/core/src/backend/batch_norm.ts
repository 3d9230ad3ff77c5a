// Training-mode batch normalization over every axis but the last, with a hand-written
// gradient. tf.layers' BatchNormalization builds it from tf.moments + tf.batchNorm, and
// autodiff through that graph costs ~20 full-size elementwise passes per layer (the
// FusedBatchNorm gradient alone tiles and multiplies the activation 8 times, then the
// moments' gradient adds more); on wasm those passes are ~30% of a BYOL step. The closed
// form below needs two per-channel sums and three full-size passes.
//
// With the native kernels active (@selfsup/native-cpu under wasm: kernels/onednn.ts registers
// the three kernels below), the statistics, the normalisation and the whole gradient are
// native loops over the wasm heap: one pass for the statistics, one for y, two for dx, dγ, dβ.
import * as tf from '@tensorflow/tfjs';

/**
 * Kernels of the native batch norm, registered for wasm only while the native kernels are
 * active: statistics (x → mean, variance; with movingMean, movingVariance and attr momentum
 * also their updated values), forward (x, mean, variance, γ, β → y; attrs epsilon, relu) and
 * backward (dy, x, mean, variance, γ → dx, dγ, dβ; attrs epsilon, relu; β too when relu).
 */
export const NATIVE_BATCH_NORM_KERNEL_NAMES = ['SelfsupBatchNormStats', 'SelfsupBatchNormForward', 'SelfsupBatchNormBackward'] as const;

/** Does `batchNormTraining` run on the native kernels now (wasm backend, kernels registered)? */
export function nativeBatchNormActive(): boolean {
  return tf.getBackend() === 'wasm' && NATIVE_BATCH_NORM_KERNEL_NAMES.every((n) => tf.getKernel(n, 'wasm') !== undefined);
}

export interface BatchNormTrainingResult {
  /** (x − mean)·γ/√(var + ε) + β */
  y: tf.Tensor;
  /** Batch mean and (biased) variance per channel, as tf.moments gives them; no gradient. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  /** With `moving`: the updated moving statistics, v − (v − batch value)·(1 − momentum). */
  movingMean?: tf.Tensor1D;
  movingVariance?: tf.Tensor1D;
}

/** A layer's moving statistics, to update from the batch's (as tf.layers' BatchNormalization does). */
export interface MovingStatistics {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  momentum: number;
}

/** tf.layers' update of a moving statistic, op for op: v − (v − value)·(1 − momentum). */
const movingUpdate = (v: tf.Tensor1D, value: tf.Tensor1D, momentum: number) => tf.sub(v, tf.mul(tf.sub(v, value), 1 - momentum)) as tf.Tensor1D;

/** Σ over every axis but the last, as [C]. */
const channelSum = (t: tf.Tensor) => tf.sum(t, [...Array(t.rank - 1).keys()]) as tf.Tensor1D;

/**
 * Forward values are exactly those of tf.layers' training path (same tf.moments and
 * tf.batchNorm calls); gradients w.r.t. x, γ and β are the analytic ones, with the batch
 * statistics differentiated through:
 *   dβ = Σ dy,  dγ = Σ dy·x̂ = r·(Σ dy·x − μ·Σ dy),  r = 1/√(var + ε),  R = rows
 *   dx = a·dy + b·x + c,  a = γ·r,  b = −a·r·dγ/R,  c = −a·dβ/R − b·μ
 */
export interface BatchNormTrainingOptions {
  /** Update these moving statistics from the batch's; the result then holds the new values. */
  moving?: MovingStatistics;
  /**
   * y = relu(batch norm), with the gradient of both. On the native kernels the ReLU costs no
   * pass of its own (the mask is recomputed in the backward pass); otherwise it is tf.relu.
   */
  relu?: boolean;
}

export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number, options: BatchNormTrainingOptions = {}): BatchNormTrainingResult {
  const { moving, relu = false } = options;
  const c = x.shape[x.rank - 1];
  if (x.rank < 2 || gamma.shape[0] !== c || beta.shape[0] !== c) {
    throw new Error(`batchNormTraining: expected x [..., C] with γ and β [C], got x [${x.shape}], γ [${gamma.shape}], β [${beta.shape}]`);
  }
  if (moving && (moving.mean.shape[0] !== c || moving.variance.shape[0] !== c)) {
    throw new Error(`batchNormTraining: moving statistics [${moving.mean.shape}] and [${moving.variance.shape}] do not match x [${x.shape}]`);
  }
  const f32 = (t: tf.Tensor) => t.dtype === 'float32';
  if (f32(x) && x.size > 0 && f32(gamma) && f32(beta) && (!moving || (f32(moving.mean) && f32(moving.variance))) && nativeBatchNormActive()) {
    return nativeBatchNormTraining(x, gamma, beta, epsilon, moving, relu);
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
  const bn = op(x, gamma, beta) as tf.Tensor;
  const y = relu ? tf.relu(bn) : bn;
  if (!moving) return { y, mean, variance };
  return { y, mean, variance, movingMean: movingUpdate(moving.mean, mean, moving.momentum), movingVariance: movingUpdate(moving.variance, variance, moving.momentum) };
}

/**
 * The same on the native kernels: the same formulas, sums in float64; the moving statistics'
 * update (same float32 rounding as the tf ops) happens in the statistics call.
 */
function nativeBatchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number, moving: MovingStatistics | undefined, relu: boolean): BatchNormTrainingResult {
  const engine = tf.engine();
  // Not on the gradient path to any loss (the custom gradient accounts for the statistics);
  // the kernel has no gradient of its own.
  const stats = moving
    ? (engine.runKernel(NATIVE_BATCH_NORM_KERNEL_NAMES[0], { x, movingMean: moving.mean, movingVariance: moving.variance }, { momentum: moving.momentum } as unknown as tf.NamedAttrMap) as tf.Tensor1D[])
    : (engine.runKernel(NATIVE_BATCH_NORM_KERNEL_NAMES[0], { x }) as tf.Tensor1D[]);
  const [mean, variance] = stats;
  const attrs = { epsilon, relu } as unknown as tf.NamedAttrMap;
  const op = tf.customGrad((xi, g, b, save) => {
    (save as tf.GradSaveFunc)([xi as tf.Tensor, g as tf.Tensor, b as tf.Tensor, mean, variance]);
    return {
      value: engine.runKernel(NATIVE_BATCH_NORM_KERNEL_NAMES[1], { x: xi as tf.Tensor, mean, variance, gamma: g as tf.Tensor, beta: b as tf.Tensor }, attrs) as tf.Tensor,
      gradFunc: (dy, saved) => {
        const [xs, gs, bs, mu, vr] = saved;
        const inputs: tf.NamedTensorMap = { dy: dy as tf.Tensor, x: xs, mean: mu, variance: vr, gamma: gs };
        if (relu) inputs.beta = bs;
        return engine.runKernel(NATIVE_BATCH_NORM_KERNEL_NAMES[2], inputs, attrs) as tf.Tensor[];
      },
    };
  });
  const y = op(x, gamma, beta) as tf.Tensor;
  return moving ? { y, mean, variance, movingMean: stats[2], movingVariance: stats[3] } : { y, mean, variance };
}
