import { IsInt, Min } from 'class-validator';
import type * as tf from '@tensorflow/tfjs';
import { Section } from '@selfsup/core';
import {
  LarsOptimizerConfig,
  SslModelConfig,
  SslAugmentConfig as ByolAugmentConfig,
  SslOptimizerConfig as ByolOptimizerConfig,
  type AugmentationPipeline,
  type AugmentSectionConfig,
  type LocalCropViews,
  type SslOptimizerOptions as ByolOptimizerOptions,
  type SslOptimizerSection as ByolOptimizerSection,
} from '@selfsup/ssl';

// BYOL's `augment:` and `optimizer:` sections are the shared ones of @selfsup/ssl (their
// defaults are BYOL's); the names below are kept for code that imports them from here.
export { ByolAugmentConfig, ByolOptimizerConfig };
export type { ByolOptimizerOptions, ByolOptimizerSection };

// The defaults of the byol method live here, once: as the initialisers of these classes. A
// YAML config is validated into them (resolveConfig); `new ByolExperiment({...})` from code
// validates its partial sections the same way, so both get the same defaults and checks, and
// config.resolved.yaml shows every one of them.

/**
 * `model:` — the online network: the shared backbone + projector keys of @selfsup/ssl with
 * the paper's head sizes (4096 → 256) as defaults, plus BYOL's predictor.
 */
export class ByolModelConfig extends SslModelConfig {
  override projectorHiddenDim: number = 4096;
  override projectorDim: number = 256;

  @IsInt()
  @Min(1)
  predictorHiddenDim: number = 4096;
}

/** The config sections the `byol` method owns, validated when a YAML config names it; an absent section gets its defaults. */
export class ByolSectionsConfig {
  @Section(() => ByolModelConfig)
  model: ByolModelConfig = new ByolModelConfig();

  @Section(() => ByolAugmentConfig)
  augment: ByolAugmentConfig = ByolAugmentConfig.absent();

  @Section(() => ByolOptimizerConfig)
  optimizer: ByolOptimizerSection = new LarsOptimizerConfig();
}

/** What `new ByolExperiment(config)` takes; every field has a default. */
export interface ByolConfig {
  /** Partial: the keys not given get ByolModelConfig's defaults. */
  model?: Partial<ByolModelConfig>;
  /** Bring your own backbone: a LayersModel whose output is the feature vector (see wrapBackbone). */
  encoder?: tf.LayersModel;
  /** The YAML section (partial, see ByolAugmentConfig), or ready pipelines for T and T' (and, for multi-crop, the local crops'). */
  augment?: Partial<ByolAugmentConfig> | AugmentSectionConfig | { t: AugmentationPipeline; tPrime: AugmentationPipeline; local?: LocalCropViews };
  /** Partial: the keys not given get the named optimizer's defaults (see ByolOptimizerConfig). */
  optimizer?: ByolOptimizerOptions;
  /** [H, W, C] of the input; default: the `train` dataset's image shape. */
  inputShape?: [number, number, number];
  batchSize?: number;
  seed?: number;
  /** Present when built from a YAML config: batch size and seed come from here. */
  trainer?: { batchSize?: number; seed?: number };
}
