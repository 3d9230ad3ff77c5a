import * as tf from '@tensorflow/tfjs';
import { Experiment, resolveOptions, UserError, type ConfigClass, type ImageBatch, type MethodRunInfo, type Rng, type StepLogs } from '@selfsup/core';
import { AugmentationPipeline, buildViewPipelines, localCropViews, twoViews, type AugmentSectionConfig, type LocalCropViews } from '../augment';
import { backboneFeatureDim, buildMlpHead, createBackbone } from '../models';
import { createOptimizer, scaleLrByBatch, type OptimizerConfig, type SlotOptimizer } from '../optim';
import type { SslAugmentConfig, SslModelConfig, SslOptimizerOptions, SslOptimizerSection } from './config';

/** Model names every two-view method uses in `exp.models` (knn-eval and the CLI's export find `online_encoder`). */
export const SSL_MODELS = {
  encoder: 'online_encoder',
  projector: 'online_projector',
} as const;

/** The `model:` keys SslExperiment reads: backbone and projector (a method's class may add heads). */
export type SslModelShape = Pick<SslModelConfig, 'backbone' | 'stem' | 'width' | 'projectorHiddenDim' | 'projectorDim' | 'seed'> &
  Partial<Pick<SslModelConfig, 'zeroInitResidual'>>;

/** The sections a method's sections class (validated by YAML runs) holds. */
export interface SslSections<M extends SslModelShape = SslModelShape> {
  model: M;
  augment: SslAugmentConfig;
  optimizer: SslOptimizerSection;
}

/** Ready view pipelines given from code (`augment: { t, tPrime }`), rather than a section to build them from. */
export type ViewPipelines = { t: AugmentationPipeline; tPrime: AugmentationPipeline; local?: LocalCropViews };

/** What a two-view method's constructor takes from code; every field has a default. */
export interface SslExperimentConfig<M extends SslModelShape = SslModelShape> {
  /** Partial: the keys not given get the method's model class defaults. */
  model?: Partial<M>;
  /** Bring your own backbone: a LayersModel whose output is the feature vector (see wrapBackbone). */
  encoder?: tf.LayersModel;
  /** The YAML section (partial, see SslAugmentConfig), or ready pipelines for T and T'. */
  augment?: Partial<SslAugmentConfig> | AugmentSectionConfig | ViewPipelines;
  /** Partial: the keys not given get the named optimizer's defaults (see SslOptimizerConfig). */
  optimizer?: SslOptimizerOptions;
  /** The method's `loss:` section (its hyperparameters), for methods whose sections class has one. */
  loss?: object;
  /** [H, W, C] of the input; default: the `train` dataset's image shape. */
  inputShape?: [number, number, number];
  batchSize?: number;
  seed?: number;
  /** Present when built from a YAML config: batch size and seed come from here. */
  trainer?: { batchSize?: number; seed?: number };
}

/** The second constructor argument a YAML run passes (see MethodInit in @selfsup/core). */
export interface SslInit {
  seed?: number;
  config?: { root?: { trainer?: { batchSize?: number; seed?: number } } };
}

/**
 * The base of a two-view method (BYOL, SimCLR, VICReg, Barlow Twins, SimSiam, MoCo): the method's
 * sections validated into their classes (code and YAML alike), the backbone (or a
 * bring-your-own encoder) as `online_encoder` and an MLP projector as `online_projector`, the
 * two augmented views drawn from `augmentRng` (a checkpointed generator), and the optimizer
 * from the `optimizer:` section (LR × batch/256 when scaleLr; a predictor's own LR multiple).
 * A method adds its heads in `configureHeads`, lists what it trains in `trainableModels`, and
 * writes `trainStep` with its loss; `twoViewStep` is the usual one.
 */
