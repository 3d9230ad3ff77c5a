/**
 * Shared by the method packages' golden tests (packages/{simclr,vicreg,barlow-twins,simsiam}/test):
 * fixed small inputs, float64 reference helpers, and a short run on the embedded Fashion-MNIST
 * subset that records the loss and tf.memory().numTensors at every step.
 */
import * as tf from '@tensorflow/tfjs';
import { CallbackOrder, FashionMnistDataset, onBatchEnd, type ImageBatch } from '@selfsup/core';
import type { SslExperiment } from '@selfsup/ssl';

/** A deterministic [rows][cols] matrix of values in [-1, 1) (a 32-bit LCG; no tfjs). */
export function fixedMatrix(rows: number, cols: number, seed: number): number[][] {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
  return Array.from({ length: rows }, () => Array.from({ length: cols }, next));
}

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Column means of a [n][d] matrix. */
export function colMeans(x: number[][]): number[] {
  return x[0].map((_, j) => mean(x.map((r) => r[j])));
}

/** Row-wise x / max(‖x‖₂, 1e-12), in float64. */
export function normalizeRows(x: number[][]): number[][] {
  return x.map((r) => {
    const norm = Math.max(Math.sqrt(r.reduce((a, v) => a + v * v, 0)), 1e-12);
    return r.map((v) => v / norm);
  });
}

export const toTensor = (x: number[][]) => tf.tensor2d(x, undefined, 'float32');

export interface ShortRun {
  losses: number[];
  /** numTensors at each batch end (after the step's logs are read and disposed). */
  counts: number[];
  /** The names logged at each step (loss, z_std, lr, the method's own). */
  logged: string[];
}

/**
 * `steps` steps of `exp` on the same 32 embedded Fashion-MNIST images (fresh random views each
 * step), one epoch, logging every step: the loss must fall, the tensor count stay flat.
 */
export async function shortRun(exp: SslExperiment<any, any>, steps = 12): Promise<ShortRun> {
  const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit: 32, log: () => {} });
  exp.datasets.set('train', train);
  let fixed: tf.Tensor4D | undefined;
  for await (const b of train.batches({ batchSize: 32, shuffle: false, epoch: 0 })) {
    fixed = tf.keep(b.images.clone());
    tf.dispose(b as unknown as tf.TensorContainer);
  }
  const counts: number[] = [];
  const losses: number[] = [];
  let logged: string[] = [];
  exp.addCallback(onBatchEnd({ name: 'tensor-probe', order: CallbackOrder.EXTERNAL })(() => void counts.push(tf.memory().numTensors)));
  exp.events.on('log', ({ values }: { values: Record<string, number> }) => {
    losses.push(values.loss);
    logged = Object.keys(values);
  });
  async function* source(): AsyncGenerator<ImageBatch> {
    for (let i = 0; i < steps; i++) yield { images: fixed!.clone() } as ImageBatch;
  }
  await exp.fit(source(), { epochs: 1, stepsPerEpoch: steps, logEvery: 1 });
  fixed!.dispose();
  return { losses, counts, logged };
}

/** The options of the methods' short runs: a 1/16-width ResNet-18 and small heads, Adam, gray views. */
export const TINY_RUN = {
  batchSize: 32,
  seed: 0,
  model: { width: 1 / 16, projectorHiddenDim: 64, projectorDim: 32 },
  optimizer: { name: 'adam', lr: 3e-3, scaleLr: false },
  augment: { preset: 'byol-small-gray' },
} as const;

/**
 * `shortRun(exp)` and what every method's run must show: finite losses, the last three
 * below the first three, a flat tensor count after the first step, and `names` logged.
 */
export async function expectLearnsWithoutLeaks(exp: SslExperiment<any, any>, names: string[]): Promise<ShortRun> {
  const { expect } = await import('vitest');
  const r = await shortRun(exp);
  expect(r.losses.every(Number.isFinite)).toBe(true);
  expect(mean(r.losses.slice(-3))).toBeLessThan(mean(r.losses.slice(0, 3)));
  expect(new Set(r.counts.slice(1)).size).toBe(1);
  expect(r.logged).toEqual(expect.arrayContaining(names));
  return r;
}
