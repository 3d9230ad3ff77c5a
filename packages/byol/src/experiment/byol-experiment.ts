import * as tf from '@tensorflow/tfjs';
import { accumulateGradients, registerMethod, splitBatch, type ImageBatch, type StepLogs } from '@selfsup/core';
import { buildMlpHead, SSL_MODELS, SslExperiment, zStd, type SlotOptimizer, type SslInit } from '@selfsup/ssl';
import { multiCropByolLoss } from '../loss';
import { ByolSectionsConfig, type ByolConfig, type ByolModelConfig, type ByolOptimizerSection } from './config';

/** Model names in `exp.models` (the target ones are created by the target-init callback). */
export const BYOL_MODELS = {
  onlineEncoder: SSL_MODELS.encoder,
  onlineProjector: SSL_MODELS.projector,
  predictor: 'online_predictor',
  targetEncoder: 'target_encoder',
  targetProjector: 'target_projector',
} as const;

/**
 * BYOL (Grill et al., 2020). Each step: two augmented views of the batch; the online
 * encoder → projector → predictor sees both views in one forward pass; the target encoder
 * → projector (an EMA of the online one, kept by the `ema` callback) sees them without
 * gradient; loss = Σ over both directions of 2 − 2·cos(p, sg(z')); one optimizer step on
 * the online weights only. Logs loss, z_std, lr (tau is logged by the ema callback).
 *
 * With `augment.localCrops` (multi-crop), `count` small crops per image go through the online
 * network only — the encoder sees the global views as one batch and the local crops as
 * another (batch norm per resolution, as DINO and solo-learn), the heads see both at once —
 * and the loss is 2 × the mean over pairs (see `multiCropByolLoss`).
 *
 * Needs the `target-init` and `ema` callbacks (a YAML config gets them by default).
 */
@registerMethod('byol', {
  config: ByolSectionsConfig,
  defaultCallbacks: [{ name: 'target-init' }, { name: 'ema' }],
  description: 'Bootstrap Your Own Latent',
})
export class ByolExperiment extends SslExperiment<ByolConfig, ByolModelConfig> {
  /** The `model:` section, its seed filled in (the trainer seed when unset). */
  declare readonly modelConfig: Required<ByolModelConfig>;
  /** The `optimizer:` section: the named optimizer's class, every default filled in. */
  declare readonly optimizerConfig: ByolOptimizerSection;
  protected override predictorModel: string | undefined = BYOL_MODELS.predictor;
  protected override supportsLocalCrops = true;
  protected override supportsMicroBatches = true;

  /**
   * `config`: the method's sections (model, augment, optimizer) plus, when used from code,
   * inputShape / batchSize / seed. The sections are what a YAML run validated
   * (ByolSectionsConfig), or partial plain objects from code that are validated and given
   * their defaults the same way. `init`: what a YAML run passes (seed, and the resolved
   * config whose trainer section gives the batch size).
   */
  constructor(config: ByolConfig = {}, init: ByolInit = {}) {
    super(config, init, ByolSectionsConfig);
  }

  /** The predictor, after the encoder and projector SslExperiment builds. */
  protected override configureHeads(): void {
    const m = this.modelConfig;
    this.models.set(
      BYOL_MODELS.predictor,
      buildMlpHead({ inputDim: m.projectorDim, hiddenDim: m.predictorHiddenDim, outputDim: m.projectorDim, name: BYOL_MODELS.predictor, seed: m.seed + 2 }),
    );
  }

  /** Online encoder, projector and predictor weights: what the optimizer updates. */
  protected override trainableModels(): string[] {
    return [BYOL_MODELS.onlineEncoder, BYOL_MODELS.onlineProjector, BYOL_MODELS.predictor];
  }

  /**
   * The target (EMA) encoder, `target_encoder`, once the target-init callback has built it
   * (undefined before): what knn-eval scores as `knn_acc_target` and `export.encoder: target`
   * exports. Same architecture as `encoder`.
   */
  get targetEncoder(): tf.LayersModel | undefined {
    return this.models.get(BYOL_MODELS.targetEncoder);
  }

  /** Local crops per image (`augment.localCrops.count`); 0 without multi-crop. */
  get localCropCount(): number {
    return this.local?.count ?? 0;
  }

  trainStep(batch: ImageBatch | tf.Tensor4D): StepLogs {
    const images = batch instanceof tf.Tensor ? batch : batch.images;
    const n = images.shape[0];
    const both = this.views(images);
    const local = this.localViews(images);
    const micro = this.optimizerConfig.microBatches;
    if (micro > 1) return this.microBatchStep(both, n, micro, local);
    const z = this.targetProjections(both);
    let zs: tf.Scalar | undefined;
    const loss = this.minimize(() => {
      const r = this.onlineLoss(both, z, n, local);
      // kept past the gradient scope; the loop disposes it with the step's logs
      zs = tf.keep(r.zStd);
      return r.loss;
    }, this.trainableVariables());
    return { loss, z_std: zs!, lr: (this.optimizer as SlotOptimizer).learningRate };
  }

