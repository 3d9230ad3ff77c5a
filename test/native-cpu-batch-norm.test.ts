// Training-mode batch norm on the native kernels (@selfsup/native-cpu's loops under the wasm
// backend, via batchNormTraining) against the existing tf-op path on the cpu backend, over
// rank 2 and 4, channels 1 to 512, odd sizes, batch 1 and > 1; and against a float64 reference
// where the data's mean is far from 0. Plus: off → the tf-op path, and no tensor or heap growth.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  batchNormTraining,
  NATIVE_BATCH_NORM_KERNEL_NAMES,
  nativeBatchNormActive,
  oneDnnKernelStats,
  selectBackend,
  setOneDnnKernels,
  type NativeCpuAddon,
} from '@selfsup/core';
import { onBoth, relErr, seeded } from './helpers/backend-compare';
import { nativeCpuForTests, selectNativeWasm } from './helpers/native-cpu';

const native = nativeCpuForTests();
const addon = (native.load.ok ? native.load.addon : null) as NativeCpuAddon | null;
const quiet = () => undefined;
const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
const EPS = 1e-3;

/** y, mean, variance, and the gradients dx, dγ, dβ of Σ y·r. */
function bnAll(shape: number[], seed: number, scale = 1, shift = 0): tf.Tensor[] {
  const c = shape[shape.length - 1];
  const x = seeded(shape, seed, scale, shift);
  const gamma = seeded([c], seed + 1, 0.5, 1) as tf.Tensor1D;
  const beta = seeded([c], seed + 2, 0.5) as tf.Tensor1D;
  const r = seeded(shape, seed + 3);
  const { y, mean, variance } = batchNormTraining(x, gamma, beta, EPS);
  const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(a, g as tf.Tensor1D, b as tf.Tensor1D, EPS).y, r));
  return [y, mean, variance, ...tf.grads(f)([x, gamma, beta])];
}
const OUTPUTS = ['y', 'mean', 'variance', 'dx', 'dγ', 'dβ'];

/** The same in float64 from the same data (the closed forms of batch_norm.ts). */
function bnReference(shape: number[], seed: number, scale: number, shift: number): Float64Array[] {
  const c = shape[shape.length - 1];
  const get = (s: number[], sd: number, sc = 1, sh = 0) => { const t = seeded(s, sd, sc, sh); const d = Float64Array.from(t.dataSync()); t.dispose(); return d; };
  const x = get(shape, seed, scale, shift);
  const g = get([c], seed + 1, 0.5, 1);
  const b = get([c], seed + 2, 0.5);
  const dy = get(shape, seed + 3);
  const rows = x.length / c;
  const mean = new Float64Array(c);
  const vr = new Float64Array(c);
  const db = new Float64Array(c);
  const dg = new Float64Array(c);
  x.forEach((v, i) => { mean[i % c] += v / rows; });
  x.forEach((v, i) => { vr[i % c] += (v - mean[i % c]) ** 2 / rows; });
  const rs = vr.map((v) => 1 / Math.sqrt(v + EPS));
  const y = x.map((v, i) => (v - mean[i % c]) * rs[i % c] * g[i % c] + b[i % c]);
  dy.forEach((d, i) => { db[i % c] += d; dg[i % c] += d * (x[i] - mean[i % c]) * rs[i % c]; });
  const dx = x.map((v, i) => {
    const k = i % c;
    const xhat = (v - mean[k]) * rs[k];
    return g[k] * rs[k] * (dy[i] - db[k] / rows - xhat * dg[k] / rows);
  });
  return [y, mean, vr, dx, dg, db];
}

// rank 2 and 4, C from 1 to 512, odd sizes, batch 1 and > 1
const shapes: number[][] = [
  [2, 1], [7, 3], [5, 17], [64, 512], [3, 1024],
  [1, 3, 3, 1], [1, 5, 7, 3], [2, 5, 7, 3], [3, 4, 4, 8], [3, 9, 11, 17], [2, 6, 6, 64], [2, 3, 3, 512], [1, 2, 2, 256], [4, 7, 7, 32],
];

