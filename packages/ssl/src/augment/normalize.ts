import * as tf from '@tensorflow/tfjs';
import type { NormalizeConfig } from './config';

/** (x − mean) / std per channel; a single mean/std value applies to every channel. */
export function normalize(images: tf.Tensor4D, config: NormalizeConfig): tf.Tensor4D {
  const channels = images.shape[3];
  const { mean, std } = config;
  if ((mean.length !== 1 && mean.length !== channels) || mean.length !== std.length) {
    throw new Error(
      `normalize: mean has ${mean.length} and std ${std.length} values but the images have ${channels} channel(s); ` +
        `give one value per channel (or a single value for all).`,
    );
  }
  return tf.tidy(() => {
    const m = tf.tensor4d(mean, [1, 1, 1, mean.length]);
    const s = tf.tensor4d(std, [1, 1, 1, std.length]);
    return tf.div(tf.sub(images, m), s) as tf.Tensor4D;
  });
}
