import { IsIn, IsInt, IsNumber, IsOptional, IsPositive, Min } from 'class-validator';
import type * as tf from '@tensorflow/tfjs';
import { CallbackOrder, registerCallback, type CallbackInit, type ImageDataset } from '@selfsup/core';
import { evaluateLinearProbe, type DatasetEvalResult } from './evaluate';
import { BankQueryEvalCallback, BankQueryEvalOptions, type AnyExperiment } from './feature-eval-callback';
import type { ProbeNormalization } from './linear-probe';

export class LinearProbeEvalOptions extends BankQueryEvalOptions {
  /** Training passes of the probe. */
  @IsInt()
  @Min(1)
  epochs = 100;

  /** Adam learning rate of the probe. */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  lr = 0.01;

  /** L2 penalty on the probe's weights. */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  weightDecay = 1e-4;

  /** Probe mini-batch size; unset means full batch. */
  @IsOptional()
  @IsInt()
  @Min(1)
  probeBatchSize?: number;

  @IsIn(['standardize', 'l2', 'none'])
  normalize: ProbeNormalization = 'standardize';

  /** Seeds the probe's mini-batch order. */
  @IsInt()
  seed = 0;
}

/**
 * Linear-probe accuracy at epoch end (every N epochs and at the last one): a softmax
 * classifier trained on frozen `bank` features, scored on the `query` set; logs `linear_acc`.
 */
@registerCallback('linear-probe', {
  options: LinearProbeEvalOptions,
  order: CallbackOrder.EVALUATION,
  description: 'logistic regression on frozen encoder features, logged as linear_acc',
})
export class LinearProbeCallback extends BankQueryEvalCallback<LinearProbeEvalOptions> {
  constructor(options: Partial<LinearProbeEvalOptions> = {}, init: CallbackInit = {}) {
    super(LinearProbeEvalOptions, options, init);
  }

  protected evaluate(encoder: tf.LayersModel, bank: ImageDataset, query: ImageDataset): Promise<DatasetEvalResult> {
    const o = this.options;
    return evaluateLinearProbe(encoder, bank, query, {
      batchSize: o.batchSize,
      bankLimit: o.bankLimit,
      queryLimit: o.queryLimit,
      probe: { epochs: o.epochs, lr: o.lr, weightDecay: o.weightDecay, batchSize: o.probeBatchSize, normalize: o.normalize, seed: o.seed },
    });
  }

  protected report(exp: AnyExperiment, r: DatasetEvalResult): void {
    exp.logMetric('linear_acc', r.top1);
  }
}
