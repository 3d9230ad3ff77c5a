/**
 * The tiny BYOL run the resume tests share (test/resume.test.ts, test/checkpoint-v1.test.ts and,
 * for its encoder and batches, test/moco-resume.test.ts; ./resume.ts trains it): a dense encoder
 * on 8×8×1 images, batch 4, 3 steps × 2 epochs of seeded random batches.
 * test/fixtures/checkpoint-v1/make.cjs wrote its fixtures with exactly this run; keep the two
 * in step (the fixture test compares against that run's recorded losses).
 */
import * as tf from '@tensorflow/tfjs';
import { ByolExperiment } from '@selfsup/byol';

export const IMAGE: [number, number, number] = [8, 8, 1];
export const STEPS = 3;
export const EPOCHS = 2;

export function encoder(): tf.LayersModel {
  const inp = tf.input({ shape: IMAGE });
  let h = tf.layers.flatten().apply(inp) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 12, useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: 7 }) }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization().apply(h) as tf.SymbolicTensor;
  h = tf.layers.reLU().apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: h, name: 'online_encoder' });
}

export const byol = () =>
  new ByolExperiment({
    inputShape: IMAGE,
    batchSize: 4,
    seed: 3,
    encoder: encoder(),
    model: { projectorHiddenDim: 16, projectorDim: 8, predictorHiddenDim: 16 },
    optimizer: { name: 'lars', lr: 0.2, scaleLr: false },
  });

/** The batches of one epoch (seeded by epoch and step), from `skipBatches` on. */
export const images = ({ epoch, skipBatches }: { epoch: number; skipBatches: number }) =>
  (function* () {
    for (let i = skipBatches; i < STEPS; i++) yield tf.randomUniform([4, ...IMAGE], 0, 1, 'float32', 1000 * epoch + i + 1) as tf.Tensor4D;
  })();
