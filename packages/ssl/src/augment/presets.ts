import type { AugmentationConfig } from './config';

/**
 * The BYOL paper's view distributions (Table 6; arXiv 2006.07733, appendix B). T and T'
 * differ only in blur (1.0 / 0.1) and solarize (0 / 0.2) probabilities. Solarize stays in T
 * with p = 0 so a YAML override can switch it on without restating the threshold.
 * On 1-channel images saturation, hue and grayscale mean nothing, so they are left out.
 */
function byolView(size: number, channels: number, blurP: number, solarizeP: number, minArea: number): AugmentationConfig {
  if (channels !== 1 && channels !== 3) {
    throw new Error(`BYOL augmentation preset: channels must be 1 or 3, got ${channels}`);
  }
  const rgb = channels === 3;
  const config: AugmentationConfig = {
    crop: { size, scale: [minArea, 1], ratio: [3 / 4, 4 / 3] },
    flip: { p: 0.5 },
    colorJitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: rgb ? 0.2 : 0, hue: rgb ? 0.1 : 0 },
    blur: { p: blurP, sigma: [0.1, 2.0] },
    solarize: { p: solarizeP, threshold: 0.5 },
  };
  if (rgb) config.grayscale = { p: 0.2 };
  return config;
}

/** T of the paper: blur always, never solarize. */
export function byolViewT(size: number, channels = 3): AugmentationConfig {
  return byolView(size, channels, 1.0, 0.0, 0.08);
}

/** T' of the paper: blur with p 0.1, solarize with p 0.2. */
export function byolViewTPrime(size: number, channels = 3): AugmentationConfig {
  return byolView(size, channels, 0.1, 0.2, 0.08);
}

/**
 * T for small 1-channel images such as (Fashion-)MNIST at 28×28: crop area U[0.2, 1], since an
 * 8% crop of 28 px keeps ~8 px of content; only brightness and contrast jitter; and no blur:
 * σ up to 2 px (the paper's range, meant for 224 px images) wipes out a 28 px image, which is
 * why solo-learn's CIFAR configs set gaussian_prob 0 too. The blur op stays with p = 0 so an
 * override can switch it on.
 */
export function byolSmallGrayViewT(size = 28): AugmentationConfig {
  return byolView(size, 1, 0.0, 0.0, 0.2);
}

/** T' counterpart of `byolSmallGrayViewT`: solarize with p 0.2, no blur. */
export function byolSmallGrayViewTPrime(size = 28): AugmentationConfig {
  return byolView(size, 1, 0.0, 0.2, 0.2);
}