export abstract class SslExperiment<C extends SslExperimentConfig<M>, M extends SslModelShape = SslModelShape> extends Experiment<ImageBatch | tf.Tensor4D, C> {
  /** The learning rate before any schedule: lr × batchSize/256 when scaleLr. */
  baseLearningRate = 0;
  /** The generator behind every view; its state is part of a checkpoint. */
  readonly augmentRng: Rng;
  protected t: AugmentationPipeline | undefined;
  protected tPrime: AugmentationPipeline | undefined;
  protected local: LocalCropViews | undefined;
  /** The `model:` section, its seed filled in (the trainer seed when unset). */
  readonly modelConfig: M & { seed: number };
  /** The `optimizer:` section: the named optimizer's class, every default filled in. */
  readonly optimizerConfig: SslOptimizerSection;
  /** Every validated section, the method's own ones (`loss:`) included. */
  readonly sections: SslSections<M>;
  /** Prefix (`<model>/`) of the predictor's weights that `optimizer.predictorLrMultiplier` scales; undefined: no predictor. */
  protected predictorModel: string | undefined = undefined;
  /** Whether the method's loss takes `augment.localCrops` (multi-crop) and `optimizer.microBatches` > 1. */
  protected supportsLocalCrops = false;
  protected supportsMicroBatches = false;

  /**
   * `config`: the method's sections (model, augment, optimizer) plus, from code, inputShape /
   * batchSize / seed; partial sections are validated and given their defaults by
   * `sectionsClass` (what a YAML run validated already). `init`: what a YAML run passes.
   */
  constructor(config: C, init: SslInit, sectionsClass: ConfigClass<SslSections<M>>) {
    const trainer = config.trainer ?? init.config?.root?.trainer;
    const seed = config.seed ?? init.seed ?? trainer?.seed ?? 0;
    const pipelines = isViewPipelines(config.augment) ? config.augment : undefined;
    const sections =
      config instanceof sectionsClass
        ? (config as unknown as SslSections<M>)
        : resolveOptions(sectionsClass, { model: config.model, augment: pipelines ? undefined : config.augment, optimizer: config.optimizer, loss: config.loss }, { what: `${new.target.name}: ` });
    super({ ...config, model: sections.model, augment: pipelines ?? sections.augment, optimizer: sections.optimizer, trainer: config.trainer ?? trainer }, { seed });
    this.augmentRng = this.rng.fork();
    this.modelConfig = { ...sections.model, seed: sections.model.seed ?? seed };
    this.optimizerConfig = sections.optimizer;
    this.sections = sections;
  }

  get batchSize(): number | undefined {
    return this.config.batchSize ?? this.config.trainer?.batchSize;
  }

  /** What lr-schedule and the progress bar read from `exp.run`: the batch size and, once the optimizer is built, the base LR. */
  protected override runContextInfo(): MethodRunInfo {
    return { ...super.runContextInfo(), batchSize: this.batchSize, baseLearningRate: this.optimizer ? this.baseLearningRate : undefined };
  }

  /** The generators a checkpoint holds: the experiment's `rng` and the views' `augmentRng`. */
  override rngs(): Record<string, Rng> {
    return { ...super.rngs(), augmentRng: this.augmentRng };
  }

  /** [H, W, C]: from the config, else from the `train` dataset. */
  inputShape(): [number, number, number] {
    const shape = this.config.inputShape ?? this.datasets.get('train')?.imageShape;
    if (!shape) throw new Error(`${this.constructor.name}: unknown input shape; pass inputShape in the config or register a train dataset (exp.datasets.set("train", ds))`);
    return shape;
  }

