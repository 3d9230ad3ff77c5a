import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@selfsup/core';
import type { GrayscaleConfig } from './config';
import { selectPerSample } from './batch';
import { toGrayscale } from './color';

export function sampleGrayscale(n: number, rng: Rng, config: GrayscaleConfig): boolean[] {
  return Array.from({ length: n }, () => rng.bernoulli(config.p));
}

/** Replaces the chosen samples by their luma (kept at the input's channel count); no-op on 1 channel. */
export function applyGrayscale(images: tf.Tensor4D, chosen: boolean[]): tf.Tensor4D {
  if (chosen.length !== images.shape[0]) throw new Error(`applyGrayscale: got ${chosen.length} flags for a batch of ${images.shape[0]}`);
  if (images.shape[3] === 1 || !chosen.some(Boolean)) return tf.clone(images);
  return tf.tidy(() => selectPerSample(chosen, toGrayscale(images), images));
}

export function randomGrayscale(images: tf.Tensor4D, rng: Rng, config: GrayscaleConfig): tf.Tensor4D {
  return applyGrayscale(images, sampleGrayscale(images.shape[0], rng, config));
}
