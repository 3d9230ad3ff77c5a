// selfsup's webgpu Conv2DBackpropFilter (im2col + one matMul, in chunks of images) is plain tf
// ops: here it runs on the cpu backend against the cpu backend's own filter gradient (a direct
// loop over batch × pixels, computed independently). test/webgpu-parity.test.ts checks it on
// the webgpu adapter.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { directChannelSumChunk, directConvUnsupported, directFilterGradChunk, im2colFilterGradient, selectBackend, stockFilterGradientChunk, webgpuFilterGradientPath, type FilterGradAttrs } from '@selfsup/core';
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

describe('the direct convolution programs (webgpu-direct-conv.ts): what they take, and image chunks of the filter gradient', () => {
  const info = (x: [number, number, number, number], f: [number, number, number, number], s: number, pad: 'same' | 'valid', dil = 1, fmt: 'channelsLast' | 'channelsFirst' = 'channelsLast') =>
    tf.backend_util.computeConv2DInfo(x, f, s, dil, pad, undefined, false, fmt);

  it('takes NHWC without dilations, channels in 4s (output for forward and dw, input for dx), loops ≤ 32,768', () => {
    expect(directConvUnsupported(info([2, 8, 8, 3], [3, 3, 3, 8], 1, 'same'), 'forward')).toBeNull();
    expect(directConvUnsupported(info([2, 8, 8, 3], [3, 3, 3, 8], 1, 'same'), 'filter')).toBeNull();
    expect(directConvUnsupported(info([2, 8, 8, 3], [3, 3, 3, 8], 1, 'same'), 'input')).toBe('input channels not a multiple of 4');
    expect(directConvUnsupported(info([2, 8, 8, 8], [3, 3, 8, 6], 1, 'same'), 'forward')).toBe('output channels not a multiple of 4');
    expect(directConvUnsupported(info([2, 8, 8, 8], [3, 3, 8, 6], 1, 'same'), 'input')).toBeNull();
    expect(directConvUnsupported(info([2, 8, 8, 8], [3, 3, 8, 8], 1, 'same', 2), 'forward')).toBe('dilations');
    expect(directConvUnsupported(info([2, 8, 8, 8], [3, 3, 8, 8], 1, 'same', 1, 'channelsFirst'), 'forward')).toBe('NCHW');
    // kh·kw·ci per output: 3·3·4096 = 36,864 > 32,768; 3·3·3640 = 32,760 fits
    expect(directConvUnsupported(info([1, 4, 4, 4096], [3, 3, 4096, 8], 1, 'same'), 'forward')).toBe('filter too large');
    expect(directConvUnsupported(info([1, 4, 4, 3640], [3, 3, 3640, 8], 1, 'same'), 'forward')).toBeNull();
    // one image of 184×184 output pixels (33,856) is more than a filter-gradient invocation may loop over
    expect(directConvUnsupported(info([1, 184, 184, 4], [3, 3, 4, 8], 1, 'same'), 'filter')).toBe('output image too large');
    expect(directConvUnsupported(info([1, 181, 181, 4], [3, 3, 4, 8], 1, 'same'), 'filter')).toBeNull();
  });

  it('chunks the filter gradient so that images × output pixels ≤ 32,768 and ~1,024 invocations run', () => {
    // the main job's first conv: 256 images of 28×28, 3×3×1×8: 9 invocations per chunk → 114 chunks wanted → 3 images each
    expect(directFilterGradChunk(info([256, 28, 28, 1], [3, 3, 1, 8], 1, 'same'))).toBe(3);
    // 3 input channels (groups of 1) and 12 output channels (vec4 groups of 1): 9·3·3 = 81 per chunk → 13 chunks wanted
    expect(directFilterGradChunk(info([26, 5, 5, 3], [3, 3, 3, 12], 1, 'same'))).toBe(2);
    // 4×4×64 → 64 at 256 images: 9·16·8 = 1,152 invocations per chunk: one chunk would do, the loop limit allows 2,048 images
    expect(directFilterGradChunk(info([256, 4, 4, 64], [3, 3, 64, 64], 1, 'same'))).toBe(256);
    // the loop limit binds: 3×3, 64 → 64, 100 images of 32×32 (1,024 pixels): one chunk would do, 32 images at most
    expect(directFilterGradChunk(info([100, 32, 32, 64], [3, 3, 64, 64], 1, 'same'))).toBe(32);
    // with a 1×1 filter (128 invocations per chunk) 8 chunks are wanted: 13 images each
    expect(directFilterGradChunk(info([100, 32, 32, 64], [1, 1, 64, 64], 1, 'same'))).toBe(13);
    expect(directFilterGradChunk(info([3, 7, 7, 8], [3, 3, 8, 16], 1, 'same'))).toBe(1);
  });
});

describe('the direct channel sum (batch norm\'s reductions on webgpu): rows per chunk', () => {
  it('aims at ~512 invocations, 64 rows at least (each pass shrinks the partial sums 64-fold), 32,768 at most', () => {
    // the main job's 256×28×28×8 activations: 2 invocations per chunk → 256 chunks of 784 rows, then 256 → 4 → 1
    expect(directChannelSumChunk(256 * 28 * 28, 8)).toBe(784);
    expect(directChannelSumChunk(256, 8)).toBe(64);
    expect(directChannelSumChunk(4, 8)).toBe(4);
    // 1,024 channels (a projector's bias gradient over 256 rows): 256 invocations per chunk → 2 wanted, but 64 rows at least
    expect(directChannelSumChunk(256, 1024)).toBe(128);
    expect(directChannelSumChunk(100, 1024)).toBe(64);
    // 4 channels, 10 million rows: 512 chunks would be 19,532 rows each; 40 million rows: capped at 32,768
    expect(directChannelSumChunk(10_000_000, 4)).toBe(19532);
    expect(directChannelSumChunk(40_000_000, 4)).toBe(32768);
  });
});
