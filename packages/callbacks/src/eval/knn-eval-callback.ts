import { IsInt, IsNumber, IsPositive, Min } from 'class-validator';
import type * as tf from '@tensorflow/tfjs';
import { CallbackOrder, registerCallback, type CallbackInit, type ImageDataset } from '@selfsup/core';
import { evaluateKnn, type DatasetEvalResult } from './evaluate';
import { BankQueryEvalCallback, BankQueryEvalOptions, type AnyExperiment } from './feature-eval-callback';

export class KnnEvalOptions extends BankQueryEvalOptions {
  /** Neighbours that vote. */
  @IsInt()
  @Min(1)
  k = 20;

  /** Votes are weighted by exp(similarity / temperature). */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  temperature = 0.07;
}

/**
 * Weighted kNN accuracy of the encoder at epoch end (every N epochs and at the last one):
 * the `bank` dataset's features are the memory bank, the `query` dataset is classified.
 * Logs `knn_acc` (top-1) and, with more than 5 classes, `knn_top5`. Runs in EVALUATION
 * order, so a checkpoint callback can monitor `knn_acc` in the same epoch.
 */
@registerCallback('knn-eval', {
  options: KnnEvalOptions,
  order: CallbackOrder.EVALUATION,
  description: 'weighted kNN accuracy (k=20, T=0.07) of the encoder on the val set, logged as knn_acc',
})
export class KnnEvalCallback extends BankQueryEvalCallback<KnnEvalOptions> {
  constructor(options: Partial<KnnEvalOptions> = {}, init: CallbackInit = {}) {
    super(KnnEvalOptions, options, init);
  }

  protected evaluate(encoder: tf.LayersModel, bank: ImageDataset, query: ImageDataset): Promise<DatasetEvalResult> {
    const o = this.options;
    return evaluateKnn(encoder, bank, query, { k: o.k, temperature: o.temperature, batchSize: o.batchSize, bankLimit: o.bankLimit, queryLimit: o.queryLimit });
  }

  protected report(exp: AnyExperiment, r: DatasetEvalResult): void {
    exp.logMetric('knn_acc', r.top1);
    if (r.top5 !== undefined) exp.logMetric('knn_top5', r.top5);
  }
}
