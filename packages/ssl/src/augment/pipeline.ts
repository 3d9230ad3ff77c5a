import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@selfsup/core';
import type { AugmentationConfig } from './config';
import { validateAugmentationConfig } from './validate';
import { applyResizedCrop, CropWindow, sampleCropWindows } from './crop';
import { applyHorizontalFlip, sampleFlips } from './flip';
import { applyColorJitter, ColorJitterParams, sampleColorJitter } from './color_jitter';
import { applyGrayscale, sampleGrayscale } from './grayscale';
import { applyGaussianBlur, BlurParams, sampleBlur } from './blur';
import { applySolarize, sampleSolarize } from './solarize';
import { normalize } from './normalize';

/** Every random decision of one pipeline call, per sample; present for each configured op. */
export interface AugmentationParams {
  crop?: CropWindow[];
  flip?: boolean[];
  colorJitter?: ColorJitterParams;
  grayscale?: boolean[];
  blur?: BlurParams;
  solarize?: boolean[];
}

/**
 * One view's augmentation T: crop → flip → color jitter → grayscale → blur → solarize →
 * normalize, each op with its own random parameters per sample. Parameters are drawn in JS
 * from the seeded `Rng` (a few numbers per image, in that op order); the pixels are processed
 * by batched tfjs ops on the active backend.
 */
export class AugmentationPipeline {
  readonly config: Readonly<AugmentationConfig>;

  constructor(config: AugmentationConfig, configPath = 'augment') {
    validateAugmentationConfig(config, configPath);
    this.config = structuredClone(config);
  }

  /** Draws all per-sample parameters for a batch of n images of the given size. */
  sample(n: number, height: number, width: number, channels: number, rng: Rng): AugmentationParams {
    const c = this.config;
    const params: AugmentationParams = {};
    if (c.crop) params.crop = sampleCropWindows(n, height, width, rng, c.crop);
    if (c.flip) params.flip = sampleFlips(n, rng, c.flip);
    if (c.colorJitter) params.colorJitter = sampleColorJitter(n, channels, rng, c.colorJitter);
    if (c.grayscale) params.grayscale = sampleGrayscale(n, rng, c.grayscale);
    if (c.blur) params.blur = sampleBlur(n, rng, c.blur);
    if (c.solarize) params.solarize = sampleSolarize(n, rng, c.solarize);
    return params;
  }

  /**
   * Augments a batch (NHWC float32 in [0, 1], 1 or 3 channels). Synchronous, so it can run
   * inside `tf.tidy`; leaves `images` alive and always returns a new tensor.
   */
  apply(images: tf.Tensor4D, rng: Rng): tf.Tensor4D {
    checkImages(images);
    const [n, height, width, channels] = images.shape;
    return this.applyWithParams(images, this.sample(n, height, width, channels, rng));
  }

  /** Replays given parameters (e.g. to inspect or reproduce one draw). */
  applyWithParams(images: tf.Tensor4D, params: AugmentationParams): tf.Tensor4D {
    checkImages(images);
    const c = this.config;
    const out = tf.tidy(() => {
      let x = images;
      if (c.crop && params.crop) x = applyResizedCrop(x, params.crop, c.crop.size);
      if (params.flip?.some(Boolean)) x = applyHorizontalFlip(x, params.flip);
      if (params.colorJitter?.applied.some(Boolean)) x = applyColorJitter(x, params.colorJitter);
      if (params.grayscale?.some(Boolean)) x = applyGrayscale(x, params.grayscale);
      if (params.blur?.applied.some(Boolean)) x = applyGaussianBlur(x, params.blur, c.blur?.kernelSize);
      if (c.solarize && params.solarize?.some(Boolean)) x = applySolarize(x, params.solarize, c.solarize.threshold);
      if (c.normalize) x = normalize(x, c.normalize);
      // The caller owns the result and may dispose it: never hand back the input itself.
      return x === images ? tf.clone(images) : x;
    });
    return out;
  }
}

function checkImages(images: tf.Tensor): asserts images is tf.Tensor4D {
  if (images.rank !== 4 || images.dtype !== 'float32' || (images.shape[3] !== 1 && images.shape[3] !== 3)) {
    throw new Error(
      `AugmentationPipeline: expected float32 NHWC images with 1 or 3 channels and values in [0, 1], ` +
        `got ${images.dtype} of shape [${images.shape.join(', ')}]; convert with tf.cast(x, 'float32').div(255) and add the channel axis.`,
    );
  }
}

/**
 * `count` local crops of every image of the batch, all through `pipeline` in one batched call
 * (each crop with its own random draws): [count·N, size, size, C], crop-major — rows
 * c·N … c·N + N − 1 are crop c of images 0 … N − 1.
 */
export function localCropViews(images: tf.Tensor4D, pipeline: AugmentationPipeline, count: number, rng: Rng): tf.Tensor4D {
  if (!Number.isInteger(count) || count < 1) throw new Error(`localCropViews: count must be an integer >= 1, got ${count}`);
  if (count === 1) return pipeline.apply(images, rng);
  const tiled = tf.tile(images, [count, 1, 1, 1]) as tf.Tensor4D;
  try {
    return pipeline.apply(tiled, rng);
  } finally {
    tiled.dispose();
  }
}

/** Two views of the same batch, v = t(x) and v' = t'(x), drawing from one stream: t first, then t'. */
export function twoViews(images: tf.Tensor4D, t: AugmentationPipeline, tPrime: AugmentationPipeline, rng: Rng): [tf.Tensor4D, tf.Tensor4D] {
  const v1 = t.apply(images, rng);
  try {
    return [v1, tPrime.apply(images, rng)];
  } catch (err) {
    v1.dispose();
    throw err;
  }
}
