import type * as tf from '@tensorflow/tfjs';
import { IsNumber, Min } from 'class-validator';
import { registerMethod, Section, type ImageBatch, type StepLogs } from '@selfsup/core';
import { LarsOptimizerConfig, splitViews, SslAugmentConfig, SslExperiment, SslModelConfig, SslOptimizerConfig, zStd, type SslExperimentConfig, type SslInit, type SslOptimizerSection } from '@selfsup/ssl';
import { ntXentLoss } from './loss';

/** `model:` — backbone and projector (SimCLR's 2048 → 128 head); no predictor. */
export class SimClrModelConfig extends SslModelConfig {}

/** `loss:` — NT-Xent's temperature (0.2: solo-learn's CIFAR setting; the paper's ImageNet one is 0.1). */
export class SimClrLossConfig {
  @IsNumber()
  @Min(1e-4)
  temperature: number = 0.2;
}

/** The sections `method: simclr` takes. */
export class SimClrSectionsConfig {
  @Section(() => SimClrModelConfig)
  model: SimClrModelConfig = new SimClrModelConfig();

  @Section(() => SslAugmentConfig)
  augment: SslAugmentConfig = SslAugmentConfig.absent();

  @Section(() => SslOptimizerConfig)
  optimizer: SslOptimizerSection = new LarsOptimizerConfig();

  @Section(() => SimClrLossConfig)
  loss: SimClrLossConfig = new SimClrLossConfig();
}

export interface SimClrConfig extends SslExperimentConfig<SimClrModelConfig> {
  loss?: Partial<SimClrLossConfig>;
}

/**
 * SimCLR (Chen et al., 2020): encoder → projector on both views in one pass; NT-Xent over the
 * 2N projections (the other view of the same image is the positive, the other 2N − 2 the
 * negatives). No target network, no predictor. Logs loss, z_std, lr.
 */
@registerMethod('simclr', { config: SimClrSectionsConfig, description: 'SimCLR: contrastive NT-Xent over 2N views' })
export class SimClrExperiment extends SslExperiment<SimClrConfig, SimClrModelConfig> {
  constructor(config: SimClrConfig = {}, init: SslInit = {}) {
    super(config, init, SimClrSectionsConfig);
  }

  get lossConfig(): SimClrLossConfig {
    return (this.sections as unknown as SimClrSectionsConfig).loss;
  }

  trainStep(batch: ImageBatch | tf.Tensor4D): StepLogs {
    const { temperature } = this.lossConfig;
    return this.twoViewStep(batch, (both, n) => {
      const z = this.project(both);
      const [z1, z2] = splitViews(z, n);
      return { loss: ntXentLoss(z1, z2, temperature), logs: { z_std: zStd(z) } };
    });
  }
}
