// ReLU, ReLU's gradient, Add, Multiply and PadV2 on @selfsup/native-cpu's loops under the wasm backend: the
// same bits as the stock wasm kernels (and as plain-JS references written here), fallbacks for
// what the loops do not cover, the stock path when they are off, a BYOL step with the same
// bits either way, and no tensor or heap growth.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  NATIVE_ADD_RELU_KERNEL,
  NATIVE_ELEMENTWISE_KERNEL_NAMES,
  NATIVE_RELU_GRAD_KERNEL,
  oneDnnKernelStats,
  selectBackend,
  setOneDnnKernels,
  type NativeCpuAddon,
} from '@selfsup/core';
import { EmaUpdateCallback, TargetInitCallback } from '@selfsup/callbacks';
import { ByolExperiment } from '@selfsup/byol';
import { seeded } from './helpers/backend-compare';
import { nativeCpuForTests, selectNativeWasm } from './helpers/native-cpu';

const native = nativeCpuForTests();
const addon = (native.load.ok ? native.load.addon : null) as NativeCpuAddon | null;
const quiet = () => undefined;
const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

/** Data with exact zeros, negative zeros and both signs. */
function mixed(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => {
    const t = seeded(shape, seed);
    const v = Float32Array.from(t.dataSync());
    for (let i = 0; i < v.length; i += 7) v[i] = 0;
    for (let i = 3; i < v.length; i += 11) v[i] = -0;
    return tf.tensor(v, shape);
  });
}

/** y, and dx for the loss Σ relu(x)·r. */
function reluAndGrad(shape: number[], seed: number): Float32Array[] {
  const out = tf.tidy(() => {
    const x = mixed(shape, seed);
    const r = seeded(shape, seed + 1);
    const y = tf.relu(x);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), r)))(x);
    return [y, dx];
  });
  const data = out.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(out);
  return data;
}

/** The same in plain JS: y = max(x, 0) with −0 → +0, dx = r·step(x) (so r·0 = −0 where r < 0). */
function reluReference(shape: number[], seed: number): Float32Array[] {
  const x = tf.tidy(() => Float32Array.from(mixed(shape, seed).dataSync()));
  const r = tf.tidy(() => Float32Array.from(seeded(shape, seed + 1).dataSync()));
  return [x.map((v) => (v > 0 ? v : 0)), x.map((v, i) => r[i] * (v > 0 ? 1 : 0))];
}

/** Constant padding in plain JS over any rank. */
function padReference(x: Float32Array, shape: number[], pads: [number, number][], value: number): Float32Array {
  const outShape = shape.map((d, i) => d + pads[i][0] + pads[i][1]);
  const size = outShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size).fill(value);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const outStrides = outShape.map((_, i) => outShape.slice(i + 1).reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    for (let k = 0; k < shape.length; k++) o += (Math.floor(i / strides[k]) % shape[k] + pads[k][0]) * outStrides[k];
    out[o] = x[i];
  }
  return out;
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && bits(a).every((v, i) => v === bits(b)[i]);

const reluShapes: number[][] = [[1], [5], [3, 7], [2, 5, 5, 3], [4, 28, 28, 8], [2, 64, 64, 16], [128, 33]];

const padCases: { shape: number[]; pads: [number, number][]; value?: number }[] = [
  { shape: [2, 28, 28, 8], pads: [[0, 0], [1, 1], [1, 1], [0, 0]] }, // the stride-2 convs' padding
  { shape: [2, 7, 7, 32], pads: [[0, 0], [0, 1], [1, 0], [0, 0]] },
  { shape: [3, 5, 4, 3], pads: [[1, 2], [0, 3], [2, 0], [1, 2]], value: -1.5 }, // every axis, channels included
  { shape: [8, 56, 56, 16], pads: [[0, 0], [3, 3], [3, 3], [0, 0]] }, // threaded
  { shape: [4, 9], pads: [[2, 1], [0, 5]], value: 0.25 },
  { shape: [6], pads: [[3, 4]] },
  { shape: [2, 3, 4], pads: [[0, 0], [1, 0], [0, 2]] },
];

