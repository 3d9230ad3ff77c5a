// The oneDNN kernels (@selfsup/native-cpu under the wasm backend) against the cpu backend,
// over the shape grid of the wasm kernel tests (packages/core/test/kernels.test.ts) plus
// channels 1 to 512. Each case also checks that the native kernel ran (not a fallback).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  DEFAULT_MIN_MATMUL_MACS,
  ONEDNN_KERNEL_NAMES,
  oneDnnKernelStats,
  selectBackend,
  setOneDnnKernels,
  WASM_TRAINING_KERNELS,
  type NativeCpuAddon,
} from '@selfsup/core';
import { onBoth, relErr, seeded } from './helpers/backend-compare';
import { nativeCpuForTests } from './helpers/native-cpu';

const native = nativeCpuForTests();
const addon = (native.load.ok ? native.load.addon : null) as NativeCpuAddon | null;
const quiet = () => undefined;

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface ConvCase { x: number[]; k: number; co: number; s: number | [number, number]; pad: Pad }

// kernel 1/3/7 × stride 1/2 × same/valid/explicit, odd and even sizes, batch 1 and 3 (as kernels.test.ts)
const convCases: ConvCase[] = [];
for (const k of [1, 3, 7]) {
  for (const s of [1, 2] as const) {
    const pads: Pad[] = ['same', 'valid', [[0, 0], [1, 0], [k === 1 ? 0 : 2, 1], [0, 0]]];
    pads.forEach((pad, i) => {
      const n = (k + s + i) % 2 === 0 ? 1 : 3;
      const h = k === 7 ? 9 + i : 5 + 2 * i;
      convCases.push({ x: [n, h, h + 1 - (i % 2) * 2, 3 + i], k, co: 2 + s, s, pad });
    });
  }
}
convCases.push({ x: [2, 9, 8, 4], k: 3, co: 5, s: [2, 1], pad: 'same' });
// channels 1 … 512 (few pixels, so the cpu reference stays quick)
convCases.push({ x: [2, 6, 5, 1], k: 3, co: 1, s: 1, pad: 'same' });
convCases.push({ x: [3, 7, 7, 1], k: 7, co: 16, s: 2, pad: 'same' });
convCases.push({ x: [2, 5, 5, 64], k: 3, co: 64, s: 1, pad: 'same' });
convCases.push({ x: [2, 7, 7, 32], k: 1, co: 128, s: 2, pad: 'valid' });
convCases.push({ x: [2, 4, 4, 512], k: 3, co: 24, s: 1, pad: 'same' });
convCases.push({ x: [1, 3, 3, 16], k: 3, co: 512, s: 2, pad: 'same' });
convCases.push({ x: [2, 4, 3, 256], k: 1, co: 512, s: 1, pad: 'valid' });

function expectNative(names: string[]): void {
  const st = oneDnnKernelStats(true);
  for (const n of names) expect(st.native[n] ?? 0, `${n} ran on oneDNN (fallbacks: ${JSON.stringify(st.reasons)})`).toBeGreaterThan(0);
  expect(st.fallback, `no fallback (${JSON.stringify(st.reasons)})`).toEqual({});
}

