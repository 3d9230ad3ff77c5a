/**
 * A new method in a few dozen lines: SimSiam (Chen & He, 2021) as an `Experiment` subclass,
 * registered as `method: simsiam`, built from @selfsup/byol's pieces (backbone, MLP heads,
 * augmentations, optimizer, l2Normalize/stopGradient). Unlike BYOL there is no target
 * network and no EMA: both views go through the same encoder + projector, the predictor
 * maps one view's projection onto the other's, and the other branch is cut from the
 * gradient with stop-gradient. Loss: ½·D(p₁, sg(z₂)) + ½·D(p₂, sg(z₁)), D = −cos, in [−1, 1].
 *
 *   node examples/dist/simsiam.js [--steps 30] [--limit 512] [--backend auto]
 */
import * as tf from '@tensorflow/tfjs';
import { IsObject, IsOptional } from 'class-validator';
import {
  Experiment,
  FashionMnistDataset,
  registerMethod,
  selectBackend,
  type BackendPreference,
  type Callback,
  type ImageBatch,
  type Rng,
  type StepLogs,
} from '@selfsup/core';
import { KnnEvalCallback } from '@selfsup/callbacks';
import {
  AugmentationPipeline,
  backboneFeatureDim,
  buildMlpHead,
  byolSmallGrayViewT,
  byolViewT,
  createBackbone,
  createOptimizer,
  l2Normalize,
  stopGradient,
  twoViews,
  zStd,
  type BackboneName,
} from '@selfsup/byol';
import { runExample } from './example-options';

export interface SimSiamConfig {
  model?: { backbone?: BackboneName; stem?: 'cifar' | 'imagenet'; width?: number; projectorHiddenDim?: number; projectorDim?: number; predictorHiddenDim?: number };
  optimizer?: { lr?: number; momentum?: number; weightDecay?: number };
  /** [H, W, C]; default: the `train` dataset's image shape. */
  inputShape?: [number, number, number];
  batchSize?: number;
  seed?: number;
}

/** The YAML sections `method: simsiam` accepts (checked loosely; the constructor applies defaults). */
export class SimSiamSections {
  @IsOptional()
  @IsObject()
  model?: SimSiamConfig['model'];

  @IsOptional()
  @IsObject()
  optimizer?: SimSiamConfig['optimizer'];
}

/** Negative cosine similarity, averaged over the batch; the target side gets no gradient. */
export function negativeCosine(p: tf.Tensor2D, z: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(l2Normalize(p), l2Normalize(stopGradient(z))), -1))) as tf.Scalar);
}

@registerMethod('simsiam', { config: SimSiamSections, description: 'SimSiam: a Siamese network with stop-gradient, no target network' })
export class SimSiamExperiment extends Experiment<ImageBatch | tf.Tensor4D, SimSiamConfig> {
  private view: AugmentationPipeline | undefined;
  readonly augmentRng;

  /** `init` is what a YAML run passes (`new Method(methodConfig, { seed, config })`). */
  constructor(config: SimSiamConfig = {}, init: { seed?: number; config?: { root?: { trainer?: { batchSize?: number } } } } = {}) {
    const batchSize = config.batchSize ?? init.config?.root?.trainer?.batchSize;
    super({ ...config, batchSize }, { seed: config.seed ?? init.seed ?? 0 });
    this.augmentRng = this.rng.fork();
  }

  /** The generators a checkpoint saves and a resume restores: declared, like BYOL's. */
  override rngs(): Record<string, Rng> {
    return { ...super.rngs(), augmentRng: this.augmentRng };
  }

  get encoder(): tf.LayersModel {
    const m = this.models.get('encoder');
    if (!m) throw new Error('SimSiamExperiment: no encoder yet; call setup() or fit() first');
    return m;
  }

