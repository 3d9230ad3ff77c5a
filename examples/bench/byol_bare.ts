// The BYOL step as a bare tfjs loop: the same models, augmentations, loss, optimizer and
// EMA as ByolExperiment + target-init + ema, with no Experiment, callbacks or logs. The
// difference between its step time and the selfsup step is the framework's overhead.
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@selfsup/core';
import {
  backboneFeatureDim,
  buildMlpHead,
  buildViewPipelines,
  createBackbone,
  createOptimizer,
  scaleLrByBatch,
  symmetricByolLoss,
  twoViews,
  zStd,
  type AugmentSectionConfig,
} from '@selfsup/byol';
import { cloneArchitecture, copyWeights } from '@selfsup/callbacks';
import type { ByolBenchConfig } from './byol_configs';

export interface BareByol {
  step(images: tf.Tensor4D, tau: number): void;
  dispose(): void;
}

export async function createBareByol(cfg: ByolBenchConfig): Promise<BareByol> {
  const [h, , c] = cfg.input;
  const featureDim = backboneFeatureDim('resnet18', cfg.width);
  const enc = createBackbone('resnet18', { stem: 'cifar', width: cfg.width, inputShape: cfg.input, name: 'bare_online_encoder', seed: 0 });
  const proj = buildMlpHead({ inputDim: featureDim, hiddenDim: cfg.heads[0], outputDim: cfg.heads[1], name: 'bare_online_projector', seed: 1 });
  const pred = buildMlpHead({ inputDim: cfg.heads[1], hiddenDim: cfg.heads[0], outputDim: cfg.heads[1], name: 'bare_online_predictor', seed: 2 });
  const tEnc = await cloneArchitecture(enc, 'bare_target_encoder');
  const tProj = await cloneArchitecture(proj, 'bare_target_projector');
  copyWeights(enc, tEnc);
  copyWeights(proj, tProj);
  const section = { preset: c === 1 ? 'byol-small-gray' : 'byol' } as AugmentSectionConfig;
  const { t, tPrime } = buildViewPipelines(section, { size: h, channels: c });
  const opt = createOptimizer({ ...cfg.optimizer, lr: scaleLrByBatch(cfg.optimizer.lr, cfg.batch) });
  const vars = [enc, proj, pred].flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
  // every weight, batch-norm statistics included (bnStats: 'ema')
  const emaPairs = [
    [enc, tEnc],
    [proj, tProj],
  ].flatMap(([o, tg]) => o.weights.map((w, i) => [w.read() as tf.Variable, tg.weights[i].read() as tf.Variable] as const));
  const rng = new Rng(0);

  return {
    step(images, tau) {
      const zs = tf.tidy(() => {
        const n = images.shape[0];
        const [v1, v2] = twoViews(images, t, tPrime, rng);
        const both = tf.concat([v1, v2], 0);
        const z = tProj.apply(tEnc.apply(both, { training: true }), { training: true }) as tf.Tensor2D;
        const [z1, z2] = tf.split(z, [n, n], 0) as [tf.Tensor2D, tf.Tensor2D];
        let zs: tf.Scalar | undefined;
        const { grads } = tf.variableGrads(() => {
          const zo = proj.apply(enc.apply(both, { training: true }), { training: true }) as tf.Tensor2D;
          const p = pred.apply(zo, { training: true }) as tf.Tensor2D;
          const [p1, p2] = tf.split(p, [n, n], 0) as [tf.Tensor2D, tf.Tensor2D];
          zs = tf.keep(zStd(zo));
          return symmetricByolLoss(p1, z2, p2, z1);
        }, vars);
        opt.applyGradients(grads);
        return zs!;
      });
      zs.dispose();
      tf.tidy(() => {
        const a = tf.scalar(tau);
        const b = tf.scalar(1 - tau);
        for (const [o, tg] of emaPairs) tg.assign(tf.add(tf.mul(tg, a), tf.mul(o, b)));
      });
    },
    dispose() {
      for (const m of [enc, proj, pred, tEnc, tProj]) m.dispose();
      opt.dispose();
    },
  };
}