describe.skipIf(native.skipReason !== undefined)('oneDNN kernels (@selfsup/native-cpu) against the cpu backend', () => {
  beforeAll(async () => {
    if (!native.load.ok) throw new Error(`@selfsup/native-cpu can be built here but does not load: ${native.load.reason}`);
    const info = await selectBackend('wasm', { threads: 1, nativeKernels: 'on', log: quiet });
    expect(info.nativeKernels).toMatch(/^oneDNN \d+\.\d+\.\d+ \w+/);
    // two oneDNN threads (the wasm pool has one here): the threaded paths get checked too
    addon!.setThreads(2);
  });

  it('registers the six kernels, each falling back to selfsup\'s wasm kernel or the stock one', () => {
    for (const name of ONEDNN_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm')?.kernelFunc).not.toBe(WASM_TRAINING_KERNELS[name]);
    expect(addon!.info()).toMatchObject({ dnnlVersion: expect.stringMatching(/^\d+\.\d+\.\d+$/), isa: expect.any(String) });
  });

  it.each(convCases)('conv x $x k $k co $co s $s pad $pad: forward, dx, dW', async ({ x, k, co, s, pad }) => {
    oneDnnKernelStats(true);
    const { cpu, wasm } = await onBoth(() => {
      const xs = seeded(x, 1);
      const w = seeded([k, k, x[3], co], 2, 0.5);
      const y = tf.conv2d(xs as tf.Tensor4D, w as tf.Tensor4D, s, pad);
      const r = seeded(y.shape, 3);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), r));
      return [y, ...tf.grads(f)([xs, w])];
    });
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-4);
    expect(relErr(wasm[1], cpu[1])).toBeLessThan(1e-4);
    expect(relErr(wasm[2], cpu[2])).toBeLessThan(1e-4);
    expectNative(['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
  });

  it('dilated forward conv', async () => {
    oneDnnKernelStats(true);
    const { cpu, wasm } = await onBoth(() => tf.conv2d(seeded([2, 11, 10, 3], 4) as tf.Tensor4D, seeded([3, 3, 3, 5], 5) as tf.Tensor4D, 1, 'same', 'NHWC', [2, 3]));
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-4);
    expectNative(['Conv2D']);
  });

  const activations = ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu'] as const;
  it.each(activations)('fused conv with bias and %s, and its gradients', async (activation) => {
    oneDnnKernelStats(true);
    const { cpu, wasm } = await onBoth(() => {
      const xs = seeded([3, 7, 6, 5], 6);
      const w = seeded([3, 3, 5, 8], 7, 0.7);
      const b = seeded([8], 8, 2);
      const fused = (a: tf.Tensor, f: tf.Tensor) =>
        tf.fused.conv2d({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 2, pad: 'same', bias: b, activation, leakyreluAlpha: 0.3 });
      const y = fused(xs, w);
      const r = seeded(y.shape, 9);
      return [y, ...tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(fused(a, f), r)))([xs, w])];
    });
    cpu.forEach((ref, i) => expect(relErr(wasm[i], ref), `output ${i}`).toBeLessThan(1e-4));
    expectNative(['FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
  });

  it('hands a PReLU conv to the wasm kernels, with the same result', async () => {
    oneDnnKernelStats(true);
    const { cpu, wasm } = await onBoth(() => {
      const xs = seeded([2, 5, 5, 3], 10);
      const w = seeded([3, 3, 3, 4], 11);
      const alpha = tf.fill([4], 0.25);
      return tf.fused.conv2d({ x: xs as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 1, pad: 'same', activation: 'prelu', preluActivationWeights: alpha });
    });
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-4);
    const st = oneDnnKernelStats(true);
    expect(st.fallback.FusedConv2D).toBe(1);
    expect(st.reasons.FusedConv2D).toMatch(/activation prelu/);
  });

  describe('matmul', () => {
    beforeAll(() => {
      setOneDnnKernels(addon, { minMatmulMacs: 0 });
    });
    afterAll(() => {
      setOneDnnKernels(addon, { minMatmulMacs: DEFAULT_MIN_MATMUL_MACS });
    });
    const cases = [
      { a: [7, 5], b: [5, 3], ta: false, tb: false },
      { a: [5, 7], b: [5, 3], ta: true, tb: false },
      { a: [7, 5], b: [3, 5], ta: false, tb: true },
      { a: [5, 7], b: [3, 5], ta: true, tb: true },
      { a: [3, 17, 9], b: [3, 9, 11], ta: false, tb: false },
      { a: [2, 3, 9, 17], b: [2, 3, 11, 9], ta: true, tb: true },
      { a: [4, 17, 9], b: [9, 11], ta: false, tb: false },
      { a: [17, 9], b: [4, 11, 9], ta: false, tb: true },
      { a: [64, 300], b: [300, 128], ta: false, tb: false },
      { a: [1, 512], b: [512, 1], ta: false, tb: false },
    ];
    it.each(cases)('a $a b $b transposeA $ta transposeB $tb', async ({ a, b, ta, tb }) => {
      oneDnnKernelStats(true);
      const { cpu, wasm } = await onBoth(() => tf.matMul(seeded(a, 12), seeded(b, 13), ta, tb));
      expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-4);
      expectNative(['BatchMatMul']);
    });

    it.each(['linear', 'relu', 'leakyrelu'] as const)('a dense layer (fused matmul, bias, %s) and its gradients', async (activation) => {
      oneDnnKernelStats(true);
      const { cpu, wasm } = await onBoth(() => {
        const x = seeded([6, 20], 14);
        const w = seeded([20, 12], 15);
        const bias = seeded([12], 16);
        const f = (p: tf.Tensor, q: tf.Tensor) => tf.fused.matMul({ a: p, b: q, bias, activation, leakyreluAlpha: 0.1 });
        const r = seeded([6, 12], 17);
        return [f(x, w), ...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), r)))([x, w])];
      });
      cpu.forEach((ref, i) => expect(relErr(wasm[i], ref), `output ${i}`).toBeLessThan(1e-4));
      expectNative(['_FusedMatMul', 'BatchMatMul']);
    });

    it('hands a PReLU dense layer to the wasm kernels, with the same result', async () => {
      oneDnnKernelStats(true);
      const { cpu, wasm } = await onBoth(() =>
        tf.fused.matMul({ a: seeded([5, 9], 18), b: seeded([9, 4], 19), activation: 'prelu', preluActivationWeights: tf.fill([4], 0.2) }));
      expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-4);
      const st = oneDnnKernelStats(true);
      expect(st.fallback._FusedMatMul).toBe(1);
      expect(st.reasons._FusedMatMul).toMatch(/activation prelu/);
    });
  });

  it('each kernel adds exactly its output tensor; a failing oneDNN call falls back and frees its output', () => {
    const x = seeded([2, 9, 9, 3], 7);
    const dy = seeded([2, 5, 5, 4], 8);
    const w = seeded([3, 3, 3, 4], 9);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
    const be = tf.backend() as BackendWasm;
    const ids = be.numDataIds();
    const before = tf.memory().numTensors;
    const y = tf.engine().runKernel('Conv2D', { x, filter: w }, { ...attrs, dilations: 1 }) as tf.Tensor;
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 3, 4] }) as tf.Tensor;
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: [2, 9, 9, 3] }) as tf.Tensor;
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(be.numDataIds()).toBe(ids + 3);
    expect(y.shape).toEqual([2, 5, 5, 4]);
    expect(dw.shape).toEqual([3, 3, 3, 4]);
    expect(dx.shape).toEqual([2, 9, 9, 3]);
    expectNative(['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
    tf.dispose([y, dw, dx]);
    // an addon that throws: the wasm kernel answers, and no heap tensor is left behind
    const failing = { ...addon!, conv: () => { throw new Error('boom'); }, matmul: addon!.matmul, setThreads: addon!.setThreads };
    setOneDnnKernels(failing);
    try {
      const y2 = tf.engine().runKernel('Conv2D', { x, filter: w }, { ...attrs, dilations: 1 }) as tf.Tensor;
      expect(be.numDataIds()).toBe(ids + 1);
      const st = oneDnnKernelStats(true);
      expect(st.fallback.Conv2D).toBe(1);
      expect(st.reasons.Conv2D).toBe('oneDNN: boom');
      y2.dispose();
    } finally {
      setOneDnnKernels(addon);
    }
    tf.dispose([x, dy, w]);
  });
});

