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
