import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@selfsup/core';
import type { BlurConfig } from './config';

/**
 * Odd kernel side of about 10% of the image side, as in the BYOL paper (23 for 224 px);
 * at least 3 so small images are still blurred.
 */
export function blurKernelSize(imageSide: number): number {
  const k = Math.max(3, Math.round(imageSide / 10));
  return k % 2 === 1 ? k : k + 1;
}

/** Normalized 1-D gaussian taps at offsets −r..r (r = (size − 1) / 2). */
export function gaussianKernel1d(size: number, sigma: number): Float32Array {
  const r = (size - 1) / 2;
  const taps = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = i - r;
    taps[i] = Math.exp(-(x * x) / (2 * sigma * sigma));
    sum += taps[i];
  }
  return Float32Array.from(taps, (t) => t / sum);
}

export interface BlurParams {
  applied: boolean[];
  /** σ per sample (drawn for every sample; used where `applied`). */
  sigma: Float32Array;
}

export function sampleBlur(n: number, rng: Rng, config: Pick<BlurConfig, 'p' | 'sigma'>): BlurParams {
  const applied: boolean[] = [];
  const sigma = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    applied.push(rng.bernoulli(config.p));
    sigma[i] = rng.uniform(config.sigma[0], config.sigma[1]);
  }
  return { applied, sigma };
}

/**
 * Separable gaussian blur with a different σ per sample, reflect-padded (as torchvision's
 * GaussianBlur) so borders keep their brightness. The batch is folded into the channel axis
 * ([N, H, W, C] → [1, H, W, N·C]) so that one depthwise convolution per axis applies each
 * sample's own kernel. Samples not chosen get a unit impulse kernel, which reproduces them
 * exactly (0·x adds nothing); on wasm that is cheaper than gathering the chosen ones and
 * scattering them back.
 */
export function applyGaussianBlur(images: tf.Tensor4D, params: BlurParams, kernelSize?: number): tf.Tensor4D {
  const [n, height, width, channels] = images.shape;
  if (params.applied.length !== n) throw new Error(`applyGaussianBlur: got params for ${params.applied.length} samples, batch has ${n}`);
  const size = kernelSize ?? blurKernelSize(Math.min(height, width));
  // Reflect padding needs r <= side − 1; a wider kernel on a tiny image is shrunk to fit.
  const r = Math.min((size - 1) / 2, Math.min(height, width) - 1);
  if (r <= 0 || !params.applied.some(Boolean)) return tf.clone(images);
  const k = 2 * r + 1;
  const depth = n * channels;

  // Filter layout [kh, kw, in_channels, 1]; channel j of the folded batch is sample ⌊j / C⌋.
  const taps = new Float32Array(k * depth);
  const impulse = new Float32Array(k);
  impulse[r] = 1;
  for (let i = 0; i < n; i++) {
    const kernel = params.applied[i] ? gaussianKernel1d(k, params.sigma[i]) : impulse;
    for (let t = 0; t < k; t++) {
      for (let c = 0; c < channels; c++) taps[t * depth + i * channels + c] = kernel[t];
    }
  }
  return tf.tidy(() => {
    const vertical = tf.tensor4d(taps, [k, 1, depth, 1]);
    const horizontal = tf.tensor4d(taps, [1, k, depth, 1]);
    const padded = tf.mirrorPad(images, [[0, 0], [r, r], [r, r], [0, 0]], 'reflect');
    const folded = tf.reshape(tf.transpose(padded, [1, 2, 0, 3]), [1, height + 2 * r, width + 2 * r, depth]) as tf.Tensor4D;
    const blurred = tf.depthwiseConv2d(tf.depthwiseConv2d(folded, vertical, 1, 'valid'), horizontal, 1, 'valid');
    const unfolded = tf.transpose(tf.reshape(blurred, [height, width, n, channels]), [2, 0, 1, 3]) as tf.Tensor4D;
    // Convex weights keep values in [0, 1] up to rounding; clamp that rounding away.
    return tf.clipByValue(unfolded, 0, 1);
  });
}

export function randomGaussianBlur(images: tf.Tensor4D, rng: Rng, config: BlurConfig): tf.Tensor4D {
  return applyGaussianBlur(images, sampleBlur(images.shape[0], rng, config), config.kernelSize);
}