  /** Target projections of both views: call outside the gradient tape (nothing flows back into the target). */
  private targetProjections(x: tf.Tensor4D): tf.Tensor2D {
    const enc = this.model(BYOL_MODELS.targetEncoder);
    const proj = this.model(BYOL_MODELS.targetProjector);
    return proj.apply(enc.apply(x, { training: true }), { training: true }) as tf.Tensor2D;
  }

  /**
   * The symmetric loss of the online network on x = [view 1; view 2] of k images each, against
   * the target projections z of the same rows; also the z_std of the online projections of the
   * two views. With `local` ([count·k, s, s, C] crop-major local crops of the same k images),
   * the multi-crop loss: the encoder runs once per resolution (the local crops are a batch of
   * their own for batch norm; the functional encoder's convolutions and global average pooling
   * take the smaller side), the heads once over both.
   */
  private onlineLoss(x: tf.Tensor4D, z: tf.Tensor2D, k: number, local?: tf.Tensor4D): { loss: tf.Scalar; zStd: tf.Scalar } {
    const [zT1, zT2] = tf.split(z, [k, k], 0) as [tf.Tensor2D, tf.Tensor2D];
    const enc = this.model(BYOL_MODELS.onlineEncoder);
    const proj = this.model(BYOL_MODELS.onlineProjector);
    const pred = this.model(BYOL_MODELS.predictor);
    let h = enc.apply(x, { training: true }) as tf.Tensor2D;
    if (local) h = tf.concat([h, enc.apply(local, { training: true }) as tf.Tensor2D], 0);
    const zo = proj.apply(h, { training: true }) as tf.Tensor2D;
    const p = pred.apply(zo, { training: true }) as tf.Tensor2D;
    if (!local) {
      const [p1, p2] = tf.split(p, [k, k], 0) as [tf.Tensor2D, tf.Tensor2D];
      return { loss: multiCropByolLoss(p1, zT2, p2, zT1), zStd: zStd(zo) };
    }
    const m = local.shape[0];
    const [p1, p2, pl] = tf.split(p, [k, k, m], 0) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    return { loss: multiCropByolLoss(p1, zT2, p2, zT1, pl), zStd: zStd(tf.slice(zo, [0, 0], [2 * k, -1])) };
  }

  /**
   * The same step over `micro` parts of the batch: the views are drawn for the whole batch
   * (the same augmentations as without splitting), then part i takes rows i of both views;
   * each part runs the target forward, the online forward and backward on its own, and the
   * optimizer applies the mean gradient once. z_std is the mean over parts. A batch smaller
   * than `microBatches` is split into one part per image. Local crops (multi-crop) are split
   * the same way: part i takes every crop of its images.
   */
  private microBatchStep(both: tf.Tensor4D, n: number, microBatches: number, local?: tf.Tensor4D): StepLogs {
    // a short last batch (data sources that keep the remainder) is split into at most n parts
    const micro = Math.min(microBatches, n);
    if (!this.optimizer) throw new Error('ByolExperiment: no optimizer; call setup() or fit() first');
    const [v1, v2] = tf.split(both, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
    const parts1 = splitBatch(v1, micro);
    const parts2 = splitBatch(v2, micro);
    const inputs = parts1.map((p1, i) => tf.concat([p1, parts2[i]], 0));
    // crop c of the images of part i, for every c, crop-major like the whole-batch local views
    const crops = local ? (tf.split(local, local.shape[0] / n, 0) as tf.Tensor4D[]) : [];
    const localParts = local ? crops.map((crop) => splitBatch(crop, micro)) : undefined;
    const locals = localParts ? parts1.map((_, i) => tf.concat(localParts.map((parts) => parts[i]), 0)) : undefined;
    // Target projections first, outside the gradient tape (which would keep the target's
    // activations alive for a backward pass it never needs); each part is its own batch for BN.
    const targets = inputs.map((x) => tf.tidy(() => this.targetProjections(x)));
    const zStds: tf.Scalar[] = [];
    const { loss, grads } = accumulateGradients((i) => {
      const r = this.onlineLoss(inputs[i], targets[i], parts1[i].shape[0], locals?.[i]);
      zStds.push(tf.keep(r.zStd));
      return r.loss;
    }, this.trainableVariables(), micro);
    this.optimizer.applyGradients(grads);
    tf.dispose([...Object.values(grads), ...targets, ...inputs, ...crops, ...(locals ?? []), ...(localParts ?? []).flat()]);
    const zs = tf.tidy(() => tf.div(tf.addN(zStds), micro) as tf.Scalar);
    tf.dispose(zStds);
    return { loss, z_std: zs, lr: (this.optimizer as SlotOptimizer).learningRate };
  }
}

/** The second constructor argument a YAML run passes (see MethodInit in @selfsup/core). */
export type ByolInit = SslInit;
