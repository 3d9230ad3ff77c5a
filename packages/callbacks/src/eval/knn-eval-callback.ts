import { IsIn, IsInt, IsNotEmpty, IsNumber, IsOptional, IsPositive, IsString, Min } from 'class-validator';
import type * as tf from '@tensorflow/tfjs';
import { CallbackOrder, registerCallback, type CallbackInit, type ImageDataset } from '@selfsup/core';
import { evaluateKnn, type DatasetEvalResult } from './evaluate';
import { BankQueryEvalCallback, BankQueryEvalOptions, type AnyExperiment } from './feature-eval-callback';

/** `target` option of knn-eval: score the target (EMA) encoder too. */
export type KnnTargetChoice = 'auto' | boolean;

export class KnnEvalOptions extends BankQueryEvalOptions {
  /** Neighbours that vote. */
  @IsInt()
  @Min(1)
  k = 20;

  /** Votes are weighted by exp(similarity / temperature). */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  temperature = 0.07;

  /**
   * Also score the target (EMA) encoder, logged as `knn_acc_target` (and `knn_top5_target`).
   * `auto`: when the experiment has one (see `targetModel`); `true`: required (the run fails
   * at start without one); `false`: never.
   */
  @IsIn(['auto', true, false])
  target: KnnTargetChoice = 'auto';

  /**
   * Key of the target encoder in `exp.models`. Default: `target_<model without "online_">`
   * (BYOL: `target_encoder`) if that model exists, else the method's declared target (a
   * `targetEncoder` getter on the experiment, as ByolExperiment has).
   */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  targetModel?: string;
}

/** `target_encoder` for `online_encoder`, `target_backbone` for `backbone`: the conventional target of a model name. */
export function conventionalTargetName(model: string): string {
  return `target_${model.replace(/^online_/, '')}`;
}

/**
 * The target encoder a method declares with a `targetEncoder` getter (ByolExperiment does), or
 * undefined: no getter, not a model, or a getter that throws before the target exists.
 */
export function declaredTargetEncoder(exp: object): tf.LayersModel | undefined {
  try {
    const m = (exp as { targetEncoder?: unknown }).targetEncoder;
    return m && typeof (m as tf.LayersModel).predict === 'function' ? (m as tf.LayersModel) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Weighted kNN accuracy of the encoder at epoch end (every N epochs and at the last one):
 * the `bank` dataset's features are the memory bank, the `query` dataset is classified.
 * Logs `knn_acc` (top-1) and, with more than 5 classes, `knn_top5`. When the experiment has
 * a target (EMA) encoder (BYOL's `target_encoder`; option `target`), the same evaluation of
 * it — bank and queries both through the target, in inference mode — is logged as
 * `knn_acc_target` (and `knn_top5_target`). Runs in EVALUATION order, so a checkpoint
 * callback can monitor `knn_acc` or `knn_acc_target` in the same epoch.
 */
@registerCallback('knn-eval', {
  options: KnnEvalOptions,
  order: CallbackOrder.EVALUATION,
  description: 'weighted kNN accuracy (k=20, T=0.07) of the encoder on the val set, logged as knn_acc (the target encoder\'s as knn_acc_target)',
})
export class KnnEvalCallback extends BankQueryEvalCallback<KnnEvalOptions> {
  /** The most recent evaluation of the target encoder and the epoch it ran at. */
  lastTarget: (DatasetEvalResult & { epoch: number }) | undefined;

  constructor(options: Partial<KnnEvalOptions> = {}, init: CallbackInit = {}) {
    super(KnnEvalOptions, options, init);
  }

  /**
   * The target encoder this callback scores, or undefined (option `target: false`, or `auto`
   * and the experiment has none). Throws with `target: true` or an explicit `targetModel`
   * that is not there.
   */
  targetEncoder(exp: AnyExperiment): tf.LayersModel | undefined {
    const o = this.options;
    if (o.target === false) return undefined;
    const online = exp.models.get(o.model);
    let found: tf.LayersModel | undefined;
    let looked: string;
    if (o.targetModel !== undefined) {
      found = exp.models.get(o.targetModel);
      looked = `model "${o.targetModel}" (option targetModel)`;
      if (!found) throw new Error(`callback "${this.name}": ${looked} is not in the experiment (models: ${[...exp.models.keys()].join(', ') || 'none'})`);
    } else {
      const conventional = conventionalTargetName(o.model);
      found = exp.models.get(conventional);
      looked = `a model "${conventional}" or a method-declared target encoder (a targetEncoder getter)`;
      found ??= declaredTargetEncoder(exp);
    }
    if (found === online) found = undefined;
    if (!found && o.target === true) {
      throw new Error(
        `callback "${this.name}": target: true, but the experiment has no target encoder: looked for ${looked} (models: ${[...exp.models.keys()].join(', ') || 'none'}). ` +
          'Register the callback that builds it (BYOL: target-init), set targetModel, or set target: auto.',
      );
    }
    return found;
  }

  override onExperimentStart(exp: AnyExperiment): void {
    super.onExperimentStart(exp);
    // target-init (MODEL_INIT) has run by now: `target: true` without a target fails before the first step
    this.targetEncoder(exp);
  }

  override async onEpochEnd(exp: AnyExperiment): Promise<void> {
    if (!this.shouldRun(exp)) return;
    await super.onEpochEnd(exp);
    const target = this.targetEncoder(exp);
    if (!target) return;
    const o = this.options;
    const r = await this.evaluate(target, this.requireDataset(exp, o.bank, 'bank', true), this.requireDataset(exp, o.query, 'query', true));
    exp.logMetric('knn_acc_target', r.top1);
    if (r.top5 !== undefined) exp.logMetric('knn_top5_target', r.top5);
    this.lastTarget = { ...r, epoch: exp.state.epoch };
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
