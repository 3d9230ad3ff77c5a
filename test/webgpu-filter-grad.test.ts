// selfsup's webgpu Conv2DBackpropFilter (im2col + one matMul, in chunks of images) is plain tf
// ops: here it runs on the cpu backend against the cpu backend's own filter gradient (a direct
// loop over batch × pixels, computed independently). test/webgpu-parity.test.ts checks it on
// the webgpu adapter.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { im2colFilterGradient, selectBackend, type FilterGradAttrs } from '@selfsup/core';
import { relErr, seeded } from './helpers/backend-compare';

type Pad = FilterGradAttrs['pad'];
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: number | [number, number];
  pad: Pad;
  maxValues?: number;
}

const cases: Case[] = [
  { x: [2, 7, 5, 3], k: [3, 3], co: 4, s: 1, pad: 'same' },
  { x: [2, 7, 5, 3], k: [3, 3], co: 4, s: 2, pad: 'same' },
  { x: [2, 7, 5, 3], k: [3, 3], co: 4, s: 1, pad: 'valid' },
  { x: [2, 7, 5, 3], k: [3, 3], co: 4, s: 2, pad: 'valid' },
  { x: [3, 6, 6, 5], k: [1, 1], co: 7, s: 2, pad: 'same' },
  { x: [2, 9, 8, 4], k: [5, 3], co: 6, s: [2, 1], pad: 'same' },
  { x: [2, 8, 8, 4], k: [3, 3], co: 5, s: 2, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { x: [1, 6, 7, 2], k: [3, 3], co: 3, s: 1, pad: 1 },
  // the main job's stride-2 conv at 28×28, and a chunked run: 5 images, 2 per chunk
  { x: [4, 28, 28, 8], k: [3, 3], co: 16, s: 2, pad: 'same' },
  { x: [5, 7, 7, 32], k: [3, 3], co: 32, s: 1, pad: 'same', maxValues: 2 * 7 * 7 * 9 * 32 },
];

describe('im2col filter gradient (the webgpu Conv2DBackpropFilter) against the cpu kernel', () => {
  beforeAll(async () => {
    await selectBackend('cpu', { log: () => undefined });
  });

  it.each(cases)('x %j', (c) => {
    const filterShape: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.co];
    const x = seeded(c.x, 1) as tf.Tensor4D;
    const y = tf.conv2d(x, tf.zeros(filterShape) as tf.Tensor4D, c.s, c.pad as 'same');
    const dy = seeded(y.shape, 2) as tf.Tensor4D;
    const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC' as const, filterShape };
    const want = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    const before = tf.memory().numTensors;
    const got = im2colFilterGradient(x, dy, attrs, c.maxValues);
    expect(tf.memory().numTensors).toBe(before + 1); // the result, nothing else
    expect(got.shape).toEqual(filterShape);
    expect(relErr(got.dataSync(), want.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, y, dy, want, got]);
  });
});
