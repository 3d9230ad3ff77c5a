import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@selfsup/core';
import type { SolarizeConfig } from './config';
import { selectPerSample } from './batch';

export function sampleSolarize(n: number, rng: Rng, config: Pick<SolarizeConfig, 'p'>): boolean[] {
  return Array.from({ length: n }, () => rng.bernoulli(config.p));
}

/** x >= threshold becomes 1 − x on the chosen samples (torchvision's rule); the others are copied. */
export function applySolarize(images: tf.Tensor4D, chosen: boolean[], threshold: number): tf.Tensor4D {
  if (chosen.length !== images.shape[0]) throw new Error(`applySolarize: got ${chosen.length} flags for a batch of ${images.shape[0]}`);
  if (!chosen.some(Boolean)) return tf.clone(images);
  return tf.tidy(() => {
    // A same-shape select over the whole batch, then a per-sample choice: cheaper on wasm than
    // gathering the chosen samples or comparing against a broadcast per-sample threshold.
    const solarized = tf.where(tf.greaterEqual(images, tf.scalar(threshold)), tf.sub(1, images), images) as tf.Tensor4D;
    return selectPerSample(chosen, solarized, images);
  });
}

export function randomSolarize(images: tf.Tensor4D, rng: Rng, config: SolarizeConfig): tf.Tensor4D {
  return applySolarize(images, sampleSolarize(images.shape[0], rng, config), config.threshold);
}
