import type * as tf from '@tensorflow/tfjs';
import { IsNumber, Min } from 'class-validator';
import { registerMethod, Section, type ImageBatch, type StepLogs } from '@selfsup/core';
import { LarsOptimizerConfig, splitViews, SslAugmentConfig, SslExperiment, SslModelConfig, SslOptimizerConfig, zStd, type SslExperimentConfig, type SslInit, type SslOptimizerSection } from '@selfsup/ssl';
import { vicRegTerms } from './loss';

/** `model:` — backbone and expander (the projector; the paper's is 8192-wide, smaller here by default). */
export class VicRegModelConfig extends SslModelConfig {
  override projectorHiddenDim: number = 2048;
  override projectorDim: number = 2048;
}

/** `loss:` — the weights of the three terms (the paper: 25, 25, 1). */
export class VicRegLossConfig {
  @IsNumber()
  @Min(0)
  invariance: number = 25;

  @IsNumber()
  @Min(0)
  variance: number = 25;

  @IsNumber()
  @Min(0)
  covariance: number = 1;
}

/** The sections `method: vicreg` takes. */
export class VicRegSectionsConfig {
  @Section(() => VicRegModelConfig)
  model: VicRegModelConfig = new VicRegModelConfig();

  @Section(() => SslAugmentConfig)
  augment: SslAugmentConfig = SslAugmentConfig.absent();

  @Section(() => SslOptimizerConfig)
  optimizer: SslOptimizerSection = new LarsOptimizerConfig();

  @Section(() => VicRegLossConfig)
  loss: VicRegLossConfig = new VicRegLossConfig();
}

export interface VicRegConfig extends SslExperimentConfig<VicRegModelConfig> {
  loss?: Partial<VicRegLossConfig>;
}

/**
 * VICReg (Bardes, Ponce & LeCun, 2022): encoder → expander on both views; invariance (MSE
 * between the views' embeddings), variance (a hinge keeping each dimension's std ≥ 1) and
 * covariance (off-diagonal covariances pushed to 0). No negatives, no target, no predictor.
 * Logs loss, z_std, the unweighted terms vicreg_inv / vicreg_var / vicreg_cov, lr.
 */
@registerMethod('vicreg', { config: VicRegSectionsConfig, description: 'VICReg: variance-invariance-covariance regularisation' })
export class VicRegExperiment extends SslExperiment<VicRegConfig, VicRegModelConfig> {
  constructor(config: VicRegConfig = {}, init: SslInit = {}) {
    super(config, init, VicRegSectionsConfig);
  }

  get lossConfig(): VicRegLossConfig {
    return (this.sections as unknown as VicRegSectionsConfig).loss;
  }

  trainStep(batch: ImageBatch | tf.Tensor4D): StepLogs {
    const weights = this.lossConfig;
    return this.twoViewStep(batch, (both, n) => {
      const z = this.project(both);
      const [z1, z2] = splitViews(z, n);
      const t = vicRegTerms(z1, z2, weights);
      return { loss: t.loss, logs: { z_std: zStd(z), vicreg_inv: t.invariance, vicreg_var: t.variance, vicreg_cov: t.covariance } };
    });
  }
}
