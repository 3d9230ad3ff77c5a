import { IsBoolean, IsIn, IsInt, IsNumber, IsObject, IsOptional, Max, Min, ValidateIf } from 'class-validator';
import type { ConfigClass, ConfigVariants } from '@selfsup/core';
import { BACKBONE_NAMES, type BackboneName } from '../models';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optim';
import { AUGMENT_PRESET_NAMES, type AugmentationOverrides, type AugmentPresetName, type AugmentSectionConfig, type LocalCropsConfig } from '../augment';

// The config sections every two-view method shares: `augment:` (the two views), `optimizer:`
// (one class per optimizer) and the backbone + projector keys of `model:`. A method's own
// sections class (@Section) names these classes, or subclasses of them with other defaults
// (initialisers), so a YAML config and code get the same validation and defaults.

/**
 * `model:` — the backbone and the projector every method has. A method subclasses it to add
 * its own heads (a predictor) or to change the defaults (override the initialisers).
 */
export class SslModelConfig {
  @IsIn(BACKBONE_NAMES as unknown as string[])
  backbone: BackboneName = 'resnet18';

  @IsIn(['cifar', 'imagenet'])
  stem: 'cifar' | 'imagenet' = 'cifar';

  /** Channel multiplier of the backbone (0.25 = a quarter of ResNet's widths). */
  @IsNumber()
  @Min(1 / 64)
  @Max(4)
  width: number = 1;

  @IsInt()
  @Min(1)
  projectorHiddenDim: number = 2048;

  @IsInt()
  @Min(1)
  projectorDim: number = 128;

  /**
   * Start each residual block as the identity (its last BN's γ = 0), as torchvision's
   * `zero_init_residual`. Measured on the main job: docs/quality.md.
   */
  @IsBoolean()
  zeroInitResidual: boolean = false;

  /** Seed of the initial weights (unset: the trainer seed). */
  @IsOptional()
  @IsInt()
  seed?: number;
}

/**
 * `augment:` — the two views T and T' (see AugmentSectionConfig); the ops' own keys are
 * checked when the pipelines are built.
 */
export class SslAugmentConfig implements AugmentSectionConfig {
  /**
   * The views' starting point: `byol` (the paper's T/T'), `byol-small-gray` (1-channel small
   * images), `none`, or `auto`: byol-small-gray for 1-channel data, byol otherwise — what a
   * config without an `augment:` section gets.
   */
  @IsIn(AUGMENT_PRESET_NAMES as unknown as string[])
  preset: AugmentPresetName = 'byol';

  /** Crop output side in pixels (unset: the data's image side). */
  @IsOptional()
  @IsInt()
  @Min(1)
  size?: number;

  /** Per-op overrides of view T's preset (`null` drops an op). */
  @IsObject()
  t: AugmentationOverrides = {};

  /** Per-op overrides of view T''s preset. */
  @IsObject()
  tPrime: AugmentationOverrides = {};

  /** Multi-crop: `{ count, size, scale, ratio? }`; null: the two global views only. */
  @ValidateIf((o: SslAugmentConfig) => o.localCrops !== null)
  @IsObject()
  localCrops: LocalCropsConfig | null = null;

  /** The section a config without `augment:` gets: the preset picked by the data's channels. */
  static absent(): SslAugmentConfig {
    return Object.assign(new SslAugmentConfig(), { preset: 'auto' as const });
  }
}

/**
 * `optimizer:` — the keys every optimizer takes. Each optimizer has its own class with its
 * own keys and defaults, picked by `name` (default lars): {@link LarsOptimizerConfig},
 * {@link SgdOptimizerConfig}, {@link AdamOptimizerConfig}, {@link AdamWOptimizerConfig}.
 * A key another optimizer takes (eta for adam) is an unknown key.
 */
export class SslOptimizerConfig {
  @IsIn(OPTIMIZER_NAMES as unknown as string[])
  name: OptimizerName = 'lars';

  /** Base learning rate; multiplied by batchSize/256 when scaleLr is true. */
  @IsNumber()
  @Min(0)
  lr: number = 0.2;

