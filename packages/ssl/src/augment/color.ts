import * as tf from '@tensorflow/tfjs';

/**
 * Color adjustments on NHWC batches in [0, 1] with one factor per sample ([N, 1, 1, 1]
 * tensors), following torchvision's functional definitions (each result clamped to [0, 1]).
 */

/** ITU-R 601-2 luma weights, as torchvision's rgb_to_grayscale uses them. */
export const LUMA_WEIGHTS: readonly [number, number, number] = [0.2989, 0.587, 0.114];

/**
 * Color math runs on the pixels as a [N·H·W, 3] matrix: channel mixing is then a small matMul,
 * which on wasm is several times faster than slicing channels apart or broadcasting a
 * [.., 1] tensor across the channel axis.
 */
function pixels(images: tf.Tensor4D): tf.Tensor2D {
  const [n, h, w, c] = images.shape;
  return tf.reshape(images, [n * h * w, c]);
}

/** [N, H, W, 1] luma of RGB images; a 1-channel image is its own luma. */
export function luma(images: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, channels] = images.shape;
  if (channels === 1) return images;
  if (channels !== 3) throw new Error(`luma: expected 1 or 3 channels, got ${channels}`);
  return tf.tidy(() => tf.reshape(tf.matMul(pixels(images), tf.tensor2d([...LUMA_WEIGHTS], [3, 1])), [n, h, w, 1]));
}

/** factor·img + (1 − factor)·other, clamped: torchvision's `_blend`. */
function blend(images: tf.Tensor4D, other: tf.Tensor, factor: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.add(tf.mul(images, factor), tf.mul(other, tf.sub(1, factor))), 0, 1) as tf.Tensor4D);
}

export function adjustBrightness(images: tf.Tensor4D, factor: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.mul(images, factor), 0, 1) as tf.Tensor4D);
}

/** Blends each image with the mean of its own luma. */
export function adjustContrast(images: tf.Tensor4D, factor: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => blend(images, tf.mean(luma(images), [1, 2, 3], true), factor));
}

/** Blends each pixel with its luma; a no-op on 1-channel images. */
export function adjustSaturation(images: tf.Tensor4D, factor: tf.Tensor4D): tf.Tensor4D {
  if (images.shape[3] === 1) return tf.clone(images);
  return tf.tidy(() => blend(images, toGrayscale(images), factor));
}

/**
 * Rotates the hue by `shift` (fraction of the color wheel, per sample), keeping HSV
 * saturation and value, as torchvision's adjust_hue. With M = max, C = max − min of a pixel,
 * the hue in sixths of the wheel is (g − b)/C, 2 + (b − r)/C or 4 + (r − g)/C for a maximum
 * in r, g or b (first one wins on ties; the formulas agree there). The way back uses the
 * closed form c = M − C·clamp(min(k, 4 − k), 0, 1), k = (n_c + 6H) mod 6, n = (5, 3, 1),
 * equivalent to the six-case HSV→RGB table without per-pixel branching. No-op on 1 channel.
 */
export function adjustHue(images: tf.Tensor4D, shift: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, channels] = images.shape;
  if (channels === 1) return tf.clone(images);
  if (channels !== 3) throw new Error(`adjustHue: expected 1 or 3 channels, got ${channels}`);
  return tf.tidy(() => {
    const x = pixels(images);
    const maxc = tf.max(x, 1, true);
    const chroma = tf.sub(maxc, tf.min(x, 1, true));
    const which = tf.cast(tf.oneHot(tf.argMax(x, 1), 3), 'float32');
    // Columns: g − b, b − r, r − g; each bounded by C, so dividing by max(C, tiny) gives 0 on gray pixels.
    const diffs = tf.matMul(x, tf.tensor2d([0, -1, 1, 1, 0, -1, -1, 1, 0], [3, 3]));
    const ratio = tf.div(tf.sum(tf.mul(which, diffs), 1, true), tf.maximum(chroma, 1e-12));
    const shifted = tf.reshape(tf.add(tf.reshape(ratio, [n, h * w]), tf.mul(tf.reshape(shift, [n, 1]), 6)), [n * h * w, 1]);
    // Row j (channel holding the max) of `base` is 2j + n_c: the sector offset plus n_c per output channel.
    const base = tf.matMul(which, tf.tensor2d([5, 3, 1, 7, 5, 3, 9, 7, 5], [3, 3]));
    const ones = tf.ones([1, 3]);
    const k0 = tf.add(base, tf.matMul(shifted, ones));
    const k = tf.sub(k0, tf.mul(tf.floor(tf.div(k0, 6)), 6));
    const ramp = tf.clipByValue(tf.minimum(k, tf.sub(4, k)), 0, 1);
    const out = tf.sub(tf.matMul(maxc, ones), tf.mul(tf.matMul(chroma, ones), ramp));
    return tf.reshape(tf.clipByValue(out, 0, 1), [n, h, w, 3]) as tf.Tensor4D;
  });
}

/** Luma replicated over the channels (the channel count is kept, as torchvision does). */
export function toGrayscale(images: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, channels] = images.shape;
  if (channels === 1) return tf.clone(images);
  if (channels !== 3) throw new Error(`toGrayscale: expected 1 or 3 channels, got ${channels}`);
  const [wr, wg, wb] = LUMA_WEIGHTS;
  return tf.tidy(() => tf.reshape(tf.matMul(pixels(images), tf.tensor2d([wr, wr, wr, wg, wg, wg, wb, wb, wb], [3, 3])), [n, h, w, 3]) as tf.Tensor4D);
}
