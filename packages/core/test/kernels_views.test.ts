import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { tileInto } from '../src/backend/kernels/reductions';
import { onBoth, relErr, seeded } from '../../../test/helpers/backend-compare';

beforeAll(async () => {
  await selectBackend('wasm', { threads: 2, nativeKernels: 'off', log: () => undefined });
});

describe('heap-view Slice / Unpack / SplitV / Identity', () => {
  const slices: [number[], number[], number[]][] = [
    [[7], [2], [4]],
    [[4, 6], [1, 2], [2, 3]],
    [[3, 4, 5], [1, 0, 0], [2, 4, 5]],
    [[2, 5, 6, 7], [0, 1, 1, 0], [2, 3, 4, 7]],
    [[2, 5, 6, 7], [1, 0, 0, 2], [1, 5, 6, 3]],
    [[3, 4, 5, 6, 7], [1, 0, 2, 0, 3], [2, 4, 2, 6, 3]],
  ];
  it.each(slices)('slice of %j at %j size %j equals the cpu result', async (shape, begin, size) => {
    const { cpu, wasm } = await onBoth(() => tf.slice(seeded(shape, 1), begin, size));
    expect(Array.from(wasm[0])).toEqual(Array.from(cpu[0]));
  });

  it('slices int32 and bool tensors', () => {
    const i = tf.tensor2d([[1, 2, 3], [4, 5, 6]], [2, 3], 'int32');
    expect(tf.slice(i, [0, 1], [2, 2]).arraySync()).toEqual([[2, 3], [5, 6]]);
    const b = tf.tensor1d([true, false, true, true], 'bool');
    expect(Array.from(tf.slice(b, [1], [2]).dataSync())).toEqual([0, 1]);
  });

  it('unstacks and splits without leaking', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const x = seeded([4, 3, 5], 2);
      return [...tf.unstack(x, 1), ...tf.split(x, [1, 3, 1], 2), ...tf.split(x, 2, 0)];
    });
    expect(wasm.length).toBe(3 + 3 + 2);
    wasm.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(cpu[i])));
    const x = seeded([4, 3, 5], 2);
    const before = tf.memory().numTensors;
    const parts = tf.unstack(x);
    expect(tf.memory().numTensors).toBe(before + 4);
    expect(parts[2].shape).toEqual([3, 5]);
    tf.dispose([...parts, x]);
  });

  it('clones without copying, and the clone outlives the original', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect(y.dataId).toBe(x.dataId);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
  });

  it('casts to the same dtype without copying (the Identity gradient\'s cast); other casts convert', () => {
    const x = tf.tensor1d([1.5, -2, 3]);
    const y = tf.cast(x, 'float32');
    expect(y.dataId).toBe(x.dataId);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1.5, -2, 3]);
    const i = tf.cast(y, 'int32');
    expect(i.dataId).not.toBe(y.dataId);
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.dataSync())).toEqual([1, -2, 3]);
    // to bool: x ≠ 0, as on the cpu backend (the stock wasm kernel kept 2 as 2, -0.5 as 0)
    const b = tf.cast(tf.tensor1d([0, 2, -3, 1], 'int32'), 'bool');
    expect(b.dtype).toBe('bool');
    expect(Array.from(b.dataSync())).toEqual([0, 1, 1, 1]);
    const bf = tf.cast(tf.tensor1d([0, 2.5, -0.5, -0]), 'bool');
    expect(Array.from(bf.dataSync())).toEqual([0, 1, 1, 0]);
    const nb = tf.logicalNot(bf);
    expect(Array.from(nb.dataSync())).toEqual([1, 0, 0, 1]);
    tf.dispose([bf, nb]);
    // the gradient through a clone is dy, with no copy
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.clone(a), tf.tensor1d([2, 3]))))(tf.tensor1d([1, 1]));
    expect(Array.from(g.dataSync())).toEqual([2, 3]);
    tf.dispose([y, i, b, g]);
  });
});

describe('leading-axes Sum / Mean', () => {
  const cases: [number[], number[], boolean][] = [
    [[5, 3, 4, 17], [0, 1, 2], false],
    [[5, 3, 4, 17], [0, 1, 2], true],
    [[37, 9], [0], false],
    [[6, 5, 7], [1, 0], false],
    [[4, 6, 8], [1, 2], false], // not leading: stock kernel
    [[4, 6, 8], [0, 1, 2], false], // everything: stock kernel
  ];
  it.each(cases)('shape %j axes %j keepDims %s matches cpu', async (shape, axes, keepDims) => {
    const { cpu, wasm } = await onBoth(() => {
      const x = tf.add(seeded(shape, 3), 0.25);
      return [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
    });
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-5);
    expect(relErr(wasm[1], cpu[1])).toBeLessThan(1e-5);
  });

  it('keeps shapes and dtypes, and runs through average pooling', async () => {
    const x = seeded([3, 4, 5, 16], 4);
    expect(tf.sum(x, [0, 1, 2], true).shape).toEqual([1, 1, 1, 16]);
    expect(tf.mean(x, [0, 1]).shape).toEqual([5, 16]);
    expect(tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 0).dtype).toBe('int32');
    expect(Array.from(tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 0).dataSync())).toEqual([4, 6]);
    const info = await tf.profile(() => tf.sum(x, [0, 1, 2]));
    expect(info.kernelNames).toContain('AvgPool');
    x.dispose();
  });
});

