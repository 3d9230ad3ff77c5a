import type * as tf from '@tensorflow/tfjs';
import { IsNumber, Min } from 'class-validator';
import { registerMethod, Section, type ImageBatch, type StepLogs } from '@selfsup/core';
import { LarsOptimizerConfig, splitViews, SslAugmentConfig, SslExperiment, SslModelConfig, SslOptimizerConfig, zStd, type SslExperimentConfig, type SslInit, type SslOptimizerSection } from '@selfsup/ssl';
import { barlowTwinsTerms } from './loss';

/** `model:` — backbone and projector (the paper's is 8192-wide; 2048 → 2048 by default here). */
export class BarlowTwinsModelConfig extends SslModelConfig {
  override projectorHiddenDim: number = 2048;
  override projectorDim: number = 2048;
}

/** `loss:` — λ, the weight of the off-diagonal (redundancy-reduction) term, and the loss's scale. */
export class BarlowTwinsLossConfig {
  @IsNumber()
  @Min(0)
  lambda: number = 5e-3;

  /**
   * Multiplies the whole loss (solo-learn's `scale_loss`; its CIFAR recipe: 0.1). Not a no-op
   * under clipped LARS: biases and norm parameters take plain SGD steps on the raw gradient.
   */
  @IsNumber()
  @Min(0)
  scale: number = 1;
}

/** The sections `method: barlow-twins` takes. */
export class BarlowTwinsSectionsConfig {
  @Section(() => BarlowTwinsModelConfig)
  model: BarlowTwinsModelConfig = new BarlowTwinsModelConfig();

  @Section(() => SslAugmentConfig)
  augment: SslAugmentConfig = SslAugmentConfig.absent();

  @Section(() => SslOptimizerConfig)
  optimizer: SslOptimizerSection = new LarsOptimizerConfig();

  @Section(() => BarlowTwinsLossConfig)
  loss: BarlowTwinsLossConfig = new BarlowTwinsLossConfig();
}

export interface BarlowTwinsConfig extends SslExperimentConfig<BarlowTwinsModelConfig> {
  loss?: Partial<BarlowTwinsLossConfig>;
}

/**
 * Barlow Twins (Zbontar et al., 2021): encoder → projector on both views; the
 * cross-correlation of the two views' batch-normalised embeddings is pushed to the identity.
 * No negatives, no target, no predictor. Logs loss (scaled), z_std, bt_on_diag, bt_off_diag
 * (before λ and the scale), lr.
 */
@registerMethod('barlow-twins', { config: BarlowTwinsSectionsConfig, description: 'Barlow Twins: cross-correlation of the two views pushed to the identity' })
export class BarlowTwinsExperiment extends SslExperiment<BarlowTwinsConfig, BarlowTwinsModelConfig> {
  constructor(config: BarlowTwinsConfig = {}, init: SslInit = {}) {
    super(config, init, BarlowTwinsSectionsConfig);
  }

  get lossConfig(): BarlowTwinsLossConfig {
    return (this.sections as unknown as BarlowTwinsSectionsConfig).loss;
  }

  trainStep(batch: ImageBatch | tf.Tensor4D): StepLogs {
    const { lambda, scale } = this.lossConfig;
    return this.twoViewStep(batch, (both, n) => {
      const z = this.project(both);
      const [z1, z2] = splitViews(z, n);
      const t = barlowTwinsTerms(z1, z2, lambda, 1e-5, scale);
      return { loss: t.loss, logs: { z_std: zStd(z), bt_on_diag: t.onDiagonal, bt_off_diag: t.offDiagonal } };
    });
  }
}
