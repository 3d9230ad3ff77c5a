import * as tf from '@tensorflow/tfjs';
import { Rng, type BatchOptions, type ImageBatch, type ImageDataset } from '@selfsup/core';

/**
 * A minimal in-memory ImageDataset written against the interface alone (not the core's
 * implementation), which also records every tensor it hands out so tests can check that
 * consumers dispose them.
 */
export class TinyDataset implements ImageDataset {
  readonly size: number;
  readonly hasLabels: boolean;
  readonly handedOut: tf.Tensor[] = [];

  constructor(
    readonly name: string,
    readonly imageShape: [number, number, number],
    private readonly pixels: Float32Array,
    private readonly labels?: Int32Array,
    readonly classNames?: string[],
  ) {
    const per = imageShape[0] * imageShape[1] * imageShape[2];
    this.size = pixels.length / per;
    this.hasLabels = labels !== undefined;
  }

  numBatches(opts: BatchOptions): number {
    return Math.ceil(Math.min(opts.limit ?? this.size, this.size) / opts.batchSize);
  }

  labelsArray(): Int32Array {
    return this.labels!.slice();
  }

  async *batches(opts: BatchOptions): AsyncGenerator<ImageBatch> {
    const n = Math.min(opts.limit ?? this.size, this.size);
    const per = this.imageShape[0] * this.imageShape[1] * this.imageShape[2];
    for (let start = 0; start < n; start += opts.batchSize) {
      const end = Math.min(n, start + opts.batchSize);
      const indices = Int32Array.from({ length: end - start }, (_, i) => start + i);
      const images = tf.tensor4d(this.pixels.slice(start * per, end * per), [end - start, ...this.imageShape]);
      this.handedOut.push(images);
      const batch: ImageBatch = { images, indices };
      if (this.labels) {
        batch.labels = tf.tensor1d(this.labels.slice(start, end), 'int32');
        this.handedOut.push(batch.labels);
      }
      yield batch;
    }
  }
}

/** `n` random 8×8×1 images: class c brightens row c (so classes are learnable), plus noise. */
export function patternDataset(name: string, n: number, numClasses: number, seed: number, labelled = true): TinyDataset {
  const rng = new Rng(seed);
  const pixels = new Float32Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(numClasses);
    labels[i] = c;
    for (let p = 0; p < 64; p++) pixels[i * 64 + p] = 0.3 * rng.next() + (Math.floor(p / 8) === c % 8 ? 0.6 : 0);
  }
  const names = Array.from({ length: numClasses }, (_, c) => `class_${c}`);
  return new TinyDataset(name, [8, 8, 1], pixels, labelled ? labels : undefined, names);
}

/** Row-major matrix of standard normals. */
export function randn(rng: Rng, rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, () => rng.normal());
}

export interface BruteKnn {
  predictions: Int32Array;
  top1: number;
  top5: number;
  /** Smallest gap, over queries, between the k-th and (k+1)-th similarity and between the two best class scores (relative). */
  minMargin: number;
}

/**
 * Weighted kNN written the slow, obvious way in float64 (nested loops, a full sort,
 * Math.exp): the reference the tensor implementation must agree with.
 */
export function bruteForceKnn(
  bank: Float32Array,
  bankLabels: Int32Array,
  query: Float32Array,
  queryLabels: Int32Array,
  dim: number,
  numClasses: number,
  k: number,
  T: number,
): BruteKnn {
  const unit = (m: Float32Array, i: number) => {
    const row = Array.from(m.subarray(i * dim, (i + 1) * dim));
    const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    return row.map((v) => v / Math.max(norm, 1e-12));
  };
  const nb = bankLabels.length;
  const nq = queryLabels.length;
  const bankUnit = Array.from({ length: nb }, (_, i) => unit(bank, i));
  const predictions = new Int32Array(nq);
  let hits1 = 0;
  let hits5 = 0;
  let minMargin = Infinity;
  for (let q = 0; q < nq; q++) {
    const u = unit(query, q);
    const sims = bankUnit.map((b, i) => ({ i, s: b.reduce((acc, v, j) => acc + v * u[j], 0) }));
    sims.sort((a, b) => b.s - a.s);
    const kk = Math.min(k, nb);
    if (kk < nb) minMargin = Math.min(minMargin, sims[kk - 1].s - sims[kk].s);
    const votes = new Array<number>(numClasses).fill(0);
    for (let j = 0; j < kk; j++) votes[bankLabels[sims[j].i]] += Math.exp(sims[j].s / T);
    const ranked = votes.map((v, c) => ({ v, c })).sort((a, b) => b.v - a.v || a.c - b.c);
    if (numClasses > 1) minMargin = Math.min(minMargin, (ranked[0].v - ranked[1].v) / ranked[0].v);
    predictions[q] = ranked[0].c;
    if (ranked[0].c === queryLabels[q]) hits1++;
    if (ranked.slice(0, 5).some((r) => r.c === queryLabels[q])) hits5++;
  }
  return { predictions, top1: hits1 / nq, top5: hits5 / nq, minMargin };
}