  /** Encoder, projector, the method's heads (configureHeads), then the view pipelines. */
  protected override configureModels(): void {
    const m = this.modelConfig;
    const inputShape = this.inputShape();
    let encoder = this.config.encoder;
    let featureDim: number;
    if (encoder) {
      const out = encoder.outputs[0].shape;
      if (out.length !== 2 || !out[1]) {
        throw new Error(`${this.constructor.name}: the encoder "${encoder.name}" must output [batch, features], got [${out}]; wrap it with wrapBackbone(model, { featureLayer })`);
      }
      featureDim = out[1];
    } else {
      encoder = createBackbone(m.backbone, {
        stem: m.stem,
        width: m.width,
        inputShape,
        name: SSL_MODELS.encoder,
        seed: m.seed,
        zeroInitResidual: m.zeroInitResidual ?? false,
      });
      featureDim = backboneFeatureDim(m.backbone, m.width);
    }
    this.models.set(SSL_MODELS.encoder, encoder);
    this.models.set(
      SSL_MODELS.projector,
      buildMlpHead({ inputDim: featureDim, hiddenDim: m.projectorHiddenDim, outputDim: m.projectorDim, name: SSL_MODELS.projector, seed: m.seed + 1 }),
    );
    this.configureHeads();

    const aug = this.config.augment;
    if (isViewPipelines(aug)) {
      ({ t: this.t, tPrime: this.tPrime, local: this.local } = aug);
    } else {
      // validated in the constructor: a config without augment: has preset auto (by the data's channels)
      const section = aug as SslAugmentConfig;
      if (inputShape[0] !== inputShape[1]) throw new UserError(`${this.constructor.name}: the augmentation presets expect square images, got ${inputShape[0]}×${inputShape[1]}; set augment.size`);
      ({ t: this.t, tPrime: this.tPrime, local: this.local } = buildViewPipelines(section, { size: inputShape[0], channels: inputShape[2] }));
    }
    if (this.local) {
      if (!this.supportsLocalCrops) throw new UserError(`${this.constructor.name}: augment.localCrops (multi-crop) is not supported by this method; remove it`);
      checkLocalCropInput(this.constructor.name, encoder, featureDim, this.local, inputShape[2]);
    }
  }

  /** The method's heads beyond the projector (a predictor), seeded from `modelConfig.seed + 2` on. */
  protected configureHeads(): void {}

  protected override configureOptimizer(): tf.Optimizer {
    // the section holds the chosen optimizer's keys only (its class), every default filled in
    const { scaleLr, lr, microBatches, predictorLrMultiplier: predMult, predictorFixedLr, ...own } = this.optimizerConfig;
    const what = this.constructor.name;
    const bs = this.batchSize;
    if (scaleLr && !bs) throw new UserError(`${what}: optimizer.scaleLr needs the batch size; set batchSize (trainer.batchSize)`);
    this.baseLearningRate = scaleLr ? scaleLrByBatch(lr, bs!) : lr;
    if (microBatches > 1 && !this.supportsMicroBatches) {
      throw new UserError(`${what}: optimizer.microBatches > 1 is not supported by this method (its loss couples the whole batch); remove it`);
    }
    if (bs !== undefined && microBatches > bs) {
      throw new UserError(`${what}: optimizer.microBatches (${microBatches}) is larger than the batch size (${bs}); use at most ${bs}`);
    }
    const base = this.baseLearningRate;
    const predictor = this.predictorModel === undefined ? undefined : `${this.predictorModel}/`;
    if (!predictor && (predMult !== 1 || predictorFixedLr)) {
      throw new UserError(`${what}: optimizer.predictorLrMultiplier / predictorFixedLr: this method has no predictor; remove them`);
    }
    const lrFor =
      !predictor || (predMult === 1 && !predictorFixedLr)
        ? undefined
        : (name: string, scheduled: number) => (name.startsWith(predictor) ? (predictorFixedLr ? base : scheduled) * predMult : scheduled);
    const opts: OptimizerConfig = { ...own, lr: base };
    if (lrFor) opts.lrFor = lrFor;
    return createOptimizer(opts);
  }

  /** The models the optimizer updates, in order (default: encoder and projector). */
  protected trainableModels(): string[] {
    return [SSL_MODELS.encoder, SSL_MODELS.projector];
  }

  override trainableVariables(): tf.Variable[] {
    return this.trainableModels().flatMap((n) => this.model(n).trainableWeights.map((w) => w.read() as tf.Variable));
  }

  /** The trained encoder (what a user exports and uses elsewhere). */
  get encoder(): tf.LayersModel {
    return this.model(SSL_MODELS.encoder);
  }

  protected model(name: string): tf.LayersModel {
    const m = this.models.get(name);
    if (!m) {
      const hint = name.startsWith('target_')
        ? ' — register the target-init callback (TargetInitCallback) or a MODEL_INIT hook that creates it'
        : ' — call setup() or fit() first';
      throw new Error(`${this.constructor.name}: no model "${name}"${hint}`);
    }
    return m;
  }

  /** Both views of a batch: [2N, H, W, C] (T's view first). */
  views(images: tf.Tensor4D): tf.Tensor4D {
    const [v1, v2] = twoViews(images, this.t!, this.tPrime!, this.augmentRng);
    return tf.concat([v1, v2], 0);
  }

