import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@selfsup/core';
import type { ColorJitterConfig } from './config';
import { indicesWhere, perSample, selectPerSample } from './batch';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation } from './color';

export type ColorAdjustment = 'brightness' | 'contrast' | 'saturation' | 'hue';

export const COLOR_ADJUSTMENTS: readonly ColorAdjustment[] = ['brightness', 'contrast', 'saturation', 'hue'];

/** Everything color jitter decided for one batch; identity values where a sample skips a step. */
export interface ColorJitterParams {
  applied: boolean[];
  brightness: Float32Array;
  contrast: Float32Array;
  saturation: Float32Array;
  hue: Float32Array;
  /** Per sample, the enabled adjustments in the order that sample applies them. */
  order: ColorAdjustment[][];
}

const IDENTITY: Record<ColorAdjustment, number> = { brightness: 1, contrast: 1, saturation: 1, hue: 0 };

/** Adjustments with a non-zero strength; saturation and hue mean nothing on 1-channel images. */
export function enabledAdjustments(config: ColorJitterConfig, channels: number): ColorAdjustment[] {
  return COLOR_ADJUSTMENTS.filter((a) => config[a] > 0 && (channels !== 1 || a === 'brightness' || a === 'contrast'));
}

/**
 * Draws, per sample: whether jitter applies (p), the four factors (torchvision's ranges) and,
 * with `order: 'per-sample'` (default), a random order of the enabled adjustments, as in
 * DeepMind's BYOL code (vmapped over images). With `order: 'per-batch'` one order, drawn
 * first, serves the whole batch. Draws the same amount of randomness per sample whatever it
 * decides, so one sample's choices do not shift the stream of the next.
 */
export function sampleColorJitter(n: number, channels: number, rng: Rng, config: ColorJitterConfig): ColorJitterParams {
  const enabled = enabledAdjustments(config, channels);
  const params: ColorJitterParams = {
    applied: [],
    brightness: new Float32Array(n),
    contrast: new Float32Array(n),
    saturation: new Float32Array(n),
    hue: new Float32Array(n),
    order: [],
  };
  const perBatch = config.order === 'per-batch';
  const batchOrder = perBatch ? (rng.shuffle([...COLOR_ADJUSTMENTS]) as ColorAdjustment[]) : [];
  for (let i = 0; i < n; i++) {
    const applied = rng.bernoulli(config.p);
    const drawn: Record<ColorAdjustment, number> = {
      brightness: rng.uniform(Math.max(0, 1 - config.brightness), 1 + config.brightness),
      contrast: rng.uniform(Math.max(0, 1 - config.contrast), 1 + config.contrast),
      saturation: rng.uniform(Math.max(0, 1 - config.saturation), 1 + config.saturation),
      hue: rng.uniform(-config.hue, config.hue),
    };
    const order = perBatch ? batchOrder : (rng.shuffle([...COLOR_ADJUSTMENTS]) as ColorAdjustment[]);
    params.applied.push(applied);
    params.order.push(applied ? order.filter((a) => enabled.includes(a)) : []);
    for (const a of COLOR_ADJUSTMENTS) params[a][i] = applied && enabled.includes(a) ? drawn[a] : IDENTITY[a];
  }
  return params;
}

const ADJUST: Record<ColorAdjustment, (x: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor4D> = {
  brightness: adjustBrightness,
  contrast: adjustContrast,
  saturation: adjustSaturation,
  hue: adjustHue,
};

/**
 * Applies the jitter in stages: at stage s each sample runs its s-th adjustment, so every
 * adjustment is computed once per sample that uses it. Each stage gathers the samples of one
 * adjustment together and concatenates the results; the batch stays in that shuffled order
 * between stages (tracked in JS) and is put back in place once at the end.
 */
export function applyColorJitter(images: tf.Tensor4D, params: ColorJitterParams): tf.Tensor4D {
  const n = images.shape[0];
  if (params.applied.length !== n) throw new Error(`applyColorJitter: got params for ${params.applied.length} samples, batch has ${n}`);
  const stages = Math.max(0, ...params.order.map((o) => o.length));
  if (stages === 0) return tf.clone(images);

  return tf.tidy(() => {
    let x = images;
    // perm[k] = original sample index now at position k of x.
    let perm = Array.from({ length: n }, (_, i) => i);
    for (let s = 0; s < stages; s++) {
      const used = new Set(perm.map((i) => params.order[i][s]).filter((a): a is ColorAdjustment => a !== undefined));
      if (used.size === 1 && perm.every((v, k) => v === k)) {
        // One adjustment for the whole stage (per-batch order, or chance): run it on the batch
        // in place, idle samples with the identity factor, so nothing needs regrouping.
        const [adj] = used;
        const active = perm.map((i) => params.order[i][s] === adj);
        const adjusted = ADJUST[adj](x, perSample(active.map((a, i) => (a ? params[adj][i] : IDENTITY[adj]))));
        // Brightness, contrast and saturation at factor 1 return x exactly; the hue round trip
        // only up to rounding, so idle samples are restored from x.
        x = adj === 'hue' && !active.every(Boolean) ? selectPerSample(active, adjusted, x) : adjusted;
        continue;
      }
      const pieces: tf.Tensor4D[] = [];
      const nextPerm: number[] = [];
      const take = (positions: number[]) => (positions.length === n ? x : (tf.gather(x, positions) as tf.Tensor4D));
      for (const adj of COLOR_ADJUSTMENTS) {
        const positions = indicesWhere(perm.map((i) => params.order[i][s] === adj));
        if (positions.length === 0) continue;
        const samples = positions.map((k) => perm[k]);
        pieces.push(ADJUST[adj](take(positions), perSample(samples.map((i) => params[adj][i]))));
        nextPerm.push(...samples);
      }
      const idle = indicesWhere(perm.map((i) => params.order[i].length <= s));
      if (idle.length > 0) {
        pieces.push(take(idle));
        nextPerm.push(...idle.map((k) => perm[k]));
      }
      x = pieces.length === 1 ? pieces[0] : (tf.concat(pieces, 0) as tf.Tensor4D);
      perm = nextPerm;
    }
    if (perm.every((v, k) => v === k)) return x === images ? tf.clone(images) : x;
    const inverse = new Array<number>(n);
    perm.forEach((original, position) => (inverse[original] = position));
    return tf.gather(x, inverse) as tf.Tensor4D;
  });
}

export function randomColorJitter(images: tf.Tensor4D, rng: Rng, config: ColorJitterConfig): tf.Tensor4D {
  const [n, , , channels] = images.shape;
  return applyColorJitter(images, sampleColorJitter(n, channels, rng, config));
}
