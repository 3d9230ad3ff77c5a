import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { plugins } from '@selfsup/core';
import { EmaUpdateCallback, TargetInitCallback } from '@selfsup/callbacks';
import { SgdOptimizerConfig } from '@selfsup/ssl';
import { infoNceLoss, KeyQueue, MOCO_MODELS, MoCoExperiment, symmetricMocoLoss } from '../src';
import { useBackend } from '../../../test/helpers/backend';
import { fixedMatrix, mean, normalizeRows, shortRun, TINY_RUN, toTensor } from '../../../test/helpers/ssl-method';

const dot = (a: number[], b: number[]) => a.reduce((s, v, k) => s + v * b[k], 0);

/** One InfoNCE direction in float64 with plain loops: q, k normalised here, the queue as given, its all-zero rows (empty slots) left out. */
function infoNceReference(q: number[][], k: number[][], queue: number[][], t: number): number {
  const qn = normalizeRows(q);
  const kn = normalizeRows(k);
  const filled = queue.filter((n) => n.some((v) => v !== 0));
  let total = 0;
  for (let i = 0; i < q.length; i++) {
    const logits = [dot(qn[i], kn[i]) / t, ...filled.map((n) => dot(qn[i], n) / t)];
    const max = Math.max(...logits);
    let sum = 0;
    for (const l of logits) sum += Math.exp(l - max);
    total += max + Math.log(sum) - logits[0];
  }
  return total / q.length;
}

const data = (x: tf.Tensor) => Array.from(x.dataSync());

