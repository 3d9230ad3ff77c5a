import * as tf from '@tensorflow/tfjs';
import { accumulateGradients, Experiment, registerMethod, resolveOptions, splitBatch, UserError, type ImageBatch, type StepLogs } from '@selfsup/core';
import type { Rng } from '@selfsup/core';
import { AugmentationPipeline, buildViewPipelines, localCropViews, twoViews, type LocalCropViews } from '../augment';
import { multiCropByolLoss, zStd } from '../loss';
import { backboneFeatureDim, buildMlpHead, createBackbone } from '../models';
import { createOptimizer, scaleLrByBatch, type OptimizerConfig, type SlotOptimizer } from '../optim';
import { ByolSectionsConfig, type ByolAugmentConfig, type ByolConfig, type ByolModelConfig, type ByolOptimizerSection } from './config';

/** Model names in `exp.models` (the target ones are created by the target-init callback). */
export const BYOL_MODELS = {
  onlineEncoder: 'online_encoder',
  onlineProjector: 'online_projector',
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
export class ByolExperiment extends Experiment<ImageBatch | tf.Tensor4D, ByolConfig> {
  /** The learning rate before any schedule: lr × batchSize/256 when scaleLr. */
  baseLearningRate = 0;
  /** The generator behind every view; its state is part of a checkpoint. */
  readonly augmentRng;
  private t: AugmentationPipeline | undefined;
  private tPrime: AugmentationPipeline | undefined;
  private local: LocalCropViews | undefined;
  /** The `model:` section, its seed filled in (the trainer seed when unset). */
  readonly modelConfig: Required<ByolModelConfig>;
  /** The `optimizer:` section: the named optimizer's class, every default filled in. */
  readonly optimizerConfig: ByolOptimizerSection;

  /**
   * `config`: the method's sections (model, augment, optimizer) plus, when used from code,
   * inputShape / batchSize / seed. The sections are what a YAML run validated
   * (ByolSectionsConfig), or partial plain objects from code that are validated and given
   * their defaults the same way. `init`: what a YAML run passes (seed, and the resolved
   * config whose trainer section gives the batch size).
   */
  constructor(config: ByolConfig = {}, init: ByolInit = {}) {
    const trainer = config.trainer ?? init.config?.root?.trainer;
    const seed = config.seed ?? init.seed ?? trainer?.seed ?? 0;
    const pipelines = isPipelines(config.augment) ? config.augment : undefined;
    const sections =
      config instanceof ByolSectionsConfig
        ? config
        : resolveOptions(ByolSectionsConfig, { model: config.model, augment: pipelines ? undefined : config.augment, optimizer: config.optimizer }, { what: 'ByolExperiment: ' });
    super({ ...config, model: sections.model, augment: pipelines ?? sections.augment, optimizer: sections.optimizer, trainer: config.trainer ?? trainer }, { seed });
    this.augmentRng = this.rng.fork();
    this.modelConfig = { ...sections.model, seed: sections.model.seed ?? seed };
    this.optimizerConfig = sections.optimizer;
  }

  get batchSize(): number | undefined {
    return this.config.batchSize ?? this.config.trainer?.batchSize;
  }

  /** The generators a checkpoint holds: the experiment's `rng` and the views' `augmentRng`. */
  override rngs(): Record<string, Rng> {
    return { ...super.rngs(), augmentRng: this.augmentRng };
  }

  /** [H, W, C]: from the config, else from the `train` dataset. */
  inputShape(): [number, number, number] {
    const shape = this.config.inputShape ?? this.datasets.get('train')?.imageShape;
    if (!shape) throw new Error('ByolExperiment: unknown input shape; pass inputShape in the config or register a train dataset (exp.datasets.set("train", ds))');
    return shape;
  }

  protected override configureModels(): void {
    const m = this.modelConfig;
    const inputShape = this.inputShape();
    let encoder = this.config.encoder;
    let featureDim: number;
    if (encoder) {
      const out = encoder.outputs[0].shape;
      if (out.length !== 2 || !out[1]) {
        throw new Error(`ByolExperiment: the encoder "${encoder.name}" must output [batch, features], got [${out}]; wrap it with wrapBackbone(model, { featureLayer })`);
      }
      featureDim = out[1];
    } else {
      encoder = createBackbone(m.backbone, { stem: m.stem, width: m.width, inputShape, name: BYOL_MODELS.onlineEncoder, seed: m.seed });
      featureDim = backboneFeatureDim(m.backbone, m.width);
    }
    this.models.set(BYOL_MODELS.onlineEncoder, encoder);
    this.models.set(
      BYOL_MODELS.onlineProjector,
      buildMlpHead({ inputDim: featureDim, hiddenDim: m.projectorHiddenDim, outputDim: m.projectorDim, name: BYOL_MODELS.onlineProjector, seed: m.seed + 1 }),
    );
    this.models.set(
      BYOL_MODELS.predictor,
      buildMlpHead({ inputDim: m.projectorDim, hiddenDim: m.predictorHiddenDim, outputDim: m.projectorDim, name: BYOL_MODELS.predictor, seed: m.seed + 2 }),
    );

    const aug = this.config.augment;
    if (isPipelines(aug)) {
      ({ t: this.t, tPrime: this.tPrime, local: this.local } = aug);
    } else {
      // validated in the constructor: a config without augment: has preset auto (by the data's channels)
      const section = aug as ByolAugmentConfig;
      if (inputShape[0] !== inputShape[1]) throw new UserError(`ByolExperiment: the augmentation presets expect square images, got ${inputShape[0]}×${inputShape[1]}; set augment.size`);
      ({ t: this.t, tPrime: this.tPrime, local: this.local } = buildViewPipelines(section, { size: inputShape[0], channels: inputShape[2] }));
    }
    if (this.local) checkLocalCropInput(encoder, featureDim, this.local, inputShape[2]);
  }

  protected override configureOptimizer(): tf.Optimizer {
    // the section holds the chosen optimizer's keys only (its class), every default filled in
    const { scaleLr, lr, microBatches, predictorLrMultiplier: predMult, predictorFixedLr, ...own } = this.optimizerConfig;
    const bs = this.batchSize;
    if (scaleLr && !bs) throw new UserError('ByolExperiment: optimizer.scaleLr needs the batch size; set batchSize (trainer.batchSize)');
    this.baseLearningRate = scaleLr ? scaleLrByBatch(lr, bs!) : lr;
    if (bs !== undefined && microBatches > bs) {
      throw new UserError(`ByolExperiment: optimizer.microBatches (${microBatches}) is larger than the batch size (${bs}); use at most ${bs}`);
    }
    const base = this.baseLearningRate;
    const predictor = `${BYOL_MODELS.predictor}/`;
    const lrFor =
      predMult === 1 && !predictorFixedLr
        ? undefined
        : (name: string, scheduled: number) => (name.startsWith(predictor) ? (predictorFixedLr ? base : scheduled) * predMult : scheduled);
    const opts: OptimizerConfig = { ...own, lr: base };
    if (lrFor) opts.lrFor = lrFor;
    return createOptimizer(opts);
  }

  /** Online encoder, projector and predictor weights: what the optimizer updates. */
  override trainableVariables(): tf.Variable[] {
    return [BYOL_MODELS.onlineEncoder, BYOL_MODELS.onlineProjector, BYOL_MODELS.predictor].flatMap((n) =>
      this.model(n).trainableWeights.map((w) => w.read() as tf.Variable),
    );
  }

  /** The trained encoder (what a user exports and uses elsewhere). */
  get encoder(): tf.LayersModel {
    return this.model(BYOL_MODELS.onlineEncoder);
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

  private model(name: string): tf.LayersModel {
    const m = this.models.get(name);
    if (!m) {
      const hint = name.startsWith('target_')
        ? ' — register the target-init callback (TargetInitCallback) or a MODEL_INIT hook that creates it'
        : ' — call setup() or fit() first';
      throw new Error(`ByolExperiment: no model "${name}"${hint}`);
    }
    return m;
  }

  /** Both views of a batch: [2N, H, W, C] (T's view first). */
  views(images: tf.Tensor4D): tf.Tensor4D {
    const [v1, v2] = twoViews(images, this.t!, this.tPrime!, this.augmentRng);
    return tf.concat([v1, v2], 0);
  }

  /**
   * The local crops of a batch (multi-crop): [count·N, size, size, C], crop-major, drawn after
   * the two global views; undefined without `augment.localCrops`.
   */
  localViews(images: tf.Tensor4D): tf.Tensor4D | undefined {
    if (!this.local) return undefined;
    return localCropViews(images, this.local.pipeline, this.local.count, this.augmentRng);
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

/**
 * Multi-crop runs the online encoder on the local crops' smaller side (`apply` skips the
 * functional model's input-shape check; ResNet's convolutions and global average pooling take
 * any side). Checks once, in inference mode on two blank crops (no BN statistics move), that
 * the encoder does and gives features of the usual size, so a bring-your-own encoder with a
 * fixed-size layer (flatten + dense) fails at setup and says why.
 */
function checkLocalCropInput(encoder: tf.LayersModel, featureDim: number, local: LocalCropViews, channels: number): void {
  if (!Number.isInteger(local.count) || local.count < 1) throw new UserError(`ByolExperiment: augment.localCrops.count must be an integer >= 1, got ${local.count}`);
  const size = local.pipeline.config.crop?.size;
  if (size === undefined) throw new UserError('ByolExperiment: the local-crop pipeline needs a crop op (its output side is the local crop size)');
  let shape: number[];
  try {
    shape = tf.tidy(() => (encoder.apply(tf.zeros([2, size, size, channels]), { training: false }) as tf.Tensor).shape);
  } catch (err) {
    throw new UserError(`ByolExperiment: augment.localCrops.size = ${size}: the encoder "${encoder.name}" does not take ${size}×${size} inputs (${(err as Error).message}); use a fully convolutional encoder or drop localCrops`);
  }
  if (shape.length !== 2 || shape[1] !== featureDim) {
    throw new UserError(`ByolExperiment: augment.localCrops.size = ${size}: the encoder "${encoder.name}" gives [${shape}] for ${size}×${size} inputs, expected [2, ${featureDim}]`);
  }
}

/** The second constructor argument a YAML run passes (see MethodInit in @selfsup/core). */
export interface ByolInit {
  seed?: number;
  config?: { root?: { trainer?: { batchSize?: number; seed?: number } } };
}

type ViewPipelines = { t: AugmentationPipeline; tPrime: AugmentationPipeline; local?: LocalCropViews };

/** Ready view pipelines given from code (`augment: { t, tPrime }`), rather than a section to build them from. */
function isPipelines(aug: unknown): aug is ViewPipelines {
  return !!aug && typeof aug === 'object' && (aug as { t?: unknown }).t instanceof AugmentationPipeline;
}