export interface ReferenceProbe {
  predictions: Int32Array;
  accuracy: number;
  /** Smallest gap, over test rows, between the best and second-best logit. */
  minMargin: number;
}

/**
 * A linear probe written the slow, obvious way in float64: features standardised with the
 * training rows' mean and (biased) std, softmax regression from zero weights, full-batch
 * Adam (β1 0.9, β2 0.999, ε 1e-7, as tf.train.adam) on mean cross-entropy + ½·wd·‖W‖².
 * The reference the tensor implementation must agree with.
 */
export function referenceLinearProbe(
  train: number[][],
  trainLabels: ArrayLike<number>,
  test: number[][],
  testLabels: ArrayLike<number>,
  numClasses: number,
  opts: { epochs: number; lr: number; weightDecay: number },
): ReferenceProbe {
  const n = train.length;
  const D = train[0].length;
  const C = numClasses;
  const mean = Array.from({ length: D }, (_, d) => train.reduce((s, r) => s + r[d], 0) / n);
  const std = mean.map((m, d) => {
    const v = train.reduce((s, r) => s + (r[d] - m) ** 2, 0) / n;
    return v > 1e-12 ? Math.sqrt(v) : 1;
  });
  const scale = (rows: number[][]) => rows.map((r) => r.map((v, d) => (v - mean[d]) / std[d]));
  const xs = scale(train);
  const xt = scale(test);
  const W = Array.from({ length: D }, () => new Array<number>(C).fill(0));
  const b = new Array<number>(C).fill(0);
  const logits = (r: number[]) => b.map((bc, c) => bc + r.reduce((s, v, d) => s + v * W[d][c], 0));
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-7];
  const mW = W.map((row) => row.map(() => 0));
  const vW = W.map((row) => row.map(() => 0));
  const mb = b.map(() => 0);
  const vb = b.map(() => 0);
  for (let t = 1; t <= opts.epochs; t++) {
    const gW = W.map((row, d) => row.map((w) => opts.weightDecay * w));
    const gb = new Array<number>(C).fill(0);
    xs.forEach((r, i) => {
      const z = logits(r);
      const zmax = Math.max(...z);
      const e = z.map((v) => Math.exp(v - zmax));
      const sum = e.reduce((s, v) => s + v, 0);
      e.forEach((ev, c) => {
        const g = (ev / sum - (trainLabels[i] === c ? 1 : 0)) / n;
        gb[c] += g;
        for (let d = 0; d < D; d++) gW[d][c] += g * r[d];
      });
    });
    const step = (value: number, g: number, m: number[], v: number[], k: number, set: (x: number) => void) => {
      m[k] = beta1 * m[k] + (1 - beta1) * g;
      v[k] = beta2 * v[k] + (1 - beta2) * g * g;
      const mHat = m[k] / (1 - beta1 ** t);
      const vHat = v[k] / (1 - beta2 ** t);
      set(value - (opts.lr * mHat) / (Math.sqrt(vHat) + eps));
    };
    for (let d = 0; d < D; d++) for (let c = 0; c < C; c++) step(W[d][c], gW[d][c], mW[d], vW[d], c, (x) => (W[d][c] = x));
    for (let c = 0; c < C; c++) step(b[c], gb[c], mb, vb, c, (x) => (b[c] = x));
  }
  const predictions = new Int32Array(xt.length);
  let hits = 0;
  let minMargin = Infinity;
  xt.forEach((r, i) => {
    const z = logits(r);
    const order = z.map((v, c) => ({ v, c })).sort((a, b2) => b2.v - a.v || a.c - b2.c);
    predictions[i] = order[0].c;
    if (C > 1) minMargin = Math.min(minMargin, order[0].v - order[1].v);
    if (order[0].c === testLabels[i]) hits++;
  });
  return { predictions, accuracy: hits / xt.length, minMargin };
}

/** Every image of `ds` as a flat float64 row, with its label. */
export async function rowsOf(ds: ImageDataset): Promise<{ rows: number[][]; labels: number[] }> {
  const rows: number[][] = [];
  const labels: number[] = [];
  for await (const b of ds.batches({ batchSize: ds.size })) {
    const per = b.images.size / b.images.shape[0];
    const px = Array.from(b.images.dataSync());
    for (let i = 0; i < b.images.shape[0]; i++) rows.push(px.slice(i * per, (i + 1) * per));
    if (b.labels) labels.push(...b.labels.dataSync());
    tf.dispose(b.labels ? [b.images, b.labels] : [b.images]);
  }
  return { rows, labels };
}
