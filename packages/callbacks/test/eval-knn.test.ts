import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@selfsup/core';
import { KnnEvaluator, linearProbe, weightedKnn } from '../src/eval';
import { bruteForceKnn, randn } from './eval-helpers';
import { useBackend } from '../../../test/helpers/backend';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('weightedKnn', () => {
  // Hand-computed: q = (1,0); bank (1,0):c0, (0,1):c1, (1,1):c1, (-1,0):c0 → cosines 1, 0, 0.7071, -1.
  // k = 3 keeps the first three. T = 0.07: c0 = e^(1/0.07) ≈ 1.6e6, c1 = e^(0.7071/0.07) + e^0 ≈ 2.4e4 → c0.
  // T = 10: c0 = e^0.1 = 1.105, c1 = e^0.0707 + 1 = 2.073 → c1 (the plain majority wins).
  let bank: tf.Tensor2D;
  const bankLabels = [0, 1, 1, 0];
  beforeAll(() => {
    bank = tf.tensor2d([1, 0, 0, 1, 1, 1, -1, 0], [4, 2]);
  });

  it('weights votes by exp(sim / T): hand-computed example', async () => {
    const sharp = await weightedKnn({ bankFeatures: bank, bankLabels, queryFeatures: tf.tensor2d([[2, 0]]), queryLabels: [0], numClasses: 2, k: 3 });
    expect(Array.from(sharp.predictions)).toEqual([0]);
    expect(sharp.top1).toBe(1);
    expect(sharp.top5).toBeUndefined(); // only 2 classes
    const flat = await weightedKnn({ bankFeatures: bank, bankLabels, queryFeatures: tf.tensor2d([[2, 0]]), queryLabels: [0], numClasses: 2, k: 3, temperature: 10 });
    expect(Array.from(flat.predictions)).toEqual([1]);
    expect(flat.top1).toBe(0);
  });

  it('agrees exactly with a brute-force float64 implementation, chunked or not, without tensor growth', async () => {
    const rng = new Rng(7);
    const dim = 12;
    const C = 7;
    const nb = 150;
    const nq = 60;
    const bankF = randn(rng, nb, dim);
    const queryF = randn(rng, nq, dim);
    const bl = Int32Array.from({ length: nb }, () => rng.int(C));
    const ql = Int32Array.from({ length: nq }, () => rng.int(C));
    const ref = bruteForceKnn(bankF, bl, queryF, ql, dim, C, 20, 0.07);
    // The seed gives no near-ties, so float32 vs float64 cannot flip a neighbour or a vote.
    expect(ref.minMargin).toBeGreaterThan(1e-4);
    expect(ref.top1).toBeGreaterThan(0);
    expect(ref.top5).toBeLessThan(1);

    const args = {
      bankFeatures: { data: bankF, count: nb, dim },
      bankLabels: bl,
      queryFeatures: { data: queryF, count: nq, dim },
      queryLabels: ql,
      numClasses: C,
    };
    await weightedKnn({ ...args, chunkSize: 7 }); // warm-up (kernel caches)
    const before = tf.memory().numTensors;
    for (const chunkSize of [undefined, 7, 1, 1000]) {
      const r = await weightedKnn({ ...args, chunkSize });
      expect(Array.from(r.predictions)).toEqual(Array.from(ref.predictions));
      expect(r.top1).toBe(ref.top1);
      expect(r.top5).toBe(ref.top5);
    }
    expect(tf.memory().numTensors).toBe(before);

    // k larger than the bank: every bank row votes.
    const all = bruteForceKnn(bankF, bl, queryF, ql, dim, C, nb, 0.5);
    expect(all.minMargin).toBeGreaterThan(1e-4);
    const r = await weightedKnn({ ...args, k: 1000, temperature: 0.5 });
    expect(Array.from(r.predictions)).toEqual(Array.from(all.predictions));
  });

  it('KnnEvaluator keeps one bank for several queries and frees it on dispose', async () => {
    const before = tf.memory().numTensors;
    const knn = new KnnEvaluator({ k: 1 }).setBank(bank, bankLabels, 2);
    expect(tf.memory().numTensors).toBe(before + 2); // normalised bankᵀ + labels
    const a = await knn.predict(tf.tensor2d([[0, 3]]));
    const b = await knn.predict({ data: Float32Array.from([-5, 0.1]), count: 1, dim: 2 });
    expect([a.predictions[0], b.predictions[0]]).toEqual([1, 0]);
    expect(a.top1).toBeUndefined();
    knn.dispose();
    expect(tf.memory().numTensors).toBe(before + 1); // only the tensor2d query literal above
  });

  it('rejects bad input with actionable messages', async () => {
    const q = { data: new Float32Array(3), count: 1, dim: 3 };
    await expect(weightedKnn({ bankFeatures: bank, bankLabels, queryFeatures: q, numClasses: 2 })).rejects.toThrow(
      'query features have 3 dimensions but the bank has 2',
    );
    await expect(weightedKnn({ bankFeatures: bank, bankLabels: [0, 1, 2, 0], queryFeatures: bank, numClasses: 2 })).rejects.toThrow(
      'kNN bank: label 2 at row 2 is outside [0, 2)',
    );
    await expect(weightedKnn({ bankFeatures: bank, bankLabels: [0, 1], queryFeatures: bank, numClasses: 2 })).rejects.toThrow(
      'kNN bank: 2 labels for 4 feature rows',
    );
    expect(() => new KnnEvaluator({ k: 0 })).toThrow('k must be a positive integer, got 0');
    expect(() => new KnnEvaluator({ temperature: 0 })).toThrow('temperature must be a positive number, got 0');
  });
});

