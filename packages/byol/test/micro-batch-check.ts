import * as tf from '@tensorflow/tfjs';
import { TargetInitCallback } from '@selfsup/callbacks';
import type { ByolExperiment } from '../src';

/** The change of every trainable variable after one step of `make(micro)` on the batch x. */
export async function oneStepDelta(make: (micro: number) => ByolExperiment, micro: number, x: tf.Tensor4D): Promise<number[][]> {
  const exp = make(micro);
  await exp.setup();
  const before = exp.trainableVariables().map((v) => Array.from(v.dataSync()));
  exp.addCallback(new TargetInitCallback());
  await exp.fit(function* () { yield x; }, { epochs: 1 });
  const after = exp.trainableVariables().map((v) => Array.from(v.dataSync()));
  exp.dispose();
  return after.map((w, i) => w.map((v, j) => v - before[i][j]));
}

/**
 * One step on `batch()` split in 2 micro-batches against the mean of the steps on each half
 * alone (with momentum 0 and SGD they must agree): the split update, its largest entry, and
 * the largest disagreement.
 */
export async function splitAgainstHalves(
  make: (micro: number) => ByolExperiment,
  batch: () => tf.Tensor4D,
): Promise<{ split: number[][]; maxDelta: number; maxErr: number }> {
  const [h1, h2] = tf.split(batch(), 2, 0) as [tf.Tensor4D, tf.Tensor4D];
  const split = await oneStepDelta(make, 2, batch());
  const a = await oneStepDelta(make, 1, h1);
  const b = await oneStepDelta(make, 1, h2);
  let maxDelta = 0;
  let maxErr = 0;
  split.forEach((w, i) => w.forEach((v, j) => {
    maxDelta = Math.max(maxDelta, Math.abs(v));
    maxErr = Math.max(maxErr, Math.abs(v - (a[i][j] + b[i][j]) / 2));
  }));
  return { split, maxDelta, maxErr };
}
