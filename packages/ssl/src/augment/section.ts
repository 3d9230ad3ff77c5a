import {
  AUGMENT_PRESET_NAMES,
  AUGMENTATION_OP_ORDER,
  AugmentationConfig,
  AugmentationOverrides,
  AugmentSectionConfig,
  LocalCropsConfig,
} from './config';
import { AugmentationPipeline } from './pipeline';
import { byolSmallGrayViewT, byolSmallGrayViewTPrime, byolViewT, byolViewTPrime } from './presets';
import { UserError } from '@selfsup/core';

export interface ImageShapeInfo {
  /** Side of the (square) source images; the default crop output size. */
  size: number;
  channels: number;
}

/**
 * Turns the YAML `augment:` section into the two view configs: the preset (default `byol`;
 * `auto`: byol-small-gray for 1-channel data) for the data's shape, then each view's
 * overrides merged op by op (`null` drops an op).
 */
export function resolveAugmentSection(section: AugmentSectionConfig, data: ImageShapeInfo): { t: AugmentationConfig; tPrime: AugmentationConfig } {
  let preset = section.preset ?? 'byol';
  if (preset === 'auto') preset = data.channels === 1 ? 'byol-small-gray' : 'byol';
  if (!AUGMENT_PRESET_NAMES.includes(preset)) {
    throw new UserError(`Invalid augmentation config: augment.preset = ${JSON.stringify(preset)}; expected one of ${AUGMENT_PRESET_NAMES.join(', ')}.`);
  }
  const size = section.size ?? data.size;
  if (!Number.isInteger(size) || size < 1) {
    throw new UserError(`Invalid augmentation config: augment.size = ${JSON.stringify(size)}; expected a positive integer (crop output side in pixels).`);
  }
  let t: AugmentationConfig = {};
  let tPrime: AugmentationConfig = {};
  if (preset === 'byol') {
    t = byolViewT(size, data.channels);
    tPrime = byolViewTPrime(size, data.channels);
  } else if (preset === 'byol-small-gray') {
    if (data.channels !== 1) {
      throw new UserError(`Invalid augmentation config: augment.preset = "byol-small-gray" needs 1-channel images, the data has ${data.channels}; use preset "byol".`);
    }
    t = byolSmallGrayViewT(size);
    tPrime = byolSmallGrayViewTPrime(size);
  }
  return { t: mergeOverrides(t, section.t, 'augment.t'), tPrime: mergeOverrides(tPrime, section.tPrime, 'augment.tPrime') };
}

function mergeOverrides(base: AugmentationConfig, overrides: AugmentationOverrides | undefined, path: string): AugmentationConfig {
  if (overrides === undefined) return base;
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new UserError(`Invalid augmentation config: ${path} = ${JSON.stringify(overrides)}; expected an object of per-op overrides.`);
  }
  const out: Record<string, unknown> = { ...base };
  for (const [op, value] of Object.entries(overrides)) {
    if (!(AUGMENTATION_OP_ORDER as readonly string[]).includes(op)) {
      throw new UserError(`Invalid augmentation config: unknown key ${path}.${op}; allowed keys are: ${AUGMENTATION_OP_ORDER.join(', ')}.`);
    }
    if (value === null) delete out[op];
    else out[op] = { ...(out[op] as object | undefined), ...value };
  }
  return out as AugmentationConfig;
}

/** Multi-crop views: `count` crops per image through `pipeline` (T's ops with the local crop). */
export interface LocalCropViews {
  count: number;
  pipeline: AugmentationPipeline;
}

const LOCAL_CROP_KEYS = ['count', 'size', 'scale', 'ratio'];

function localFail(key: string, value: unknown, rule: string): never {
  throw new UserError(`Invalid augmentation config: augment.localCrops${key ? `.${key}` : ''} = ${JSON.stringify(value)}; expected ${rule}.`);
}

function numberPair(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x)) && v[0] <= v[1];
}

/**
 * The local-crop view config of `augment.localCrops` (undefined when absent or null): view T's
 * ops with T's crop replaced by the local one. `globalSize` is the side of the global views;
 * a local crop may not be larger.
 */
export function resolveLocalCrops(section: AugmentSectionConfig, t: AugmentationConfig, globalSize: number): { count: number; config: AugmentationConfig } | undefined {
  const lc = section.localCrops as unknown;
  if (lc === undefined || lc === null) return undefined;
  if (typeof lc !== 'object' || Array.isArray(lc)) localFail('', lc, 'a mapping { count, size, scale, ratio? }, or null for none');
  const o = lc as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!LOCAL_CROP_KEYS.includes(key)) throw new UserError(`Invalid augmentation config: unknown key augment.localCrops.${key}; allowed keys are: ${LOCAL_CROP_KEYS.join(', ')}.`);
  }
  const { count, size, scale, ratio } = o as Partial<LocalCropsConfig>;
  if (!Number.isInteger(count) || (count as number) < 1) localFail('count', count, 'an integer >= 1 (local crops per image)');
  if (!Number.isInteger(size) || (size as number) < 4 || (size as number) > globalSize) {
    localFail('size', size, `an integer in [4, ${globalSize}] (output side in pixels, at most the global views' ${globalSize})`);
  }
  if (!numberPair(scale) || !(scale[0] > 0 && scale[1] <= 1)) localFail('scale', scale, '[min, max] with 0 < min <= max <= 1 (fractions of the image area)');
  if (ratio !== undefined && (!numberPair(ratio) || !(ratio[0] > 0))) localFail('ratio', ratio, '[min, max] with 0 < min <= max (width / height)');
  const crop = { size: size as number, scale: [scale[0], scale[1]] as [number, number], ratio: ratio ?? t.crop?.ratio ?? ([3 / 4, 4 / 3] as [number, number]) };
  return { count: count as number, config: { ...structuredClone(t), crop } };
}

/**
 * Builds the T and T' pipelines from the YAML section, and the local-crop pipeline when
 * `localCrops` is set; errors name the `augment.*` key.
 */
export function buildViewPipelines(
  section: AugmentSectionConfig,
  data: ImageShapeInfo,
): { t: AugmentationPipeline; tPrime: AugmentationPipeline; local?: LocalCropViews } {
  const { t, tPrime } = resolveAugmentSection(section, data);
  const out: { t: AugmentationPipeline; tPrime: AugmentationPipeline; local?: LocalCropViews } = {
    t: new AugmentationPipeline(t, 'augment.t'),
    tPrime: new AugmentationPipeline(tPrime, 'augment.tPrime'),
  };
  const local = resolveLocalCrops(section, t, t.crop?.size ?? section.size ?? data.size);
  if (local) out.local = { count: local.count, pipeline: new AugmentationPipeline(local.config, 'augment.localCrops') };
  return out;
}