describe('moco: InfoNCE', () => {
  it.each([0.07, 0.2, 0.5, 1])('one direction matches a float64 reference at temperature %s', async (t) => {
    await useBackend('cpu');
    const q = fixedMatrix(6, 5, 1);
    const k = fixedMatrix(6, 5, 2);
    const queue = normalizeRows(fixedMatrix(9, 5, 3));
    const got = tf.tidy(() => infoNceLoss(toTensor(q), toTensor(k), toTensor(queue), t).dataSync()[0]);
    expect(got).toBeCloseTo(infoNceReference(q, k, queue, t), 4);
  });

  it('the symmetric loss is ½ of each view against the other view\'s key and that view\'s queue', async () => {
    await useBackend('cpu');
    const [q1, q2, k1, k2] = [11, 12, 13, 14].map((s) => fixedMatrix(4, 3, s));
    const queue1 = normalizeRows(fixedMatrix(7, 3, 15));
    const queue2 = normalizeRows(fixedMatrix(7, 3, 16));
    const want = 0.5 * infoNceReference(q1, k2, queue2, 0.2) + 0.5 * infoNceReference(q2, k1, queue1, 0.2);
    const [loss, pos, neg] = tf.tidy(() => {
      const r = symmetricMocoLoss(toTensor(q1), toTensor(q2), toTensor(k1), toTensor(k2), tf.tensor3d([queue1, queue2]), 0.2);
      return [r.loss, r.pos, r.neg].map((x) => x.dataSync()[0]);
    });
    expect(loss).toBeCloseTo(want, 4);
    // the logged cosines, from the same loops
    const meanCos = (q: number[][], k: number[][]) => normalizeRows(q).reduce((s, r, i) => s + dot(r, normalizeRows(k)[i]), 0) / q.length;
    expect(pos).toBeCloseTo(0.5 * meanCos(q1, k2) + 0.5 * meanCos(q2, k1), 5);
    const meanNeg = (q: number[][], queue: number[][]) => normalizeRows(q).reduce((s, r) => s + queue.reduce((a, n) => a + dot(r, n), 0), 0) / (q.length * queue.length);
    expect(neg).toBeCloseTo(0.5 * meanNeg(q1, queue2) + 0.5 * meanNeg(q2, queue1), 5);
  });

  it('leaves out the empty slots (zero rows) of a queue; with no key at all the loss is 0', async () => {
    await useBackend('cpu');
    const q = fixedMatrix(5, 4, 21);
    const k = fixedMatrix(5, 4, 22);
    const keys = normalizeRows(fixedMatrix(3, 4, 23));
    const zero = [0, 0, 0, 0];
    const queue = [keys[0], zero, keys[1], zero, zero, keys[2]];
    const got = tf.tidy(() => infoNceLoss(toTensor(q), toTensor(k), toTensor(queue), 0.2).dataSync()[0]);
    expect(got).toBeCloseTo(infoNceReference(q, k, keys, 0.2), 4);
    // the reference itself: with the empty slots counted as negatives (logit 0) it would differ
    const countingZeros = infoNceReference(q, k, queue.map((r) => r.map((v) => v || 1e-30)), 0.2);
    expect(Math.abs(countingZeros - got)).toBeGreaterThan(0.1);
    const empty = tf.tidy(() => infoNceLoss(toTensor(q), toTensor(k), tf.zeros([6, 4]) as tf.Tensor2D, 0.2).dataSync()[0]);
    expect(empty).toBeCloseTo(0, 6);
  });

  it('is log(1 + K·e^(−1/T)) when each query is its key and orthogonal to the K negatives', async () => {
    await useBackend('cpu');
    const q = [[1, 0, 0, 0], [0, 1, 0, 0]];
    const queue = [[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, -1, 0]];
    const t = 0.2;
    const got = tf.tidy(() => infoNceLoss(toTensor(q), toTensor(q), toTensor(queue), t).dataSync()[0]);
    expect(got).toBeCloseTo(Math.log(1 + 3 * Math.exp(-1 / t)), 5);
  });

  it('gradients reach the queries only: exactly zero for the keys and the queue; no tensor leaks', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const [gq, gk, gn] = tf.tidy(() => {
      const q = toTensor(fixedMatrix(4, 3, 3));
      const k = toTensor(fixedMatrix(4, 3, 4));
      const queue = toTensor(normalizeRows(fixedMatrix(5, 3, 5)));
      return tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => infoNceLoss(a as tf.Tensor2D, b as tf.Tensor2D, c as tf.Tensor2D, 0.2))([q, k, queue]).map((g) => tf.max(tf.abs(g)));
    });
    expect(gq.dataSync()[0]).toBeGreaterThan(1e-4);
    expect(gk.dataSync()[0]).toBe(0);
    expect(gn.dataSync()[0]).toBe(0);
    tf.dispose([gq, gk, gn]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the shapes it cannot use', async () => {
    await useBackend('cpu');
    expect(() => tf.tidy(() => infoNceLoss(tf.zeros([2, 3]), tf.zeros([2, 4]), tf.zeros([5, 3]), 0.2))).toThrow(/\[2,3\] and \[2,4\]/);
    expect(() => tf.tidy(() => infoNceLoss(tf.zeros([2, 3]), tf.zeros([2, 3]), tf.zeros([5, 4]), 0.2))).toThrow(/queue must be \[size, 3\], got \[5,4\]/);
  });
});

