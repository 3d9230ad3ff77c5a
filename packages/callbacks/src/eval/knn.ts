import * as tf from '@tensorflow/tfjs';
import { featureRows, featureTensor, type FeatureArray } from './features';
import { accuracy, checkLabels, oneHotFloat } from './labels';

export interface KnnOptions {
  /** Neighbours that vote (default 20; clipped to the bank size). */
  k?: number;
  /** Vote weight exp(sim / temperature) (default 0.07, as InstDisc and solo-learn). */
  temperature?: number;
  /**
   * Queries per similarity matmul. Default: as many as keep one chunk's [chunk, bank]
   * similarity matrix under 4M floats (16 MB), at most 1024.
   */
  chunkSize?: number;
}

export interface KnnResult {
  /** Predicted class per query row (highest weighted vote; ties go to the lower class id). */
  predictions: Int32Array;
  /** Top-1 accuracy, when query labels were given. */
  top1?: number;
  /** Top-5 accuracy, when query labels were given and there are more than 5 classes. */
  top5?: number;
}

const SIM_BUDGET = 4 * 1024 * 1024;
const EPS = 1e-12;

/** Rows scaled to unit L2 norm (zero rows stay zero), as torch's F.normalize. */
export function l2NormalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), EPS)));
}

function checkPositiveInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`kNN: ${name} must be a positive integer, got ${v}`);
}

/**
 * Weighted k-nearest-neighbour classifier on cosine similarity (InstDisc, solo-learn): each of
 * the k most similar bank rows votes for its class with weight exp(sim / T). Keeps the
 * normalised, transposed bank on the backend between `predict` calls; `dispose` frees it.
 */
export class KnnEvaluator {
  readonly k: number;
  readonly temperature: number;
  readonly chunkSize: number | undefined;
  private bankT: tf.Tensor2D | undefined;
  private bankLabels: tf.Tensor1D | undefined;
  private bankRows = 0;
  private dim = 0;
  private classes = 0;

  constructor(opts: KnnOptions = {}) {
    this.k = opts.k ?? 20;
    this.temperature = opts.temperature ?? 0.07;
    this.chunkSize = opts.chunkSize;
    checkPositiveInt(this.k, 'k');
    if (!(this.temperature > 0) || !Number.isFinite(this.temperature)) {
      throw new Error(`kNN: temperature must be a positive number, got ${this.temperature}`);
    }
    if (this.chunkSize !== undefined) checkPositiveInt(this.chunkSize, 'chunkSize');
  }

  get numClasses(): number {
    return this.classes;
  }

  /** Sets the labelled memory bank (replacing any previous one). */
  setBank(features: tf.Tensor2D | FeatureArray, labels: ArrayLike<number>, numClasses: number): this {
    checkPositiveInt(numClasses, 'numClasses');
    const rows = featureRows(features);
    if (rows === 0) throw new Error('kNN: the memory bank is empty');
    checkLabels(labels, rows, numClasses, 'kNN bank');
    this.disposeBank();
    const raw = featureTensor(features, 'kNN bank features');
    // Transposed once so every chunk is a plain [chunk, D] x [D, bank] matmul.
    this.bankT = tf.tidy(() => tf.transpose(l2NormalizeRows(raw)));
    raw.dispose();
    this.bankLabels = tf.tensor1d(Int32Array.from(labels), 'int32');
    this.bankRows = rows;
    this.dim = this.bankT.shape[0];
    this.classes = numClasses;
    return this;
  }

  /** Classifies the query rows; with `labels`, also scores them. */
  async predict(features: tf.Tensor2D | FeatureArray, labels?: ArrayLike<number>): Promise<KnnResult> {
    if (!this.bankT || !this.bankLabels) throw new Error('kNN: call setBank(...) before predict(...)');
    const rows = featureRows(features);
    if (labels !== undefined) checkLabels(labels, rows, this.classes, 'kNN query');
    const query = featureTensor(features, 'kNN query features');
    const predictions = new Int32Array(rows);
    const withTop5 = labels !== undefined && this.classes > 5;
    let top5Hits = 0;
    try {
      if (query.shape[1] !== this.dim) {
        throw new Error(`kNN: query features have ${query.shape[1]} dimensions but the bank has ${this.dim}; both must come from the same encoder`);
      }
      const k = Math.min(this.k, this.bankRows);
      const chunk = this.chunkSize ?? Math.max(1, Math.min(1024, Math.floor(SIM_BUDGET / this.bankRows)));
      for (let start = 0; start < rows; start += chunk) {
        const size = Math.min(chunk, rows - start);
        const scores = tf.tidy(() => this.chunkScores(query, start, size, k));
        const votes = (await scores.data()) as Float32Array;
        scores.dispose();
        const C = this.classes;
        for (let r = 0; r < size; r++) {
          const off = r * C;
          let best = 0;
          for (let c = 1; c < C; c++) if (votes[off + c] > votes[off + best]) best = c;
          predictions[start + r] = best;
          if (withTop5) {
            // Rank of the true class under the same order as the prediction (score desc, id asc).
            const y = labels![start + r];
            const v = votes[off + y];
            let ahead = 0;
            for (let c = 0; c < C; c++) if (votes[off + c] > v || (votes[off + c] === v && c < y)) ahead++;
            if (ahead < 5) top5Hits++;
          }
        }
      }
    } finally {
      query.dispose();
    }
    const result: KnnResult = { predictions };
    if (labels !== undefined) {
      result.top1 = accuracy(predictions, labels);
      if (withTop5) result.top5 = rows === 0 ? 0 : top5Hits / rows;
    }
    return result;
  }

  /** [size, C] summed vote weights of query rows [start, start + size). */
  private chunkScores(query: tf.Tensor2D, start: number, size: number, k: number): tf.Tensor2D {
    const q = l2NormalizeRows(tf.slice(query, [start, 0], [size, -1]));
    const sim = tf.matMul(q, this.bankT!);
    const { values, indices } = tf.topk(sim, k, true);
    const weights = tf.exp(tf.div(values, this.temperature));
    const neighbourLabels = tf.gather(this.bankLabels!, indices);
    const onehot = oneHotFloat(neighbourLabels, this.classes);
    return tf.sum(tf.mul(onehot, tf.expandDims(weights, 2)), 1) as tf.Tensor2D;
  }

  private disposeBank(): void {
    this.bankT?.dispose();
    this.bankLabels?.dispose();
    this.bankT = undefined;
    this.bankLabels = undefined;
  }

  dispose(): void {
    this.disposeBank();
  }
}

export interface WeightedKnnArgs extends KnnOptions {
  bankFeatures: tf.Tensor2D | FeatureArray;
  bankLabels: ArrayLike<number>;
  queryFeatures: tf.Tensor2D | FeatureArray;
  queryLabels?: ArrayLike<number>;
  numClasses: number;
}

/** One-shot weighted kNN: bank in, predictions (and accuracies) for the queries out. No tensors remain. */
export async function weightedKnn(args: WeightedKnnArgs): Promise<KnnResult> {
  const knn = new KnnEvaluator(args);
  try {
    knn.setBank(args.bankFeatures, args.bankLabels, args.numClasses);
    return await knn.predict(args.queryFeatures, args.queryLabels);
  } finally {
    knn.dispose();
  }
}
