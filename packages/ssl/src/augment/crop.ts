import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@selfsup/core';
import type { CropConfig } from './config';

/** A crop in whole pixels of the source image. */
export interface CropWindow {
  top: number;
  left: number;
  height: number;
  width: number;
  /** True when 10 draws missed and the torchvision-style center crop was used. */
  fallback: boolean;
}

const MAX_TRIES = 10;

/**
 * torchvision's RandomResizedCrop.get_params for one image: up to 10 tries of
 * (area ~ U[scale]·H·W, aspect ~ logU[ratio]); a try that fits is placed uniformly.
 * Otherwise a center crop, clamped to the ratio range (whole image when its own aspect is
 * inside the range).
 */
export function sampleCropWindow(height: number, width: number, rng: Rng, scale: [number, number], ratio: [number, number]): CropWindow {
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = Math.round(Math.sqrt(targetArea * aspect));
    const h = Math.round(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w, fallback: false };
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < ratio[0]) {
    w = width;
    h = Math.min(height, Math.round(w / ratio[0]));
  } else if (inRatio > ratio[1]) {
    h = height;
    w = Math.min(width, Math.round(h * ratio[1]));
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w, fallback: true };
}

export function sampleCropWindows(n: number, height: number, width: number, rng: Rng, config: Pick<CropConfig, 'scale' | 'ratio'>): CropWindow[] {
  const out: CropWindow[] = [];
  for (let i = 0; i < n; i++) out.push(sampleCropWindow(height, width, rng, config.scale, config.ratio));
  return out;
}

/**
 * Boxes [y1, x1, y2, x2] for `tf.image.cropAndResize`, whose normalized coordinate c maps to
 * pixel c·(side − 1): the box corners sit on the centers of the window's corner pixels, so a
 * window inside the image gives a box inside [0, 1] and no sample reads outside the image.
 */
export function cropWindowsToBoxes(windows: CropWindow[], height: number, width: number): Float32Array {
  const dy = Math.max(height - 1, 1);
  const dx = Math.max(width - 1, 1);
  const boxes = new Float32Array(windows.length * 4);
  // A window ending on the last row/column maps to 1.0; tfjs's cropAndResize recomputes the
  // sample positions in float32 and can land a hair past the edge, where it writes its
  // extrapolation value 0 (a black row or column in ~1.5% of 14 px crops). Ending 2^-18 (64
  // float32 steps) short of 1 keeps every sample inside, at any image size; the last sample
  // moves by (side − 1)·2^-18 px, 1e-4 px on a 28 px image.
  const end = (v: number) => Math.min(v, 1 - 2 ** -18);
  windows.forEach((w, i) => {
    boxes[i * 4] = w.top / dy;
    boxes[i * 4 + 1] = w.left / dx;
    boxes[i * 4 + 2] = end((w.top + w.height - 1) / dy);
    boxes[i * 4 + 3] = end((w.left + w.width - 1) / dx);
  });
  return boxes;
}

/** Crops each sample to its own window and resizes it to size×size (bilinear; tfjs has no bicubic). */
export function applyResizedCrop(images: tf.Tensor4D, windows: CropWindow[], size: number): tf.Tensor4D {
  const [n, height, width] = images.shape;
  if (windows.length !== n) throw new Error(`applyResizedCrop: got ${windows.length} crop windows for a batch of ${n}`);
  return tf.tidy(() => {
    const boxes = tf.tensor2d(cropWindowsToBoxes(windows, height, width), [n, 4]);
    const boxInd = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => i), 'int32');
    return tf.image.cropAndResize(images, boxes, boxInd, [size, size], 'bilinear');
  });
}

export function randomResizedCrop(images: tf.Tensor4D, rng: Rng, config: CropConfig): tf.Tensor4D {
  const [n, height, width] = images.shape;
  return applyResizedCrop(images, sampleCropWindows(n, height, width, rng, config), config.size);
}