  protected override configureModels(): void {
    const m = { backbone: 'resnet18' as BackboneName, stem: 'cifar' as const, width: 1, projectorHiddenDim: 2048, projectorDim: 2048, predictorHiddenDim: 512, ...this.config.model };
    const shape = this.config.inputShape ?? this.datasets.get('train')?.imageShape;
    if (!shape) throw new Error('SimSiamExperiment: unknown input shape; pass inputShape or register a train dataset first');
    const seed = this.config.seed ?? 0;
    this.models.set('encoder', createBackbone(m.backbone, { stem: m.stem, width: m.width, inputShape: shape, name: 'encoder', seed }));
    this.models.set('projector', buildMlpHead({ inputDim: backboneFeatureDim(m.backbone, m.width), hiddenDim: m.projectorHiddenDim, outputDim: m.projectorDim, name: 'projector', seed: seed + 1 }));
    // SimSiam's predictor is a bottleneck: dim → dim/4 → dim
    this.models.set('predictor', buildMlpHead({ inputDim: m.projectorDim, hiddenDim: m.predictorHiddenDim, outputDim: m.projectorDim, name: 'predictor', seed: seed + 2 }));
    // One distribution for both views (SimSiam has no T/T' asymmetry).
    this.view = new AugmentationPipeline(shape[2] === 1 ? byolSmallGrayViewT(shape[0]) : byolViewT(shape[0], shape[2]));
  }

  protected override configureOptimizer(): tf.Optimizer {
    // The paper: SGD, lr 0.05 × batch/256, momentum 0.9, weight decay 1e-4.
    const o = { lr: 0.05 * (this.config.batchSize ?? 256) / 256, momentum: 0.9, weightDecay: 1e-4, ...this.config.optimizer };
    return createOptimizer({ name: 'sgd', ...o });
  }

  trainStep(batch: ImageBatch | tf.Tensor4D): StepLogs {
    const images = batch instanceof tf.Tensor ? batch : batch.images;
    const n = images.shape[0];
    const [v1, v2] = twoViews(images, this.view!, this.view!, this.augmentRng);
    const both = tf.concat([v1, v2], 0);
    const [enc, proj, pred] = ['encoder', 'projector', 'predictor'].map((k) => this.models.get(k)!);
    let zs: tf.Scalar | undefined;
    const loss = this.minimize(() => {
      const z = proj.apply(enc.apply(both, { training: true }), { training: true }) as tf.Tensor2D;
      const p = pred.apply(z, { training: true }) as tf.Tensor2D;
      const [z1, z2] = tf.split(z, [n, n], 0) as [tf.Tensor2D, tf.Tensor2D];
      const [p1, p2] = tf.split(p, [n, n], 0) as [tf.Tensor2D, tf.Tensor2D];
      zs = tf.keep(zStd(z1));
      return tf.mul(0.5, tf.add(negativeCosine(p1, z2), negativeCosine(p2, z1))) as tf.Scalar;
    });
    return { loss, z_std: zs! };
  }
}

export const defaults = { steps: 30, limit: 512, batchSize: 32, backend: 'auto' };
export type Options = typeof defaults;

/** `callbacks`: extra callbacks for the run (your own, or a probe in the tests). */
export async function main(opts: Partial<Options> & { callbacks?: Callback[] } = {}) {
  const { steps, limit, batchSize, backend } = { ...defaults, ...opts };
  await selectBackend(backend as BackendPreference);
  const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit });
  const val = await FashionMnistDataset.load({ source: 'embedded', split: 'test', limit: 256 });

  const exp = new SimSiamExperiment({ batchSize, model: { width: 1 / 16, projectorHiddenDim: 128, projectorDim: 128, predictorHiddenDim: 32 } });
  exp.datasets.set('train', train).set('val', val);
  exp.addCallback(new KnnEvalCallback({ model: 'encoder' }), ...(opts.callbacks ?? []));
  const losses: number[] = [];
  exp.events.on('log', ({ step, values }) => {
    losses.push(values.loss);
    console.log(`step ${String(step).padStart(3)}  loss ${values.loss.toFixed(4)} (−1 is perfect agreement)  z_std ${values.z_std.toFixed(4)}`);
  });
  const perEpoch = train.numBatches({ batchSize, dropRemainder: true });
  const history = await exp.fit(({ epoch }) => train.batches({ batchSize, shuffle: true, epoch, dropRemainder: true }), {
    epochs: Math.ceil(steps / perEpoch),
    stepsPerEpoch: perEpoch,
    maxSteps: steps,
    logEvery: Math.max(1, Math.floor(steps / 6)),
  });
  console.log(`SimSiam: ${exp.state.globalStep} steps, loss ${losses[0].toFixed(4)} → ${losses[losses.length - 1].toFixed(4)}, kNN accuracy ${history.last('knn_acc')?.toFixed(3)}`);
  return { exp, history, losses };
}

if (require.main === module) runExample(main, defaults);
