import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { InMemoryImageDataset } from '../src/data/in-memory-dataset';
import { disposeBatch, type BatchOptions, type ImageBatch, type ImageDataset } from '../src/data/types';
import { useBackend } from '../../../test/helpers/backend';

beforeAll(async () => {
  await useBackend('cpu');
});

// 10 images of 2x2x1; image i has every pixel = 10*i, label i % 3.
const N = 10;
const pixels = Uint8Array.from({ length: N * 4 }, (_, k) => 10 * Math.floor(k / 4));
const labels = Int32Array.from({ length: N }, (_, i) => i % 3);
const ds = new InMemoryImageDataset({ name: 'toy', pixels, imageShape: [2, 2, 1], labels, classNames: ['a', 'b', 'c'] });

async function orderOf(d: ImageDataset, opts: BatchOptions): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of d.batches(opts)) {
    out.push(Array.from(b.indices));
    disposeBatch(b);
  }
  return out;
}

describe('batch order', () => {
  it('unshuffled: dataset order, last batch partial unless dropped', async () => {
    expect(await orderOf(ds, { batchSize: 4 })).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(await orderOf(ds, { batchSize: 4, dropRemainder: true })).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(ds.numBatches({ batchSize: 4 })).toBe(3);
    expect(ds.numBatches({ batchSize: 4, dropRemainder: true })).toBe(2);
    expect(ds.numBatches({ batchSize: 4, limit: 5 })).toBe(2);
    // skipBatches does not change the epoch length (steps are counted from the epoch start).
    expect(ds.numBatches({ batchSize: 4, skipBatches: 2 })).toBe(3);
  });

  it('same seed and epoch → same order; another epoch or seed → another order; each index once', async () => {
    const a = await orderOf(ds, { batchSize: 3, shuffle: true, seed: 7, epoch: 2 });
    const b = await orderOf(ds, { batchSize: 3, shuffle: true, seed: 7, epoch: 2 });
    const c = await orderOf(ds, { batchSize: 3, shuffle: true, seed: 7, epoch: 3 });
    const d = await orderOf(ds, { batchSize: 3, shuffle: true, seed: 8, epoch: 2 });
    expect(a).toEqual(b);
    expect(c.flat()).not.toEqual(a.flat());
    expect(d.flat()).not.toEqual(a.flat());
    for (const order of [a, c, d]) expect([...order.flat()].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a.flat()).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('skipBatches resumes the same sequence', async () => {
    const opts = { batchSize: 3, shuffle: true, seed: 11, epoch: 5 };
    const full = await orderOf(ds, opts);
    expect(await orderOf(ds, { ...opts, skipBatches: 2 })).toEqual(full.slice(2));
    expect(await orderOf(ds, { ...opts, skipBatches: 4 })).toEqual([]);
  });

  it('limit keeps the same subset every epoch, shuffled within', async () => {
    const orders: number[][] = [];
    for (const epoch of [0, 1, 2]) {
      const order = (await orderOf(ds, { batchSize: 4, shuffle: true, epoch, limit: 6 })).flat();
      expect([...order].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5]);
      orders.push(order);
    }
    // shuffled: not the dataset order, and a new order each epoch (6! = 720 orders, so three
    // equal ones, or an unshuffled one, would mean the subset is not shuffled)
    for (const order of orders) expect(order).not.toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set(orders.map((o) => o.join())).size).toBe(3);
    // unshuffled, the same limit gives the dataset order
    expect((await orderOf(ds, { batchSize: 4, limit: 6 })).flat()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('rejects bad options with the key', () => {
    expect(() => ds.numBatches({ batchSize: 0 })).toThrow('batch options for dataset "toy": batchSize must be an integer ≥ 1, got 0');
    expect(() => ds.numBatches({ batchSize: 2, epoch: -1 })).toThrow(/epoch must be an integer ≥ 0/);
  });
});

describe('batch contents', () => {
  it('float32 in [0,1] = uint8/255 with matching int32 labels', async () => {
    const it = ds.batches({ batchSize: 3, shuffle: true, seed: 1 })[Symbol.asyncIterator]();
    const b = (await it.next()).value as ImageBatch;
    expect(b.images.shape).toEqual([3, 2, 2, 1]);
    expect(b.images.dtype).toBe('float32');
    expect(b.labels!.dtype).toBe('int32');
    const px = await b.images.data();
    const idx = Array.from(b.indices);
    idx.forEach((i, k) => {
      for (let j = 0; j < 4; j++) expect(px[k * 4 + j]).toBeCloseTo((10 * i) / 255, 6);
    });
    expect(Array.from(await b.labels!.data())).toEqual(idx.map((i) => i % 3));
    disposeBatch(b);
    await it.return?.(undefined);
  });

  it('leaks no tensors over repeated epochs', async () => {
    await orderOf(ds, { batchSize: 4 });
    const before = tf.memory().numTensors;
    for (let e = 0; e < 3; e++) await orderOf(ds, { batchSize: 4, shuffle: true, epoch: e });
    expect(tf.memory().numTensors).toBe(before);
  });
});
