import * as tf from '@tensorflow/tfjs';
import { IsIn, IsInt, IsNumber, Min } from 'class-validator';
import { registerMethod, Section, UserError, type ImageBatch, type StepLogs } from '@selfsup/core';
import {
  l2Normalize,
  SgdOptimizerConfig,
  splitViews,
  SSL_MODELS,
  SslAugmentConfig,
  SslExperiment,
  SslModelConfig,
  SslOptimizerConfig,
  zStd,
  type SlotOptimizer,
  type SslExperimentConfig,
  type SslInit,
  type SslOptimizerSection,
} from '@selfsup/ssl';
import { symmetricMocoLoss } from './loss';
import { KeyQueue, QUEUE_INITS, type QueueInit } from './queue';

/**
 * Model names in `exp.models`: the query encoder and projector are the shared online ones; the
 * key (momentum) encoder and projector are built by the target-init callback and moved by ema,
 * under the names BYOL's target network has (so knn-eval scores the key encoder as
 * `knn_acc_target` and `export.encoder: target | best` can pick it).
 */
export const MOCO_MODELS = {
  ...SSL_MODELS,
  keyEncoder: 'target_encoder',
  keyProjector: 'target_projector',
} as const;

/** `model:` — backbone and projector (MoCo v2's MLP head, 2048 → 128); no predictor. */
export class MoCoModelConfig extends SslModelConfig {}

/** `loss:` — InfoNCE's temperature and the size of the queue of negatives. */
export class MoCoLossConfig {
  /** MoCo v2's (and solo-learn's CIFAR) 0.2. */
  @IsNumber()
  @Min(1e-4)
  temperature: number = 0.2;

  /**
   * Keys (negatives) per queue, K; one queue per view. MoCo's ImageNet 65536 is 10× the
   * embedded Fashion-MNIST subset; 4096 is ~0.7 of it (the keys of the last 32 steps at
   * batch 128). At least the batch size.
   */
  @IsInt()
  @Min(1)
  queueSize: number = 4096;

  /**
   * `empty`: the queue starts with no keys and the negatives are the real keys enqueued so
   * far. `random`: it starts with random unit vectors, as the MoCo reference code. Random
   * negatives are easy to beat by pulling every query towards the keys' common direction:
   * in a 1-epoch run of examples/configs/moco-fashion-mnist.yaml (46 steps; the queue fills
   * after 32) the queries collapsed (z_std 0.007) and kNN fell below the untrained encoder
   * (0.669 vs 0.697); with `empty`, z_std 0.034 and kNN 0.716.
   */
  @IsIn(QUEUE_INITS as unknown as string[])
  queueInit: QueueInit = 'empty';
}

/** The sections `method: moco` takes (optimizer: sgd unless the config names another, as MoCo v2). */
export class MoCoSectionsConfig {
  @Section(() => MoCoModelConfig)
  model: MoCoModelConfig = new MoCoModelConfig();

  @Section(() => SslAugmentConfig)
  augment: SslAugmentConfig = SslAugmentConfig.absent();

  @Section(() => SslOptimizerConfig)
  optimizer: SslOptimizerSection = new SgdOptimizerConfig();

  @Section(() => MoCoLossConfig)
  loss: MoCoLossConfig = new MoCoLossConfig();
}

export interface MoCoConfig extends SslExperimentConfig<MoCoModelConfig> {
  loss?: Partial<MoCoLossConfig>;
}

/**
 * MoCo v2 (He et al. 2020; Chen et al. 2020), with the symmetric loss of solo-learn's MoCo v2+.
 * Each step: two augmented views; the query encoder → projector (trained) sees both in one
 * pass; the key encoder → projector (its momentum copy: target-init builds it, ema moves it)
 * sees them without gradient, and its outputs, L2-normalised, are the keys. Loss:
 * ½·InfoNCE(q₁, k₂, queue₂) + ½·InfoNCE(q₂, k₁, queue₁) at temperature T, the queue of each
 * view holding the keys of that view from the last K/N steps. After the optimizer step the
 * batch's keys are enqueued (FIFO, the oldest replaced). The queues start empty (the first
 * step has no negatives: loss 0), or with random keys (`loss.queueInit: random`). The queues and their pointer are
 * buffers (`buffers()`): checkpoints hold them and a resume puts them back exactly.
 *
 * The key encoder normalises with its batch's statistics over both views (one device: no
 * shuffled BN, as BYOL's target here). Logs loss, z_std (of the queries), moco_pos and
 * moco_neg (mean cosine of a query with its positive key and with the queue), lr; tau comes
 * from the ema callback.
 *
 * Needs the `target-init` and `ema` callbacks (a YAML config gets them by default).
 */
