import type * as tf from '@tensorflow/tfjs';
import { IsInt, Min } from 'class-validator';
import { registerMethod, Section, type ImageBatch, type StepLogs } from '@selfsup/core';
import {
  buildMlpHead,
  SgdOptimizerConfig,
  splitViews,
  SSL_MODELS,
  SslAugmentConfig,
  SslExperiment,
  SslModelConfig,
  SslOptimizerConfig,
  zStd,
  type SslExperimentConfig,
  type SslInit,
  type SslOptimizerSection,
} from '@selfsup/ssl';
import { simSiamLoss } from './loss';

/** Model names in `exp.models`: the shared encoder and projector, and the predictor. */
export const SIMSIAM_MODELS = { ...SSL_MODELS, predictor: 'online_predictor' } as const;

/** `model:` — backbone, projector (2048 → 2048) and the bottleneck predictor (2048 → 512 → 2048), as the paper. */
export class SimSiamModelConfig extends SslModelConfig {
  override projectorHiddenDim: number = 2048;
  override projectorDim: number = 2048;

  @IsInt()
  @Min(1)
  predictorHiddenDim: number = 512;
}

/** The sections `method: simsiam` takes (optimizer: sgd unless the config names another). */
export class SimSiamSectionsConfig {
  @Section(() => SimSiamModelConfig)
  model: SimSiamModelConfig = new SimSiamModelConfig();

  @Section(() => SslAugmentConfig)
  augment: SslAugmentConfig = SslAugmentConfig.absent();

  @Section(() => SslOptimizerConfig)
  optimizer: SslOptimizerSection = new SgdOptimizerConfig();
}

/** @deprecated the name examples/simsiam.ts used; the same class as SimSiamSectionsConfig. */
export const SimSiamSections = SimSiamSectionsConfig;

export type SimSiamConfig = SslExperimentConfig<SimSiamModelConfig>;

/**
 * SimSiam (Chen & He, 2021): no target network and no EMA. Both views go through the same
 * encoder + projector; the predictor maps one view's projection onto the other's, whose
 * branch is cut from the gradient (stop-gradient). Loss: ½·D(p₁, sg(z₂)) + ½·D(p₂, sg(z₁)),
 * D = −cos. `optimizer.predictorLrMultiplier` / `predictorFixedLr` apply to the predictor
 * (the paper's fix_pred_lr). Logs loss, z_std, lr.
 */
@registerMethod('simsiam', { config: SimSiamSectionsConfig, description: 'SimSiam: a Siamese network with stop-gradient, no target network' })
export class SimSiamExperiment extends SslExperiment<SimSiamConfig, SimSiamModelConfig> {
  protected override predictorModel: string | undefined = SIMSIAM_MODELS.predictor;

  constructor(config: SimSiamConfig = {}, init: SslInit = {}) {
    super(config, init, SimSiamSectionsConfig);
  }

  protected override configureHeads(): void {
    const m = this.modelConfig;
    this.models.set(
      SIMSIAM_MODELS.predictor,
      buildMlpHead({ inputDim: m.projectorDim, hiddenDim: m.predictorHiddenDim, outputDim: m.projectorDim, name: SIMSIAM_MODELS.predictor, seed: m.seed + 2 }),
    );
  }

  protected override trainableModels(): string[] {
    return [SIMSIAM_MODELS.encoder, SIMSIAM_MODELS.projector, SIMSIAM_MODELS.predictor];
  }

  trainStep(batch: ImageBatch | tf.Tensor4D): StepLogs {
    const pred = this.model(SIMSIAM_MODELS.predictor);
    return this.twoViewStep(batch, (both, n) => {
      const z = this.project(both);
      const p = pred.apply(z, { training: true }) as tf.Tensor2D;
      const [z1, z2] = splitViews(z, n);
      const [p1, p2] = splitViews(p, n);
      return { loss: simSiamLoss(p1, z2, p2, z1), logs: { z_std: zStd(z) } };
    });
  }
}
