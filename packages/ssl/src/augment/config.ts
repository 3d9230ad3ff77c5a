/**
 * Plain-object shapes of one augmentation pipeline (a "view": T or T') and of the YAML
 * `augment:` section. Every op is optional: an omitted op is not applied. Probabilities are
 * per sample. Images are NHWC float32 in [0, 1].
 */

/** Random resized crop (torchvision's RandomResizedCrop sampling). */
export interface CropConfig {
  /** Output side in pixels (square output). */
  size: number;
  /** Range of the crop's area as a fraction of the image area, e.g. [0.08, 1]. */
  scale: [number, number];
  /** Range of the crop's aspect ratio (width / height), sampled log-uniformly, e.g. [3/4, 4/3]. */
  ratio: [number, number];
}

export interface FlipConfig {
  p: number;
}

/**
 * Color jitter as in torchvision: brightness, contrast and saturation factors are drawn from
 * U[max(0, 1 − x), 1 + x], the hue shift from U[−hue, hue] (a fraction of the color wheel).
 * A strength of 0 disables that adjustment. The whole jitter is applied with probability `p`,
 * each sample with its own factors.
 */
export interface ColorJitterConfig {
  p: number;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  /**
   * `per-sample` (default): each sample applies the adjustments in its own random order, as
   * DeepMind's BYOL code does. `per-batch`: one random order per batch, as torchvision's
   * ColorJitter on a batched tensor and kornia do; about 3× cheaper on wasm, since the
   * per-sample order has to regroup the samples at every stage.
   */
  order?: ColorJitterOrder;
}

export type ColorJitterOrder = 'per-sample' | 'per-batch';

export interface GrayscaleConfig {
  p: number;
}

export interface BlurConfig {
  p: number;
  /** σ is drawn per sample from U[sigma[0], sigma[1]] (pixels). */
  sigma: [number, number];
  /** Odd kernel side; default: about 10% of the image side (see `blurKernelSize`). */
  kernelSize?: number;
}

export interface SolarizeConfig {
  p: number;
  /** Pixels >= threshold become 1 − x. */
  threshold: number;
}

export interface NormalizeConfig {
  /** One value per channel (or a single value for all channels). */
  mean: number[];
  std: number[];
}

/** One view's pipeline, applied in this order: crop, flip, colorJitter, grayscale, blur, solarize, normalize. */
export interface AugmentationConfig {
  crop?: CropConfig;
  flip?: FlipConfig;
  colorJitter?: ColorJitterConfig;
  grayscale?: GrayscaleConfig;
  blur?: BlurConfig;
  solarize?: SolarizeConfig;
  normalize?: NormalizeConfig;
}

export type AugmentationOpName = keyof AugmentationConfig;

export const AUGMENTATION_OP_ORDER: readonly AugmentationOpName[] = [
  'crop',
  'flip',
  'colorJitter',
  'grayscale',
  'blur',
  'solarize',
  'normalize',
];

/**
 * Per-view overrides in YAML: each listed op's keys replace the preset's keys for that op
 * (shallow merge); `null` removes the op from the view.
 */
export type AugmentationOverrides = {
  [K in AugmentationOpName]?: Partial<NonNullable<AugmentationConfig[K]>> | null;
};

/** Names accepted by `augment.preset`; `auto` is byol-small-gray for 1-channel data, byol otherwise. */
export type AugmentPresetName = 'auto' | 'byol' | 'byol-small-gray' | 'none';

export const AUGMENT_PRESET_NAMES: readonly AugmentPresetName[] = ['auto', 'byol', 'byol-small-gray', 'none'];

/**
 * Multi-crop (SwAV; DINO and solo-learn use it with BYOL too): `count` extra small random
 * resized crops per image, seen only by the online network. Each uses view T's other ops
 * (flip, colour jitter, ...) at its own size; the target sees the two global views only.
 */
export interface LocalCropsConfig {
  /** Local crops per image (integer >= 1). */
  count: number;
  /** Output side in pixels: >= 4 and at most the global views' side. */
  size: number;
  /** Range of the crop's area as a fraction of the image area, within (0, 1], e.g. [0.05, 0.4]. */
  scale: [number, number];
  /** Aspect-ratio range (width / height); default T's crop ratio, else [3/4, 4/3]. */
  ratio?: [number, number];
}

/**
 * The YAML `augment:` section, e.g.
 *
 * ```yaml
 * augment:
 *   preset: byol        # auto | byol | byol-small-gray | none
 *   size: 32            # crop output side; default: the data's image side
 *   tPrime:
 *     solarize: { p: 0.3 }
 *     blur: null        # drop the blur from T'
 *   localCrops:         # optional multi-crop: 4 extra 14 px crops of 5-40% of the area
 *     count: 4
 *     size: 14
 *     scale: [0.05, 0.4]
 * ```
 */
export interface AugmentSectionConfig {
  preset?: AugmentPresetName;
  size?: number;
  t?: AugmentationOverrides;
  tPrime?: AugmentationOverrides;
  /** Multi-crop; absent or null: the two global views only. */
  localCrops?: LocalCropsConfig | null;
}