  @IsBoolean()
  scaleLr: boolean = true;

  /** lars: decay inside the trust ratio; sgd, adam: L2 added to the gradient; adamw: decoupled. */
  @IsNumber()
  @Min(0)
  weightDecay: number = 1.5e-6;

  /**
   * Split every batch into this many micro-batches, each with its own forward and backward
   * pass, and average their gradients before the one optimizer step: peak activation memory
   * is that of batch/microBatches (the wasm heap is 4 GB; see docs/performance.md). Batch
   * norm then normalises per micro-batch, as gradient accumulation does in PyTorch.
   */
  @IsInt()
  @Min(1)
  microBatches: number = 1;

  /**
   * The predictor's learning rate is this multiple of the base LR (DirectPred and SimSiam
   * report that a faster predictor speeds up early learning).
   */
  @IsNumber()
  @Min(0)
  predictorLrMultiplier: number = 1;

  /**
   * true: the predictor's LR stays at base LR × predictorLrMultiplier, not scheduled (SimSiam's
   * `fix_pred_lr`); false: the lr-schedule scales it like every other weight.
   */
  @IsBoolean()
  predictorFixedLr: boolean = false;

  /** Each optimizer's class, by `name` (lars when not given). */
  static get variants(): ConfigVariants {
    return { by: 'name', classes: OPTIMIZER_VARIANTS, default: 'lars' };
  }
}

/** `optimizer.name: lars` (the paper): momentum SGD with a per-layer trust ratio. */
export class LarsOptimizerConfig extends SslOptimizerConfig {
  override name: OptimizerName = 'lars';

  @IsNumber()
  @Min(0)
  @Max(1)
  momentum: number = 0.9;

  @IsBoolean()
  nesterov: boolean = false;

  /** Trust coefficient η. */
  @IsNumber()
  @Min(0)
  eta: number = 1e-3;

  /** solo-learn's `clip_lr`: cap the adapted rate at the global one. */
  @IsBoolean()
  clipTrustRatio: boolean = false;
}

/** `optimizer.name: sgd`: torch's SGD with momentum. */
export class SgdOptimizerConfig extends SslOptimizerConfig {
  override name: OptimizerName = 'sgd';

  @IsNumber()
  @Min(0)
  @Max(1)
  momentum: number = 0.9;

  @IsBoolean()
  nesterov: boolean = false;
}

/** `optimizer.name: adam`: torch's Adam (coupled L2 weight decay). */
export class AdamOptimizerConfig extends SslOptimizerConfig {
  override name: OptimizerName = 'adam';
  override weightDecay: number = 0;

  @IsNumber()
  beta1: number = 0.9;

  @IsNumber()
  beta2: number = 0.999;

  @IsNumber()
  epsilon: number = 1e-8;
}

/** `optimizer.name: adamw`: torch's AdamW (decoupled weight decay). */
export class AdamWOptimizerConfig extends AdamOptimizerConfig {
  override name: OptimizerName = 'adamw';
  override weightDecay: number = 1e-2;
}

const OPTIMIZER_VARIANTS: Record<OptimizerName, ConfigClass> = {
  lars: LarsOptimizerConfig,
  sgd: SgdOptimizerConfig,
  adam: AdamOptimizerConfig,
  adamw: AdamWOptimizerConfig,
};

/** An `optimizer:` section from code: the keys of the optimizer it names (lars when it names none). */
export type SslOptimizerOptions =
  | (Partial<LarsOptimizerConfig> & { name?: 'lars' })
  | (Partial<SgdOptimizerConfig> & { name: 'sgd' })
  | (Partial<AdamOptimizerConfig> & { name: 'adam' })
  | (Partial<AdamWOptimizerConfig> & { name: 'adamw' });

/** The validated `optimizer:` section: one of the optimizer classes. */
export type SslOptimizerSection = LarsOptimizerConfig | SgdOptimizerConfig | AdamOptimizerConfig | AdamWOptimizerConfig;

