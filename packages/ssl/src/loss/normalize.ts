import * as tf from '@tensorflow/tfjs';

/** `F.normalize(x, dim=-1)`: x / max(‖x‖₂, eps) row-wise, differentiable at 0. */
export function l2Normalize(x: tf.Tensor2D, eps = 1e-12): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), eps * eps));
    return tf.div(x, norm);
  });
}

const stopGradientOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor),
}));

/**
 * Identity in the forward pass, exactly zero gradient backwards (tfjs has no
 * `stop_gradient` op). The target branch passes through this so a gradient computed over
 * all variables still never reaches it.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}