describe('linearProbe', () => {
  /** Class c centred at +3 on axis c, noise σ = 0.5: separable with a wide margin. */
  function blobs(rng: Rng, n: number, dim: number, C: number) {
    const labels = Int32Array.from({ length: n }, () => rng.int(C));
    const data = randn(rng, n, dim).map((v) => 0.5 * v);
    labels.forEach((c, i) => (data[i * dim + c] += 3));
    return { data, count: n, dim, labels };
  }

  it('separates linearly separable classes (mini-batch and full batch), deterministically', async () => {
    const rng = new Rng(3);
    const train = blobs(rng, 200, 8, 4);
    const test = blobs(rng, 200, 8, 4);
    const args = { trainFeatures: train, trainLabels: train.labels, testFeatures: test, testLabels: test.labels, numClasses: 4, epochs: 30, lr: 0.05 };
    const mini = await linearProbe({ ...args, batchSize: 32, seed: 1 });
    expect(mini.accuracy).toBeGreaterThanOrEqual(0.99);
    expect(mini.trainAccuracy).toBeGreaterThanOrEqual(0.99);
    const again = await linearProbe({ ...args, batchSize: 32, seed: 1 });
    expect(Array.from(again.predictions)).toEqual(Array.from(mini.predictions));
    expect(again.trainLoss).toBe(mini.trainLoss);
    const full = await linearProbe({ ...args, epochs: 100, normalize: 'l2' });
    expect(full.accuracy).toBeGreaterThanOrEqual(0.99);
  });

  it('is at chance on random labels and leaves no tensors behind', async () => {
    const rng = new Rng(5);
    const trainF = randn(rng, 200, 16);
    const testF = randn(rng, 400, 16);
    const args = {
      trainFeatures: { data: trainF, count: 200, dim: 16 },
      trainLabels: Int32Array.from({ length: 200 }, () => rng.int(4)),
      testFeatures: { data: testF, count: 400, dim: 16 },
      testLabels: Int32Array.from({ length: 400 }, () => rng.int(4)),
      numClasses: 4,
      epochs: 20,
      batchSize: 64,
    };
    await linearProbe(args);
    const before = tf.memory().numTensors;
    const r = await linearProbe(args);
    expect(tf.memory().numTensors).toBe(before);
    // chance = 0.25; 400 test rows give σ ≈ 0.022, so ±0.1 is > 4σ.
    expect(r.accuracy).toBeGreaterThan(0.15);
    expect(r.accuracy).toBeLessThan(0.35);
  });

  it('names the problem in bad input', async () => {
    const f = { data: new Float32Array(4), count: 2, dim: 2 };
    await expect(linearProbe({ trainFeatures: f, trainLabels: [0, 5], testFeatures: f, numClasses: 2 })).rejects.toThrow(
      'linearProbe train: label 5 at row 1 is outside [0, 2)',
    );
    await expect(
      linearProbe({ trainFeatures: f, trainLabels: [0, 1], testFeatures: { data: new Float32Array(3), count: 1, dim: 3 }, numClasses: 2 }),
    ).rejects.toThrow('test features have 3 dimensions, train features 2');
  });
});
