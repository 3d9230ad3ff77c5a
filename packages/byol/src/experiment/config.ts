import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsObject, IsOptional, Max, Min, ValidateNested } from 'class-validator';
import type * as tf from '@tensorflow/tfjs';
import { BACKBONE_NAMES, type BackboneName } from '../models';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optim';
import type { AugmentationPipeline, AugmentSectionConfig, LocalCropViews } from '../augment';

/** `model:` — the online network. Defaults: ResNet-18, CIFAR stem, heads 4096 → 256 (the paper). */
export class ByolModelConfig {
  @IsOptional()
  @IsIn(BACKBONE_NAMES as unknown as string[])
  backbone?: BackboneName;

  @IsOptional()
  @IsIn(['cifar', 'imagenet'])
  stem?: 'cifar' | 'imagenet';

  /** Channel multiplier of the backbone (0.25 = a quarter of ResNet's widths). */
  @IsOptional()
  @IsNumber()
  @Min(1 / 64)
  @Max(4)
  width?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  projectorHiddenDim?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  projectorDim?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  predictorHiddenDim?: number;

  /** Seed of the initial weights (default: the trainer seed). */
  @IsOptional()
  @IsInt()
  seed?: number;
}

/** `optimizer:` — LARS (the paper), SGD, Adam or AdamW. */
export class ByolOptimizerConfig {
  @IsOptional()
  @IsIn(OPTIMIZER_NAMES as unknown as string[])
  name?: OptimizerName;

  /** Base learning rate; multiplied by batchSize/256 when scaleLr is true. */
  @IsOptional()
  @IsNumber()
  @Min(0)
  lr?: number;

  @IsOptional()
  @IsBoolean()
  scaleLr?: boolean;

  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  momentum?: number;

  @IsOptional()
  @IsNumber()
  @Min(0)
  weightDecay?: number;

  @IsOptional()
  @IsBoolean()
  nesterov?: boolean;

  /** LARS trust coefficient η. */
  @IsOptional()
  @IsNumber()
  @Min(0)
  eta?: number;

  @IsOptional()
  @IsBoolean()
  clipTrustRatio?: boolean;

  @IsOptional()
  @IsNumber()
  beta1?: number;

  @IsOptional()
  @IsNumber()
  beta2?: number;

  @IsOptional()
  @IsNumber()
  epsilon?: number;

  /**
   * Split every batch into this many micro-batches, each with its own forward and backward
   * pass, and average their gradients before the one optimizer step: peak activation memory
   * is that of batch/microBatches (the wasm heap is 4 GB; see docs/performance.md). Batch
   * norm then normalises per micro-batch, as gradient accumulation does in PyTorch. Default 1.
   */
  @IsOptional()
  @IsInt()
  @Min(1)
  microBatches?: number;

  /**
   * The predictor's learning rate is this multiple of the base LR (DirectPred and SimSiam
   * report that a faster predictor speeds up early learning). Default 1.
   */
  @IsOptional()
  @IsNumber()
  @Min(0)
  predictorLrMultiplier?: number;

  /**
   * true: the predictor's LR stays at base LR × predictorLrMultiplier, not scheduled (SimSiam's
   * `fix_pred_lr`); false (default): the lr-schedule scales it like every other weight.
   */
  @IsOptional()
  @IsBoolean()
  predictorFixedLr?: boolean;
}

/** The config sections the `byol` method owns, validated when a YAML config names it. */
export class ByolSectionsConfig {
  @IsOptional()
  @ValidateNested()
  @Type(() => ByolModelConfig)
  model?: ByolModelConfig;

  /** See AugmentSectionConfig (preset, size, t, tPrime, localCrops); checked when the pipelines are built. */
  @IsOptional()
  @IsObject()
  augment?: AugmentSectionConfig;

  @IsOptional()
  @ValidateNested()
  @Type(() => ByolOptimizerConfig)
  optimizer?: ByolOptimizerConfig;
}

/** What `new ByolExperiment(config)` takes; every field has a default. */
export interface ByolConfig {
  model?: ByolModelConfig;
  /** Bring your own backbone: a LayersModel whose output is the feature vector (see wrapBackbone). */
  encoder?: tf.LayersModel;
  /** The YAML section, or ready pipelines for T and T' (and, for multi-crop, the local crops'). */
  augment?: AugmentSectionConfig | { t: AugmentationPipeline; tPrime: AugmentationPipeline; local?: LocalCropViews };
  optimizer?: ByolOptimizerConfig;
  /** [H, W, C] of the input; default: the `train` dataset's image shape. */
  inputShape?: [number, number, number];
  batchSize?: number;
  seed?: number;
  /** Present when built from a YAML config: batch size and seed come from here. */
  trainer?: { batchSize?: number; seed?: number };
}

export const BYOL_DEFAULTS = {
  model: { backbone: 'resnet18', stem: 'cifar', width: 1, projectorHiddenDim: 4096, projectorDim: 256, predictorHiddenDim: 4096 },
  optimizer: { name: 'lars', lr: 0.2, scaleLr: true, momentum: 0.9, weightDecay: 1.5e-6, eta: 1e-3, predictorLrMultiplier: 1, predictorFixedLr: false },
} as const;
