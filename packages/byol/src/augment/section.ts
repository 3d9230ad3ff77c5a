import {
  AUGMENT_PRESET_NAMES,
  AUGMENTATION_OP_ORDER,
  AugmentationConfig,
  AugmentationOverrides,
  AugmentSectionConfig,
} from './config';
import { AugmentationPipeline } from './pipeline';
import { byolSmallGrayViewT, byolSmallGrayViewTPrime, byolViewT, byolViewTPrime } from './presets';

export interface ImageShapeInfo {
  /** Side of the (square) source images; the default crop output size. */
  size: number;
  channels: number;
}

/**
 * Turns the YAML `augment:` section into the two view configs: the preset (default `byol`)
 * for the data's shape, then each view's overrides merged op by op (`null` drops an op).
 */
export function resolveAugmentSection(section: AugmentSectionConfig, data: ImageShapeInfo): { t: AugmentationConfig; tPrime: AugmentationConfig } {
  const preset = section.preset ?? 'byol';
  if (!AUGMENT_PRESET_NAMES.includes(preset)) {
    throw new Error(`Invalid augmentation config: augment.preset = ${JSON.stringify(preset)}; expected one of ${AUGMENT_PRESET_NAMES.join(', ')}.`);
  }
  const size = section.size ?? data.size;
  if (!Number.isInteger(size) || size < 1) {
    throw new Error(`Invalid augmentation config: augment.size = ${JSON.stringify(size)}; expected a positive integer (crop output side in pixels).`);
  }
  let t: AugmentationConfig = {};
  let tPrime: AugmentationConfig = {};
  if (preset === 'byol') {
    t = byolViewT(size, data.channels);
    tPrime = byolViewTPrime(size, data.channels);
  } else if (preset === 'byol-small-gray') {
    if (data.channels !== 1) {
      throw new Error(`Invalid augmentation config: augment.preset = "byol-small-gray" needs 1-channel images, the data has ${data.channels}; use preset "byol".`);
    }
    t = byolSmallGrayViewT(size);
    tPrime = byolSmallGrayViewTPrime(size);
  }
  return { t: mergeOverrides(t, section.t, 'augment.t'), tPrime: mergeOverrides(tPrime, section.tPrime, 'augment.tPrime') };
}

function mergeOverrides(base: AugmentationConfig, overrides: AugmentationOverrides | undefined, path: string): AugmentationConfig {
  if (overrides === undefined) return base;
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new Error(`Invalid augmentation config: ${path} = ${JSON.stringify(overrides)}; expected an object of per-op overrides.`);
  }
  const out: Record<string, unknown> = { ...base };
  for (const [op, value] of Object.entries(overrides)) {
    if (!(AUGMENTATION_OP_ORDER as readonly string[]).includes(op)) {
      throw new Error(`Invalid augmentation config: unknown key ${path}.${op}; allowed keys are: ${AUGMENTATION_OP_ORDER.join(', ')}.`);
    }
    if (value === null) delete out[op];
    else out[op] = { ...(out[op] as object | undefined), ...value };
  }
  return out as AugmentationConfig;
}

/** Builds the T and T' pipelines from the YAML section; errors name the `augment.*` key. */
export function buildViewPipelines(section: AugmentSectionConfig, data: ImageShapeInfo): { t: AugmentationPipeline; tPrime: AugmentationPipeline } {
  const { t, tPrime } = resolveAugmentSection(section, data);
  return { t: new AugmentationPipeline(t, 'augment.t'), tPrime: new AugmentationPipeline(tPrime, 'augment.tPrime') };
}
