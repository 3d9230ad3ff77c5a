// selfsup's webgpu Conv2DBackpropFilter (im2col + one matMul, in chunks of images) is plain tf
// ops: here it runs on the cpu backend against the cpu backend's own filter gradient (a direct
// loop over batch × pixels, computed independently). test/webgpu-parity.test.ts checks it on
// the webgpu adapter.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { im2colFilterGradient, selectBackend, stockFilterGradientChunk, webgpuFilterGradientPath, type FilterGradAttrs } from '@selfsup/core';
import { relErr, seeded } from './helpers/backend-compare';

type Pad = FilterGradAttrs['pad'];
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: number | [number, number];
  pad: Pad;
  maxValues?: number;
  maxRows?: number;
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
  // the matMul's shared dimension in blocks: 3 images × 49 pixels = 147 rows in blocks of 40 (the last 27)
  { x: [3, 7, 7, 8], k: [3, 3], co: 8, s: 1, pad: 'same', maxRows: 40 },
  // both: chunks of 2 images (98 rows), each in blocks of 40
  { x: [5, 7, 7, 8], k: [3, 3], co: 8, s: 1, pad: 'same', maxValues: 2 * 7 * 7 * 9 * 8, maxRows: 40 },
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
    const got = im2colFilterGradient(x, dy, attrs, c.maxValues, c.maxRows);
    expect(tf.memory().numTensors).toBe(before + 1); // the result, nothing else
    expect(got.shape).toEqual(filterShape);
    expect(relErr(got.dataSync(), want.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, y, dy, want, got]);
  });
});

describe('which filter gradient runs on webgpu, and in how many images per call', () => {
  const attrs = (filterShape: [number, number, number, number], more: Partial<FilterGradAttrs> = {}): FilterGradAttrs => ({ strides: 1, pad: 'same', filterShape, ...more });
  // the stock kernel loops over images × output pixels per invocation: at most 32,768 per call
  it('splits the stock kernel\'s batch so that images × output pixels stay ≤ 32,768', () => {
    expect(stockFilterGradientChunk([256, 28, 28, 8], attrs([3, 3, 1, 8]))).toBe(41); // 41·784 = 32,144; 42·784 = 32,928
    expect(stockFilterGradientChunk([256, 14, 14, 8], attrs([3, 3, 4, 8]))).toBe(167);
    expect(stockFilterGradientChunk([40, 28, 28, 8], attrs([3, 3, 1, 8]))).toBe(40); // all in one call
    expect(stockFilterGradientChunk([8, 8, 200, 200], attrs([3, 3, 1, 8], { dataFormat: 'NCHW' }))).toBe(1); // 40,000 pixels: one image at a time
  });
  it('takes the stock kernel for small filters, im2col from 1,024 weights or when one image has too many output pixels', () => {
    expect(webgpuFilterGradientPath([256, 28, 28, 8], attrs([3, 3, 8, 8]))).toBe('stock'); // 576 weights
    expect(webgpuFilterGradientPath([256, 14, 14, 16], attrs([3, 3, 8, 16]))).toBe('im2col'); // 1,152 weights
    expect(webgpuFilterGradientPath([2, 181, 181, 4], attrs([3, 3, 1, 4]))).toBe('stock'); // 32,761 pixels
    expect(webgpuFilterGradientPath([2, 182, 182, 4], attrs([3, 3, 1, 4]))).toBe('im2col'); // 33,124 pixels
    expect(webgpuFilterGradientPath([2, 4, 182, 182], attrs([3, 3, 1, 4], { dataFormat: 'NCHW' }))).toBe('stock'); // im2col covers NHWC only
    expect(webgpuFilterGradientPath([2, 14, 14, 16], attrs([3, 3, 32, 16], { dilations: 2 }))).toBe('stock');
  });
});