describe.skipIf(native.skipReason !== undefined)('native ReLU, ReLU gradient, Add and PadV2 (@selfsup/native-cpu)', () => {
  beforeAll(async () => {
    await selectNativeWasm(native);
    expect(tf.getKernel(NATIVE_RELU_GRAD_KERNEL, 'wasm')).toBeDefined();
  });

  it.each(reluShapes)('ReLU and its gradient on [%s]: the stock kernels\' bits, one native call each', (...shape) => {
    oneDnnKernelStats(true);
    const nat = reluAndGrad(shape, shape.length * 31 + shape[0]);
    const st = oneDnnKernelStats(true);
    expect(st.native.Relu, JSON.stringify(st)).toBe(2); // the forward, and the gradient's forward
    expect(st.native[NATIVE_RELU_GRAD_KERNEL]).toBe(1);
    const ref = reluReference(shape, shape.length * 31 + shape[0]);
    setOneDnnKernels(addon, { elementwise: false });
    try {
      const stock = reluAndGrad(shape, shape.length * 31 + shape[0]);
      expect(oneDnnKernelStats(true).native.Relu).toBeUndefined();
      for (let i = 0; i < 2; i++) {
        expect(sameBits(nat[i], stock[i]), `${i ? 'dx' : 'y'} against the stock kernels`).toBe(true);
        expect(sameBits(nat[i], ref[i]), `${i ? 'dx' : 'y'} against the JS reference`).toBe(true);
      }
    } finally {
      setOneDnnKernels(addon);
    }
  });

  it.each(padCases.map((c) => [c.shape.join('x'), c] as const))('PadV2 %s: the JS reference\'s bits and the stock kernel\'s, then its gradient', (_, c) => {
    const x = seeded(c.shape, c.shape.length * 7 + c.shape[0]);
    const value = c.value ?? 0;
    oneDnnKernelStats(true);
    const y = tf.pad(x, c.pads, value);
    expect(oneDnnKernelStats(true).native.PadV2).toBe(1);
    const got = Float32Array.from(y.dataSync());
    expect(y.shape).toEqual(c.shape.map((d, i) => d + c.pads[i][0] + c.pads[i][1]));
    expect(sameBits(got, padReference(Float32Array.from(x.dataSync()), c.shape, c.pads, value))).toBe(true);
    setOneDnnKernels(addon, { elementwise: false });
    try {
      const stock = tf.pad(x, c.pads, value);
      expect(sameBits(got, Float32Array.from(stock.dataSync()))).toBe(true);
      stock.dispose();
    } finally {
      setOneDnnKernels(addon);
    }
    // the gradient (a slice of dy) is unchanged: the sum of dy over the unpadded region
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.pad(a, c.pads, value), tf.onesLike(y))))(x);
    expect(g.shape).toEqual(c.shape);
    expect(Array.from(g.dataSync()).every((v) => v === 1)).toBe(true);
    tf.dispose([x, y, g]);
  });

  it.each(reluShapes)('Add on [%s]: the stock kernel\'s bits and the JS sums, one native call; broadcasting goes to the stock kernel', (...shape) => {
    const a = mixed(shape, 71);
    const b = seeded(shape, 72, 3);
    oneDnnKernelStats(true);
    const y = tf.add(a, b);
    expect(oneDnnKernelStats(true).native.Add).toBe(1);
    const got = Float32Array.from(y.dataSync());
    const [av, bv] = [a, b].map((t) => Float32Array.from(t.dataSync()));
    expect(sameBits(got, av.map((v, i) => Math.fround(v + bv[i])))).toBe(true);
    setOneDnnKernels(addon, { elementwise: false });
    try {
      const stock = tf.add(a, b);
      expect(sameBits(got, Float32Array.from(stock.dataSync()))).toBe(true);
      stock.dispose();
    } finally {
      setOneDnnKernels(addon);
    }
    // broadcasting goes to the stock kernel, not counted as a fallback
    const row = tf.scalar(0.5);
    const bc = tf.add(a, row);
    expect(sameBits(Float32Array.from(bc.dataSync()), av.map((v) => Math.fround(v + 0.5)))).toBe(true);
    const st = oneDnnKernelStats(true);
    expect(st.native.Add).toBeUndefined();
    expect(st.fallback.Add).toBeUndefined();
    tf.dispose([a, b, y, row, bc]);
  });

  // [a, b]: b is a's shape, one value per row, or a scalar; either side may be the small one
  const mulCases: [number[], number[]][] = [
    [[5, 3], [5, 3]], [[128, 128], [128, 1]], [[128, 1], [128, 128]], [[64, 28, 28, 1], [64, 1, 1, 1]], [[6, 4, 4, 8], []],
    [[2, 3], [1]], [[4, 9, 9, 16], [4, 9, 1, 1]], [[256, 28, 28, 8], [256, 28, 28, 8]],
  ];
  it.each(mulCases.map((c) => [`[${c[0]}] · [${c[1]}]`, c] as const))('Multiply %s: the stock kernel\'s bits, one native call', (_, [sa, sb]) => {
    const a = mixed(sa, 81);
    const b = seeded(sb, 82, 2);
    oneDnnKernelStats(true);
    const y = tf.mul(a, b);
    expect(oneDnnKernelStats(true).native.Multiply).toBe(1);
    const got = Float32Array.from(y.dataSync());
    setOneDnnKernels(addon, { elementwise: false });
    try {
      const stock = tf.mul(a, b);
      expect(stock.shape).toEqual(y.shape);
      expect(sameBits(got, Float32Array.from(stock.dataSync()))).toBe(true);
      stock.dispose();
    } finally {
      setOneDnnKernels(addon);
    }
    // a plain-JS product for the row case
    const [big, small] = a.size >= b.size ? [a, b] : [b, a];
    const bv = Float32Array.from(big.dataSync());
    const sv = Float32Array.from(small.dataSync());
    const inner = bv.length / sv.length;
    expect(sameBits(got, bv.map((v, i) => Math.fround(v * sv[Math.floor(i / inner)])))).toBe(true);
    tf.dispose([a, b, y]);
  });

  it('Multiply with channel broadcasting, int32 or mixed shapes: the stock kernel, uncounted', () => {
    const x = seeded([2, 3, 4], 91);
    oneDnnKernelStats(true);
    const c = tf.mul(x, seeded([4], 92));
    const m = tf.mul(seeded([2, 1, 4], 93), seeded([1, 3, 1], 94));
    const i = tf.mul(tf.tensor1d([2, 3], 'int32'), tf.tensor1d([4, 5], 'int32'));
    expect(Array.from(i.dataSync())).toEqual([8, 15]);
    expect(c.shape).toEqual([2, 3, 4]);
    expect(m.shape).toEqual([2, 3, 4]);
    const st = oneDnnKernelStats(true);
    expect(st.native.Multiply).toBeUndefined();
    expect(st.fallback.Multiply).toBeUndefined();
    tf.dispose([x, c, m, i]);
  });

  it('falls back to the stock kernels for int32 and rank 5, with the stock results', () => {
    oneDnnKernelStats(true);
    const i = tf.tensor1d([-2, 0, 3], 'int32');
    expect(Array.from(tf.relu(i).dataSync())).toEqual([0, 0, 3]);
    expect(Array.from(tf.pad(i, [[1, 1]], 9).dataSync())).toEqual([9, -2, 0, 3, 9]);
    expect(Array.from(tf.add(i, i).dataSync())).toEqual([-4, 0, 6]);
    const x5 = seeded([1, 2, 2, 2, 2], 3);
    const p5 = tf.pad(x5, [[0, 0], [0, 0], [1, 0], [0, 0], [0, 1]]);
    expect(p5.shape).toEqual([1, 2, 3, 2, 3]);
    expect(sameBits(Float32Array.from(p5.dataSync()), padReference(Float32Array.from(x5.dataSync()), x5.shape, [[0, 0], [0, 0], [1, 0], [0, 0], [0, 1]], 0))).toBe(true);
    const st = oneDnnKernelStats(true);
    expect(st.fallback.Relu).toBe(1);
    expect(st.native.Add).toBeUndefined();
    expect(st.fallback.PadV2).toBe(2);
    expect(st.reasons.PadV2).toBe('rank 5');
    tf.dispose([i, x5, p5]);
  });

  it('elementwise: false and nativeKernels off put the stock kernels and gradient back', async () => {
    setOneDnnKernels(addon, { elementwise: false });
    try {
      expect(tf.getKernel(NATIVE_RELU_GRAD_KERNEL, 'wasm')).toBeUndefined();
      oneDnnKernelStats(true);
      reluAndGrad([3, 4], 9);
      expect(oneDnnKernelStats(true).native).not.toHaveProperty('Relu');
      await selectBackend('wasm', { threads: 1, nativeKernels: 'off', log: quiet });
      for (const n of [...NATIVE_ELEMENTWISE_KERNEL_NAMES]) expect(tf.getKernel(n, 'wasm')?.kernelFunc).toBeDefined();
      expect(tf.getKernel(NATIVE_RELU_GRAD_KERNEL, 'wasm')).toBeUndefined();
      const [y, dx] = reluAndGrad([3, 4], 9);
      const [ry, rdx] = reluReference([3, 4], 9);
      expect(sameBits(y, ry) && sameBits(dx, rdx)).toBe(true);
      expect(oneDnnKernelStats(true).native).toEqual({});
    } finally {
      await selectNativeWasm(native);
    }
    expect(tf.getKernel(NATIVE_RELU_GRAD_KERNEL, 'wasm')).toBeDefined();
  });

  it('an addon whose elementwise loop throws: the gradient names the kernel and leaves no heap tensor', () => {
    const be = tf.backend() as unknown as { numDataIds(): number };
    const failing = { ...addon!, conv: addon!.conv, matmul: addon!.matmul, setThreads: addon!.setThreads, elementwise: () => { throw new Error('boom'); }, pad: addon!.pad };
    const x = seeded([2, 3], 4);
    const dy = seeded([2, 3], 5);
    const ids = be.numDataIds();
    setOneDnnKernels(failing);
    try {
      expect(() => tf.engine().runKernel(NATIVE_RELU_GRAD_KERNEL, { dy, x })).toThrow(`${NATIVE_RELU_GRAD_KERNEL}: boom`);
      expect(be.numDataIds()).toBe(ids);
      // the forward falls back to the stock kernel instead
      const y = tf.relu(x);
      expect(oneDnnKernelStats(true).reasons.Relu).toBe('native: boom');
      y.dispose();
    } finally {
      setOneDnnKernels(addon);
    }
    tf.dispose([x, dy]);
  });

  it('BYOL steps on a ResNet-18 (stride-2 padding, ReLUs fused into batch norm and additions): the same bits with and without these kernels, no growth', async () => {
    const run = async (elementwise: boolean) => {
      setOneDnnKernels(addon, { elementwise });
      const exp = new ByolExperiment({
        inputShape: [16, 16, 1],
        batchSize: 8,
        seed: 5,
        model: { backbone: 'resnet18', stem: 'cifar', width: 1 / 8, projectorHiddenDim: 64, projectorDim: 16, predictorHiddenDim: 64 },
        optimizer: { name: 'lars', lr: 1, scaleLr: false, weightDecay: 1e-5, eta: 0.02, clipTrustRatio: true },
      });
      await exp.setup();
      exp.addCallback(new TargetInitCallback());
      exp.addCallback(new EmaUpdateCallback({ schedule: 'constant', tauBase: 0.9 }));
      // fit takes (and disposes) each batch
      const h = await exp.fit(function* () { for (let i = 0; i < 3; i++) yield tf.randomUniform([8, 16, 16, 1], 0, 1, 'float32', 11 + i) as tf.Tensor4D; }, { epochs: 1, logEvery: 1 });
      const weights = exp.trainableVariables().map((v) => Float32Array.from(v.dataSync()));
      const st = oneDnnKernelStats(true);
      exp.dispose();
      return { weights, loss: h.history.loss, st };
    };
    try {
      oneDnnKernelStats(true);
      const stock = await run(false);
      const nat = await run(true);
      expect(stock.st.native.Relu).toBeUndefined();
      expect(stock.st.native[NATIVE_ADD_RELU_KERNEL]).toBeUndefined();
      // every ReLU of this model follows a batch norm or a residual addition: all fused, per step
      // 16 relu(a + b) (8 blocks × online and target), 8 ReLU gradients (the online blocks' sums)
      expect(nat.st.native.Relu, JSON.stringify(nat.st.native)).toBeUndefined();
      expect(nat.st.native[NATIVE_ADD_RELU_KERNEL]).toBe(3 * 16);
      expect(nat.st.native[NATIVE_RELU_GRAD_KERNEL]).toBe(3 * 8);
      expect(nat.st.native.PadV2).toBe(3 * 6);
      expect(nat.st.native.Add).toBeGreaterThan(15);
      expect(nat.loss).toEqual(stock.loss);
      nat.weights.forEach((w, i) => expect(sameBits(w, stock.weights[i]), `variable ${i}`).toBe(true));
      // and no growth over more steps
      const tensors = tf.memory().numTensors;
      await run(true);
      const heap = heapBytes();
      await run(true);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(heapBytes()).toBe(heap);
    } finally {
      setOneDnnKernels(addon);
    }
  });
});