  /** The local crops of a batch (multi-crop): [count·N, size, size, C], crop-major; undefined without `augment.localCrops`. */
  localViews(images: tf.Tensor4D): tf.Tensor4D | undefined {
    if (!this.local) return undefined;
    return localCropViews(images, this.local.pipeline, this.local.count, this.augmentRng);
  }

  /** Projector(encoder(x)) in training mode: [rows of x, projectorDim]. */
  protected project(x: tf.Tensor4D): tf.Tensor2D {
    const enc = this.model(SSL_MODELS.encoder);
    const proj = this.model(SSL_MODELS.projector);
    return proj.apply(enc.apply(x, { training: true }), { training: true }) as tf.Tensor2D;
  }

  /**
   * The usual step of a two-view method: draw both views of the batch ([2N]), then one
   * optimizer step on `loss(both, n)`, which returns the loss and the other scalars to log
   * (z_std at least); logs them with the learning rate.
   */
  protected twoViewStep(batch: ImageBatch | tf.Tensor4D, loss: (both: tf.Tensor4D, n: number) => { loss: tf.Scalar; logs: Record<string, tf.Scalar> }): StepLogs {
    const images = batch instanceof tf.Tensor ? batch : batch.images;
    const n = images.shape[0];
    const both = this.views(images);
    let logs: Record<string, tf.Scalar> = {};
    const value = this.minimize(() => {
      const r = loss(both, n);
      // kept past the gradient scope; the loop disposes them with the step's logs
      logs = Object.fromEntries(Object.entries(r.logs).map(([k, v]) => [k, tf.keep(v)]));
      return r.loss;
    }, this.trainableVariables());
    return { loss: value, ...logs, lr: (this.optimizer as SlotOptimizer).learningRate };
  }
}

/**
 * Multi-crop runs the online encoder on the local crops' smaller side (`apply` skips the
 * functional model's input-shape check; ResNet's convolutions and global average pooling take
 * any side). Checks once, in inference mode on two blank crops (no BN statistics move), that
 * the encoder does and gives features of the usual size, so a bring-your-own encoder with a
 * fixed-size layer (flatten + dense) fails at setup and says why.
 */
export function checkLocalCropInput(what: string, encoder: tf.LayersModel, featureDim: number, local: LocalCropViews, channels: number): void {
  if (!Number.isInteger(local.count) || local.count < 1) throw new UserError(`${what}: augment.localCrops.count must be an integer >= 1, got ${local.count}`);
  const size = local.pipeline.config.crop?.size;
  if (size === undefined) throw new UserError(`${what}: the local-crop pipeline needs a crop op (its output side is the local crop size)`);
  let shape: number[];
  try {
    shape = tf.tidy(() => (encoder.apply(tf.zeros([2, size, size, channels]), { training: false }) as tf.Tensor).shape);
  } catch (err) {
    throw new UserError(`${what}: augment.localCrops.size = ${size}: the encoder "${encoder.name}" does not take ${size}×${size} inputs (${(err as Error).message}); use a fully convolutional encoder or drop localCrops`);
  }
  if (shape.length !== 2 || shape[1] !== featureDim) {
    throw new UserError(`${what}: augment.localCrops.size = ${size}: the encoder "${encoder.name}" gives [${shape}] for ${size}×${size} inputs, expected [2, ${featureDim}]`);
  }
}

/** Ready view pipelines given from code (`augment: { t, tPrime }`), rather than a section to build them from. */
export function isViewPipelines(aug: unknown): aug is ViewPipelines {
  return !!aug && typeof aug === 'object' && (aug as { t?: unknown }).t instanceof AugmentationPipeline;
}

/** [view 1; view 2] rows of a two-view batch (2N rows) → the N rows of each view. */
export function splitViews<T extends tf.Tensor>(x: T, n: number): [T, T] {
  if (x.shape[0] !== 2 * n) throw new Error(`splitViews: expected ${2 * n} rows (two views of ${n}), got ${x.shape[0]}`);
  return tf.split(x, [n, n], 0) as [T, T];
}