describe('Tile', () => {
  it('tiles by block doubling (pure function)', () => {
    const dst = new Float32Array(2 * 3 * 4);
    tileInto(Float32Array.from([1, 2, 3, 4]), [1, 1, 4], [2, 3, 1], dst);
    expect(Array.from(dst)).toEqual(Array.from({ length: 6 }, () => [1, 2, 3, 4]).flat());
    const d2 = new Int32Array(4 * 6);
    tileInto(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], [2, 2], d2);
    // [[1,2,3],[4,5,6]] tiled [2,2]
    expect(Array.from(d2)).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
  });

  const cases: [number[], number[]][] = [
    [[1, 1, 1, 20], [3, 4, 5, 1]],
    [[2, 1, 17], [2, 3, 1]],
    [[2, 3], [2, 2]], // short inner runs: stock kernel
    [[16], [3]],
  ];
  it.each(cases)('shape %j reps %j matches cpu', async (shape, reps) => {
    const { cpu, wasm } = await onBoth(() => tf.tile(seeded(shape, 5), reps));
    expect(Array.from(wasm[0])).toEqual(Array.from(cpu[0]));
  });

  it('tiles int32 and bool', () => {
    expect(tf.tile(tf.tensor2d([[1, 2]], [1, 2], 'int32'), [2, 1]).arraySync()).toEqual([[1, 2], [1, 2]]);
    const b = tf.tile(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3 === 0), 'bool'), [2]);
    expect(b.dtype).toBe('bool');
    expect(b.dataSync()[15]).toBe(1);
    expect(b.dataSync()[16 + 3]).toBe(1);
  });
});

describe('tf.layers.batchNormalization in training mode', () => {
  it.each([[16], [4]])('with %i channels gives the cpu output and gradients', async (c) => {
    const bn = tf.layers.batchNormalization({ gammaInitializer: 'ones' });
    bn.build([null, 5, 6, c]);
    bn.setWeights(bn.getWeights().map((w, i) => (i === 3 ? tf.add(tf.abs(seeded(w.shape, 20 + i)), 0.5) : seeded(w.shape, 20 + i))));
    const x = tf.add(tf.mul(seeded([3, 5, 6, c], 9), 2), 0.7);
    const r = seeded([3, 5, 6, c], 10);
    const { cpu, wasm } = await onBoth(() => {
      const f = () => tf.sum(tf.mul(bn.apply(x, { training: true }) as tf.Tensor, r)) as tf.Scalar;
      const { value, grads } = tf.variableGrads(f);
      const xGrad = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(bn.apply(xx, { training: true }) as tf.Tensor, r)))(x);
      return [value, bn.apply(x, { training: true }) as tf.Tensor, xGrad, ...Object.keys(grads).sort().map((k) => grads[k])];
    });
    expect(wasm.length).toBe(3 + 2); // value, y, dx, dgamma, dbeta
    cpu.forEach((ref, i) => expect(relErr(wasm[i], ref)).toBeLessThan(1e-4));
    tf.dispose([x, r]);
    tf.dispose(bn.getWeights());
  });
});

describe('heap GatherV2', () => {
  // [x shape, indices, axis]
  const cases: [number[], number[] | number[][], number][] = [
    [[5, 2, 3, 4], [4, 0, 0, 2], 0], // samples of a batch, with a repeat (blocks ≥ 16)
    [[6, 3], [5, 1], 0], // short rows (element loop)
    [[2, 7, 3], [[6, 0], [3, 3]], 1], // 2-D indices along a middle axis
    [[3, 9], [8, 0, 4], -1], // last axis
    [[4, 5], [], 0], // no indices
  ];
  it.each(cases)('gather of %j at %j on axis %i equals the cpu result', async (shape, idx, axis) => {
    const { cpu, wasm } = await onBoth(() => tf.gather(seeded(shape, 3), tf.tensor(idx as number[], undefined, 'int32'), axis));
    expect(Array.from(wasm[0])).toEqual(Array.from(cpu[0]));
  });

  it('copies int32 bits exactly, keeps the shape, and leaves no tensors behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d([[2147483647, -1], [-2147483648, 7]], [2, 2], 'int32');
    const i = tf.tensor1d([1, 1, 0], 'int32');
    const before = tf.memory().numTensors;
    const g = tf.gather(x, i);
    expect(g.dtype).toBe('int32');
    expect(g.arraySync()).toEqual([[-2147483648, 7], [-2147483648, 7], [2147483647, -1]]);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, i]);
  });
});