describe('moco: the queue (FIFO ring buffer)', () => {
  /** Keys of a batch whose values say which step and row they are: [views, n, dim], value = 100·step + 10·view + row. */
  const batchOf = (step: number, n: number, views = 2, dim = 2) =>
    Array.from({ length: views }, (_, v) => Array.from({ length: n }, (_, r) => Array.from({ length: dim }, (_, c) => 100 * step + 10 * v + r + c / 10)));
  const rows = (q: KeyQueue, view: number) => (q.keys.arraySync() as number[][][])[view].map((r) => Math.round(r[0] * 10) / 10);
  const ptr = (q: KeyQueue) => q.pointer.dataSync()[0];

  it('starts empty (zero rows), or with random unit vectors when asked', async () => {
    await useBackend('cpu');
    const empty = new KeyQueue({ views: 2, size: 5, dim: 2 });
    expect((empty.keys.arraySync() as number[][][]).flat(2).every((v) => v === 0)).toBe(true);
    expect(empty.pointer.dataSync()[0]).toBe(0);
    const random = new KeyQueue({ views: 2, size: 5, dim: 2, init: 'random', seed: 1 });
    for (const r of random.keys.arraySync() as number[][][]) for (const k of r) expect(Math.hypot(...k)).toBeCloseTo(1, 5);
    expect(() => new KeyQueue({ views: 2, size: 5, dim: 2, init: 'ones' as never })).toThrow(/init must be one of empty, random/);
    empty.dispose();
    random.dispose();
  });

  it('writes each batch at the pointer, wraps around the end, replacing the oldest keys first', async () => {
    await useBackend('cpu');
    // random initial keys, so that the rows not written yet are recognisable
    const q = new KeyQueue({ views: 2, size: 5, dim: 2, init: 'random', seed: 1 });
    const init = rows(q, 0);
    const enqueue = (step: number, n: number) => {
      const b = tf.tensor3d(batchOf(step, n));
      q.enqueue(b);
      b.dispose();
    };
    enqueue(1, 2);
    expect(ptr(q)).toBe(2);
    expect(rows(q, 0)).toEqual([100, 101, ...init.slice(2)]);
    expect(rows(q, 1)).toEqual([110, 111, ...rows(q, 1).slice(2)]);
    enqueue(2, 2);
    expect(ptr(q)).toBe(4);
    expect(rows(q, 0)).toEqual([100, 101, 200, 201, init[4]]);
    // wraps: row 4, then rows 0 and 1 (the oldest keys, step 1's)
    enqueue(3, 3);
    expect(ptr(q)).toBe(2);
    expect(rows(q, 0)).toEqual([301, 302, 200, 201, 300]);
    expect(rows(q, 1)).toEqual([311, 312, 210, 211, 310]);
    // a batch as large as the queue replaces everything, in order from the pointer
    enqueue(4, 5);
    expect(ptr(q)).toBe(2);
    expect(rows(q, 0)).toEqual([403, 404, 400, 401, 402]);
    // the second column travels with its row
    expect((q.keys.arraySync() as number[][][])[1][2]).toEqual([410, 410.1].map(Math.fround));
    q.dispose();
  });

  it('an enqueue gathers rows: it tiles nothing to the queue\'s shape (a broadcast mask would)', async () => {
    await useBackend('cpu');
    const q = new KeyQueue({ views: 2, size: 6, dim: 3 });
    const b = tf.tensor3d(batchOf(1, 4, 2, 3));
    const { kernelNames } = await tf.profile(() => q.enqueue(b));
    expect(kernelNames).toContain('GatherV2');
    expect(kernelNames).not.toContain('Tile');
    expect(rows(q, 1)).toEqual([110, 111, 112, 113, 0, 0]);
    b.dispose();
    q.dispose();
  });

  it('agrees with a plain ring buffer over many batches of varying size, and leaks no tensors', async () => {
    await useBackend('cpu');
    const size = 7;
    const q = new KeyQueue({ views: 1, size, dim: 1, seed: 2 });
    const ref: number[] = rows(q, 0);
    let p = 0;
    const before = tf.memory().numTensors;
    for (const [step, n] of [3, 1, 4, 7, 2, 5, 6, 3].entries()) {
      const b = tf.tensor3d(batchOf(step + 1, n, 1, 1));
      q.enqueue(b);
      b.dispose();
      for (let i = 0; i < n; i++) ref[(p + i) % size] = 100 * (step + 1) + i;
      p = (p + n) % size;
      expect(rows(q, 0)).toEqual(ref);
      expect(ptr(q)).toBe(p);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => q.enqueue(tf.zeros([1, 8, 1]))).toThrow(/8 keys do not fit a queue of 7/);
    expect(() => q.enqueue(tf.zeros([2, 3, 1]))).toThrow(/expected keys of shape \[1, n, 1\]/);
    q.dispose();
  });
});

const tiny = (opts: { queueSize?: number } = {}) =>
  new MoCoExperiment({
    inputShape: [8, 8, 1],
    batchSize: 4,
    seed: 3,
    model: { backbone: 'resnet18', stem: 'cifar', width: 1 / 16, projectorHiddenDim: 16, projectorDim: 8 },
    optimizer: { name: 'sgd', lr: 0.05, scaleLr: false, momentum: 0.9 },
    loss: { queueSize: opts.queueSize ?? 6 },
  });

const weights = (m: tf.LayersModel) => m.layers.flatMap((l) => l.weights).map((w) => Array.from(w.read().dataSync()));
/** The learned weights (kernels, biases, BN γ and β), not BN's moving statistics, which a forward pass in training mode updates. */
const learned = (m: tf.LayersModel) => m.layers.flatMap((l) => l.weights).filter((w) => !/moving_(mean|variance)/.test(w.name)).map((w) => Array.from(w.read().dataSync()));