describe.skipIf(native.skipReason !== undefined)('native batch norm (@selfsup/native-cpu) against the tf-op path', () => {
  beforeAll(async () => {
    await selectNativeWasm(native);
    expect(nativeBatchNormActive()).toBe(true);
  });

  it.each(shapes)('x [%s]: y, mean, variance, dx, dγ, dβ against the cpu backend', async (...shape) => {
    oneDnnKernelStats(true);
    const { cpu, wasm } = await onBoth(() => bnAll(shape, shape.length * 100 + shape[shape.length - 1]));
    cpu.forEach((ref, i) => expect(relErr(wasm[i], ref), OUTPUTS[i]).toBeLessThan(1e-4));
    const st = oneDnnKernelStats(true);
    // statistics twice (the forward and the gradient's forward), forward twice, backward once
    expect(st.native.SelfsupBatchNormStats, JSON.stringify(st)).toBe(2);
    expect(st.native.SelfsupBatchNormForward).toBe(2);
    expect(st.native.SelfsupBatchNormBackward).toBe(1);
  });

  it('a large tensor (threaded loops) and data far from zero mean, against float64', async () => {
    for (const [shape, scale, shift] of [[[16, 32, 32, 32], 1, 0], [[4, 9, 9, 24], 0.5, 50], [[300, 7], 1e-2, -3]] as [number[], number, number][]) {
      const got = (tf.tidy(() => bnAll(shape, 7, scale, shift)) as tf.Tensor[]).map((t) => { const d = Float32Array.from(t.dataSync()); t.dispose(); return d; });
      const ref = bnReference(shape, 7, scale, shift);
      ref.forEach((r, i) => expect(relErr(got[i], r), `${OUTPUTS[i]} of [${shape}] ±${scale} + ${shift}`).toBeLessThan(1e-4));
    }
  });

  it('batchNorm: false in setOneDnnKernels, or nativeKernels off: the tf-op path, the same numbers', async () => {
    const run = () => (tf.tidy(() => bnAll([3, 5, 5, 6], 31)) as tf.Tensor[]).map((t) => { const d = Float32Array.from(t.dataSync()); t.dispose(); return d; });
    oneDnnKernelStats(true);
    const nat = run();
    expect(oneDnnKernelStats(true).native.SelfsupBatchNormBackward).toBe(1);
    setOneDnnKernels(addon, { batchNorm: false });
    try {
      expect(nativeBatchNormActive()).toBe(false);
      for (const n of NATIVE_BATCH_NORM_KERNEL_NAMES) expect(tf.getKernel(n, 'wasm')).toBeUndefined();
      const ops = run();
      expect(oneDnnKernelStats(true).native.SelfsupBatchNormStats).toBeUndefined();
      ops.forEach((v, i) => expect(relErr(v, nat[i]), OUTPUTS[i]).toBeLessThan(1e-4));
      await selectBackend('wasm', { threads: 1, nativeKernels: 'off', log: quiet });
      expect(nativeBatchNormActive()).toBe(false);
      run().forEach((v, i) => expect(relErr(v, nat[i]), OUTPUTS[i]).toBeLessThan(1e-4));
      expect(oneDnnKernelStats(true).native).toEqual({});
    } finally {
      await selectNativeWasm(native);
    }
    expect(nativeBatchNormActive()).toBe(true);
  });

  it('the moving statistics\' update in the statistics call: tf.layers\' float32 rounding, bit for bit', () => {
    const fr = Math.fround;
    for (const [shape, momentum] of [[[4, 5, 5, 6], 0.99], [[3, 17], 0.9], [[2, 8, 8, 64], 0.1]] as [number[], number][]) {
      const c = shape[shape.length - 1];
      const x = seeded(shape, 61, 2, 0.5);
      const mm = seeded([c], 62, 0.3, 0.1) as tf.Tensor1D;
      const mv = seeded([c], 63, 0.2, 1) as tf.Tensor1D;
      const g = seeded([c], 64, 0.5, 1) as tf.Tensor1D;
      const b = seeded([c], 65, 0.5) as tf.Tensor1D;
      oneDnnKernelStats(true);
      const r = batchNormTraining(x, g, b, EPS, { moving: { mean: mm, variance: mv, momentum } });
      const plain = batchNormTraining(x, g, b, EPS);
      const st = oneDnnKernelStats(true);
      expect(st.native.SelfsupBatchNormStats, JSON.stringify(st)).toBe(2);
      const f = fr(1 - momentum);
      const [m, v, m0, v0] = [r.mean, r.variance, mm, mv].map((t) => Float32Array.from(t.dataSync()));
      const ref = (old: Float32Array, val: Float32Array) => old.map((o, i) => fr(o - fr(fr(o - val[i]) * f)));
      expect(Array.from(r.movingMean!.dataSync())).toEqual(Array.from(ref(m0, m)));
      expect(Array.from(r.movingVariance!.dataSync())).toEqual(Array.from(ref(v0, v)));
      // the batch statistics and y are those of the call without moving statistics
      expect(Array.from(m)).toEqual(Array.from(plain.mean.dataSync()));
      expect(Array.from(r.y.dataSync())).toEqual(Array.from(plain.y.dataSync()));
      tf.dispose([x, mm, mv, g, b, r.y, r.mean, r.variance, r.movingMean!, r.movingVariance!, plain.y, plain.mean, plain.variance]);
    }
    const x = seeded([2, 3], 1);
    const one = tf.ones([3]) as tf.Tensor1D;
    expect(() => tf.engine().runKernel('SelfsupBatchNormStats', { x, movingMean: one })).toThrow('movingMean, movingVariance and the attr momentum go together');
    expect(() => batchNormTraining(x, one, one, EPS, { moving: { mean: tf.ones([2]) as tf.Tensor1D, variance: one, momentum: 0.9 } })).toThrow('moving statistics [2] and [3] do not match x [2,3]');
    tf.dispose([x, one]);
  });

  it('an addon that throws: an error naming the kernel, and no heap tensor left behind', () => {
    const be = tf.backend() as unknown as { numDataIds(): number };
    const failing = { conv: addon!.conv, matmul: addon!.matmul, setThreads: addon!.setThreads, batchNorm: () => { throw new Error('boom'); } };
    const x = seeded([2, 3, 3, 4], 41);
    const ids = be.numDataIds();
    setOneDnnKernels(failing);
    try {
      expect(() => tf.engine().runKernel('SelfsupBatchNormStats', { x })).toThrow('SelfsupBatchNormStats: boom');
      expect(be.numDataIds()).toBe(ids);
    } finally {
      setOneDnnKernels(addon);
    }
    x.dispose();
  });

  it('200 training steps through batchNormTraining: no tensor or wasm heap growth', () => {
    const x = seeded([8, 6, 6, 16], 51);
    const gamma = tf.variable(tf.ones([16]), true, 'bn_test_gamma');
    const beta = tf.variable(tf.zeros([16]), true, 'bn_test_beta');
    const w = tf.variable(seeded([3, 3, 16, 16], 52, 0.3), true, 'bn_test_w');
    const opt = tf.train.sgd(0.05);
    const step = () => tf.tidy(() => opt.minimize(() => {
      const h = tf.conv2d(x as tf.Tensor4D, w as unknown as tf.Tensor4D, 1, 'same');
      const { y } = batchNormTraining(h, gamma as unknown as tf.Tensor1D, beta as unknown as tf.Tensor1D, EPS);
      return tf.mean(tf.square(tf.sub(tf.relu(y), 0.5))) as tf.Scalar;
    }, true)!.dataSync()[0]);
    const first = step();
    for (let i = 0; i < 4; i++) step();
    oneDnnKernelStats(true);
    const tensors = tf.memory().numTensors;
    const heap = heapBytes();
    let last = first;
    for (let i = 0; i < 200; i++) last = step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(heapBytes()).toBe(heap);
    expect(last).toBeLessThan(first);
    const st = oneDnnKernelStats(true);
    expect(st.native.SelfsupBatchNormStats).toBe(200);
    expect(st.native.SelfsupBatchNormBackward).toBe(200);
    opt.dispose();
    tf.dispose([x, gamma, beta, w]);
  });
});