@registerMethod('moco', {
  config: MoCoSectionsConfig,
  defaultCallbacks: [{ name: 'target-init' }, { name: 'ema' }],
  description: 'MoCo v2: InfoNCE against a momentum encoder and a queue of negatives',
})
export class MoCoExperiment extends SslExperiment<MoCoConfig, MoCoModelConfig> {
  private keyQueue: KeyQueue | undefined;

  constructor(config: MoCoConfig = {}, init: SslInit = {}) {
    super(config, init, MoCoSectionsConfig);
  }

  get lossConfig(): MoCoLossConfig {
    return (this.sections as unknown as MoCoSectionsConfig).loss;
  }

  /** The queues of keys (after setup): `queue.keys` [2, K, dim], `queue.pointer`. */
  get queue(): KeyQueue {
    if (!this.keyQueue) throw new Error('MoCoExperiment: no queue yet; call setup() or fit() first');
    return this.keyQueue;
  }

  /** The queue of keys: empty, or (`loss.queueInit: random`) random unit vectors seeded from `model.seed + 2`. */
  protected override configureHeads(): void {
    const m = this.modelConfig;
    const { queueSize, queueInit } = this.lossConfig;
    const bs = this.batchSize;
    if (bs !== undefined && queueSize < bs) {
      throw new UserError(`MoCoExperiment: loss.queueSize (${queueSize}) is smaller than the batch size (${bs}); a step enqueues a whole batch of keys per view, so use at least ${bs}`);
    }
    this.keyQueue?.dispose();
    this.keyQueue = new KeyQueue({ views: 2, size: queueSize, dim: m.projectorDim, init: queueInit, seed: m.seed + 2 });
  }

  /** The queue's keys and write position: what a checkpoint saves besides the weights. */
  override buffers(): Record<string, tf.Variable> {
    const q = this.keyQueue;
    return q ? { ...super.buffers(), queue: q.keys, queue_ptr: q.pointer } : super.buffers();
  }

  /** The key (momentum) encoder, once target-init has built it (undefined before). */
  get keyEncoder(): tf.LayersModel | undefined {
    return this.models.get(MOCO_MODELS.keyEncoder);
  }

  /** The same model as `keyEncoder`: what knn-eval and `export.encoder: target` look for. */
  get targetEncoder(): tf.LayersModel | undefined {
    return this.keyEncoder;
  }

  /** The keys of x: key encoder → key projector (batch statistics, as the target of BYOL), L2-normalised. No gradient flows into them. */
  keys(x: tf.Tensor4D): tf.Tensor2D {
    const enc = this.model(MOCO_MODELS.keyEncoder);
    const proj = this.model(MOCO_MODELS.keyProjector);
    return tf.tidy(() => l2Normalize(proj.apply(enc.apply(x, { training: true }), { training: true }) as tf.Tensor2D));
  }

  /**
   * The loss of the query network on x = [view 1; view 2] (n images each) against the keys of
   * the same rows and the current queues, and its logs (z_std of the queries, moco_pos, moco_neg).
   */
  queryLoss(x: tf.Tensor4D, keys: tf.Tensor2D, n: number): { loss: tf.Scalar; logs: Record<string, tf.Scalar> } {
    const z = this.project(x);
    const [q1, q2] = splitViews(z, n);
    const [k1, k2] = splitViews(keys, n);
    const r = symmetricMocoLoss(q1, q2, k1, k2, this.queue.keys as tf.Tensor3D, this.lossConfig.temperature);
    return { loss: r.loss, logs: { z_std: zStd(z), moco_pos: r.pos, moco_neg: r.neg } };
  }

  trainStep(batch: ImageBatch | tf.Tensor4D): StepLogs {
    const images = batch instanceof tf.Tensor ? batch : batch.images;
    const n = images.shape[0];
    const both = this.views(images);
    // keys first, outside the gradient tape (which would keep the key encoder's activations)
    const keys = this.keys(both);
    let logs: Record<string, tf.Scalar> = {};
    const loss = this.minimize(() => {
      const r = this.queryLoss(both, keys, n);
      // kept past the gradient scope; the loop disposes them with the step's logs
      logs = Object.fromEntries(Object.entries(r.logs).map(([k, v]) => [k, tf.keep(v)]));
      return r.loss;
    }, this.trainableVariables());
    // the batch's keys join the queues only now: a query never meets its own key as a negative
    this.queue.enqueue(tf.stack(splitViews(keys, n)) as tf.Tensor3D);
    return { loss, ...logs, lr: (this.optimizer as SlotOptimizer).learningRate };
  }

  override dispose(): void {
    super.dispose();
    this.keyQueue?.dispose();
    this.keyQueue = undefined;
  }
}