describe('moco: MoCoExperiment', () => {
  it('is registered as method moco with target-init and ema as default callbacks, and its defaults', () => {
    const info = plugins.method('moco');
    expect(info.ctor).toBe(MoCoExperiment);
    expect(info.defaultCallbacks?.map((c) => c.name)).toEqual(['target-init', 'ema']);
    const exp = new MoCoExperiment({ inputShape: [28, 28, 1] });
    expect(exp.lossConfig).toMatchObject({ temperature: 0.2, queueSize: 4096, queueInit: 'empty' });
    expect(exp.optimizerConfig).toBeInstanceOf(SgdOptimizerConfig);
    expect(exp.modelConfig).toMatchObject({ projectorHiddenDim: 2048, projectorDim: 128 });
    expect(() => new MoCoExperiment({ loss: { temperature: 0 } })).toThrow(/temperature/);
    expect(() => new MoCoExperiment({ loss: { queueSize: 2.5 } })).toThrow(/queueSize/);
    expect(() => new MoCoExperiment({ loss: { queueInit: 'zeros' as never } })).toThrow(/queueInit/);
  });

  it('refuses a queue smaller than the batch, at setup', async () => {
    await useBackend('cpu');
    const exp = tiny({ queueSize: 3 });
    await expect(exp.setup()).rejects.toThrow(/loss.queueSize \(3\) is smaller than the batch size \(4\)/);
    exp.dispose();
  });

  it('the key encoder and the queue get no gradient; a step leaves the key encoder alone and enqueues its keys', async () => {
    await useBackend('cpu');
    const exp = tiny();
    await exp.setup();
    await new TargetInitCallback().onExperimentStart(exp);
    const names = (vs: tf.Variable[]) => new Set(vs.map((v) => v.name));
    const online = [MOCO_MODELS.encoder, MOCO_MODELS.projector].flatMap((m) => exp.models.get(m)!.trainableWeights.map((w) => w.read() as tf.Variable));
    const keyVars = [MOCO_MODELS.keyEncoder, MOCO_MODELS.keyProjector].flatMap((m) => exp.models.get(m)!.weights.map((w) => w.read() as tf.Variable));
    // what the optimizer updates: the query network's weights, nothing of the key network or the queue
    expect(names(exp.trainableVariables())).toEqual(names(online));

    const step = (seed: number) => {
      const batch = tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
      const logs = tf.tidy(() => {
        const out = exp.trainStep(batch);
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, typeof v === 'number' ? v : (v as tf.Tensor).dataSync()[0]]));
      });
      batch.dispose();
      return logs;
    };
    const queueRows = () => exp.queue.keys.arraySync() as number[][][];
    // step 1 meets an empty queue (no negatives: loss 0) and fills rows 0-3 of both queues
    const first = step(8);
    expect(Object.keys(first).sort()).toEqual(['loss', 'lr', 'moco_neg', 'moco_pos', 'z_std']);
    expect(first.loss).toBeCloseTo(0, 6);
    expect(exp.queue.pointer.dataSync()[0]).toBe(4);
    const afterFirst = queueRows();
    for (const v of [0, 1]) {
      for (let r = 0; r < 4; r++) expect(Math.hypot(...afterFirst[v][r])).toBeCloseTo(1, 5);
      expect(afterFirst[v].slice(4).flat()).toEqual([...Array(16)].map(() => 0));
    }
    // the two views' keys differ (two augmentations): queue 1 is not a copy of queue 0
    expect(afterFirst[1].slice(0, 4)).not.toEqual(afterFirst[0].slice(0, 4));

    // with keys in the queue, and even with the keys computed inside the differentiated function
    // (the key network is frozen and its keys pass a stop-gradient), nothing flows into them
    const x = tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const both = exp.views(x);
    const { grads } = tf.variableGrads(() => {
      const keys = exp.keys(both);
      return exp.queryLoss(both, keys, 4).loss;
    }, [...online, ...keyVars.filter((v) => v.dtype === 'float32'), exp.queue.keys]);
    const maxAbs = (n: string) => (grads[n] ? tf.tidy(() => tf.max(tf.abs(grads[n])).dataSync()[0]) : 0);
    expect(Math.max(...online.map((v) => maxAbs(v.name)))).toBeGreaterThan(1e-6);
    for (const v of keyVars) expect(maxAbs(v.name), v.name).toBe(0);
    expect(grads[exp.queue.keys.name], 'the queue is connected to the loss (through a stop-gradient)').toBeDefined();
    expect(maxAbs(exp.queue.keys.name)).toBe(0);
    tf.dispose([x, both, ...Object.values(grads)]);

    // step 2: the optimizer moves the query network only (the key encoder's BN statistics move
    // with its forward pass in training mode, as in MoCo); the queue changes by the enqueue
    // only: rows 4, 5, then 0, 1 (wrapped), rows 2 and 3 kept
    const keysBefore = learned(exp.keyEncoder!);
    const keyProjBefore = learned(exp.models.get(MOCO_MODELS.keyProjector)!);
    const onlineBefore = weights(exp.encoder);
    const second = step(9);
    expect(second.loss).toBeGreaterThan(0.1);
    expect(learned(exp.keyEncoder!)).toEqual(keysBefore);
    expect(learned(exp.models.get(MOCO_MODELS.keyProjector)!)).toEqual(keyProjBefore);
    expect(weights(exp.encoder)).not.toEqual(onlineBefore);
    expect(exp.queue.pointer.dataSync()[0]).toBe(2);
    const afterSecond = queueRows();
    for (const v of [0, 1]) {
      expect(afterSecond[v].slice(2, 4)).toEqual(afterFirst[v].slice(2, 4));
      for (const r of [4, 5, 0, 1]) {
        expect(afterSecond[v][r]).not.toEqual(afterFirst[v][r]);
        expect(Math.hypot(...afterSecond[v][r])).toBeCloseTo(1, 5);
      }
    }
    exp.dispose();
  });

  it('declares the queue and its pointer as buffers (what a checkpoint saves)', async () => {
    await useBackend('cpu');
    const exp = tiny();
    expect(exp.buffers()).toEqual({});
    await exp.setup();
    const b = exp.buffers();
    expect(Object.keys(b).sort()).toEqual(['queue', 'queue_ptr']);
    expect(b.queue.shape).toEqual([2, 6, 8]);
    expect([b.queue_ptr.shape, b.queue_ptr.dtype]).toEqual([[], 'int32']);
    exp.dispose();
    expect(b.queue.isDisposed && b.queue_ptr.isDisposed).toBe(true);
  });

  it('trains on the embedded Fashion-MNIST subset: loss falls once the queue holds keys, tensor count flat, logs z_std and the cosines', async () => {
    await useBackend('wasm');
    // a queue of one batch: from step 2 on the negatives are the previous step's 32 keys
    const exp = new MoCoExperiment({ ...TINY_RUN, loss: { queueSize: 32 } });
    exp.addCallback(new TargetInitCallback(), new EmaUpdateCallback({ tauBase: 0.9 }));
    const steps = 20;
    const r = await shortRun(exp, steps);
    expect(r.losses).toHaveLength(steps);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    // step 1 meets an empty queue: no negatives, loss 0; then log(33) ≈ 3.5 is chance
    expect(r.losses[0]).toBeCloseTo(0, 5);
    expect(mean(r.losses.slice(1, 6))).toBeGreaterThan(3);
    expect(mean(r.losses.slice(-5))).toBeLessThan(mean(r.losses.slice(1, 6)));
    expect(new Set(r.counts.slice(1)).size).toBe(1);
    expect(r.logged).toEqual(expect.arrayContaining(['loss', 'z_std', 'moco_pos', 'moco_neg', 'lr', 'tau']));
    expect([...exp.models.keys()].sort()).toEqual(['online_encoder', 'online_projector', 'target_encoder', 'target_projector']);
    // 20 steps × 32 keys through a queue of 32: the pointer came back to 0, every slot filled
    expect(exp.queue.pointer.dataSync()[0]).toBe(0);
    expect(tf.tidy(() => tf.min(tf.sum(tf.square(exp.queue.keys), 2)).dataSync()[0])).toBeCloseTo(1, 5);
    exp.dispose();
  });
});