describe.skipIf(native.skipReason !== undefined)('selecting the native kernels', () => {
  const missing = () => ({ ok: false as const, reason: 'the addon is not built (test)' });

  it('auto without the addon: plain wasm kernels and the same results', async () => {
    const lines: string[] = [];
    const withNative = await selectBackend('wasm', { threads: 1, nativeKernels: 'auto', log: (l) => lines.push(l) });
    expect(withNative.nativeKernels).toBeDefined();
    expect(lines.at(-1)).toMatch(/^selfsup: backend wasm \(tfjs 4\.22\.0, 1 thread, SIMD, native kernels: oneDNN \d/);
    const step = () => {
      const xs = seeded([3, 9, 8, 6], 21);
      const w = seeded([3, 3, 6, 10], 22);
      const y = tf.conv2d(xs as tf.Tensor4D, w as tf.Tensor4D, 2, 'same');
      const r = seeded(y.shape, 23);
      return [y, ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), r)))([xs, w])];
    };
    const read = (ts: tf.Tensor[]) => { const d = ts.map((t) => t.dataSync().slice()); tf.dispose(ts); return d; };
    const nat = read(tf.tidy(step));

    const plain = await selectBackend('wasm', { threads: 1, nativeKernels: 'auto', log: (l) => lines.push(l) }, { nativeCpuLoader: missing });
    expect(plain.nativeKernels).toBeUndefined();
    expect(lines.at(-1)).toMatch(/^selfsup: backend wasm \(tfjs 4\.22\.0, 1 thread, SIMD\)$/);
    for (const [name, fn] of Object.entries(WASM_TRAINING_KERNELS)) expect(tf.getKernel(name, 'wasm')?.kernelFunc, name).toBe(fn);
    oneDnnKernelStats(true);
    const wasm = read(tf.tidy(step));
    expect(oneDnnKernelStats(true).native).toEqual({});
    nat.forEach((v, i) => expect(relErr(wasm[i], v)).toBeLessThan(1e-4));
    // and back on
    const again = await selectBackend('wasm', { threads: 1, nativeKernels: 'on', log: quiet });
    expect(again.nativeKernels).toBeDefined();
  });

  it('on without the addon is a user error before any backend starts; on with the cpu backend too', async () => {
    await expect(selectBackend('wasm', { nativeKernels: 'on', log: quiet }, { nativeCpuLoader: missing }))
      .rejects.toMatchObject({ name: 'UserError', message: 'nativeKernels is on (trainer.nativeKernels, --native-kernels) but the addon is not built (test)' });
    await expect(selectBackend('cpu', { nativeKernels: 'on', log: quiet }))
      .rejects.toThrow(/native kernels run under the wasm backend and backend is cpu/);
    await expect(selectBackend('wasm', { nativeKernels: 'yes' as never, log: quiet })).rejects.toThrow(/unknown nativeKernels 'yes'/);
    expect(tf.getBackend()).toBe('wasm');
  });
});
