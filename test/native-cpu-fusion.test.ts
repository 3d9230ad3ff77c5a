// ReLU fused into the batch norm or the residual addition before it (native kernels): the same
// bits as the unfused ops, forward and backward; fusion only where a plain ReLU layer is the
// sole consumer; standard class names when saved; inference through `predict` too.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  addRelu,
  batchNormTraining,
  NATIVE_ADD_RELU_KERNEL,
  nativeReluFusionActive,
  oneDnnKernelStats,
  selectBackend,
  setOneDnnKernels,
  type NativeCpuAddon,
} from '@selfsup/core';
import { batchNormalization, feedsOnlyRelu, FusableAdd, FusableReLU } from '@selfsup/ssl';
import { seeded } from './helpers/backend-compare';
import { nativeCpuForTests, selectNativeWasm } from './helpers/native-cpu';

const native = nativeCpuForTests();
const addon = (native.load.ok ? native.load.addon : null) as NativeCpuAddon | null;
const quiet = () => undefined;
const EPS = 1e-3;

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && bits(a).every((v, i) => v === bits(b)[i]);
const read = (ts: tf.Tensor[]) => ts.map((t) => Float32Array.from(t.dataSync()));

/** relu(batch norm) and the gradients of Σ relu(bn)·r w.r.t. x, γ, β; fused or as two ops. */
function bnRelu(shape: number[], seed: number, fused: boolean): Float32Array[] {
  const c = shape[shape.length - 1];
  const out = tf.tidy(() => {
    const x = seeded(shape, seed, 1, 0.2);
    const g = seeded([c], seed + 1, 0.5, 1) as tf.Tensor1D;
    const b = seeded([c], seed + 2, 0.5) as tf.Tensor1D;
    const r = seeded(shape, seed + 3);
    const f = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) =>
      fused ? batchNormTraining(xi, gi as tf.Tensor1D, bi as tf.Tensor1D, EPS, { relu: true }).y : tf.relu(batchNormTraining(xi, gi as tf.Tensor1D, bi as tf.Tensor1D, EPS).y);
    const y = f(x, g, b);
    return [y, ...tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(f(xi, gi, bi), r)))([x, g, b])];
  });
  const data = read(out);
  tf.dispose(out);
  return data;
}

/** relu(a + b) and the gradients of Σ relu(a + b)·r; fused or as two ops. */
function addReluAll(shape: number[], seed: number, fused: boolean): Float32Array[] {
  const out = tf.tidy(() => {
    const a = seeded(shape, seed);
    const b = seeded(shape, seed + 1);
    const r = seeded(shape, seed + 2);
    const f = (x: tf.Tensor, y: tf.Tensor) => (fused ? addRelu(x, y) : tf.relu(tf.add(x, y)));
    return [f(a, b), ...tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x, y), r)))([a, b])];
  });
  const data = read(out);
  tf.dispose(out);
  return data;
}

// odd sizes (a tail past the chunk pattern), C from 1 to 256, and threaded sizes
const shapes: number[][] = [[7, 3], [5, 17], [2, 5, 7, 3], [3, 9, 11, 17], [64, 256], [8, 28, 28, 8], [4, 14, 14, 16]];

describe.skipIf(native.skipReason !== undefined)('ReLU fused into batch norm and addition (@selfsup/native-cpu)', () => {
  beforeAll(async () => {
    await selectNativeWasm(native);
    expect(nativeReluFusionActive()).toBe(true);
  });

  it.each(shapes)('relu(batch norm) on [%s]: y, dx, dγ, dβ bit for bit as the two ops, with no Relu kernel', (...shape) => {
    const seed = shape.reduce((a, b) => a + b, 0);
    oneDnnKernelStats(true);
    const fused = bnRelu(shape, seed, true);
    const st = oneDnnKernelStats(true);
    expect(st.native.Relu, JSON.stringify(st.native)).toBeUndefined();
    expect(st.native.SelfsupReluGrad).toBeUndefined();
    const plain = bnRelu(shape, seed, false);
    expect(oneDnnKernelStats(true).native.Relu).toBe(2);
    ['y', 'dx', 'dγ', 'dβ'].forEach((name, i) => expect(sameBits(fused[i], plain[i]), name).toBe(true));
    // and it rectified: no negative y, zeros where the unrectified value was negative
    expect(fused[0].every((v) => v >= 0)).toBe(true);
    expect(fused[0].some((v) => v === 0)).toBe(true);
  });

  it.each(shapes)('relu(a + b) on [%s]: values and both gradients bit for bit as tf.relu(tf.add)', (...shape) => {
    oneDnnKernelStats(true);
    const fused = addReluAll(shape, 3, true);
    const st = oneDnnKernelStats(true);
    expect(st.native[NATIVE_ADD_RELU_KERNEL]).toBe(2);
    const plain = addReluAll(shape, 3, false);
    ['y', 'da', 'db'].forEach((name, i) => expect(sameBits(fused[i], plain[i]), name).toBe(true));
  });

  it('without the native ReLU kernels: addRelu is tf.relu(tf.add), batchNormTraining relu is tf.relu', () => {
    setOneDnnKernels(addon, { elementwise: false });
    try {
      expect(nativeReluFusionActive()).toBe(false);
      oneDnnKernelStats(true);
      const a = addReluAll([3, 4], 5, true);
      const b = bnRelu([6, 5], 7, true);
      expect(oneDnnKernelStats(true).native[NATIVE_ADD_RELU_KERNEL]).toBeUndefined();
      setOneDnnKernels(addon);
      addReluAll([3, 4], 5, false).forEach((v, i) => expect(sameBits(a[i], v)).toBe(true));
      bnRelu([6, 5], 7, false).forEach((v, i) => expect(sameBits(b[i], v)).toBe(true));
    } finally {
      setOneDnnKernels(addon);
    }
  });

  /** conv → bn → relu → conv, + shortcut → add → relu, as a ResNet block. */
  function block(extraConsumer: boolean, maxValue?: number) {
    const input = tf.input({ shape: [6, 6, 4] });
    const h = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'glorotUniform', name: 'c1' }).apply(input) as tf.SymbolicTensor;
    const bn = batchNormalization({ axis: -1, name: 'bn' }).apply(h) as tf.SymbolicTensor;
    const r1 = new FusableReLU({ name: 'r1', maxValue }).apply(bn) as tf.SymbolicTensor;
    const h2 = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'glorotUniform', name: 'c2' }).apply(r1) as tf.SymbolicTensor;
    const sum = new FusableAdd({ name: 'sum' }).apply([h2, input]) as tf.SymbolicTensor;
    const out = new FusableReLU({ name: 'r2' }).apply(sum) as tf.SymbolicTensor;
    const outputs = extraConsumer ? [out, tf.layers.flatten({ name: 'tap' }).apply(bn) as tf.SymbolicTensor] : [out];
    return tf.model({ inputs: input, outputs });
  }

  it('fuses only where a plain ReLU layer is the sole consumer', () => {
    const m = block(false);
    expect(feedsOnlyRelu(m.getLayer('bn'))).toBe(true);
    expect(feedsOnlyRelu(m.getLayer('sum'))).toBe(true);
    expect(feedsOnlyRelu(m.getLayer('c1'))).toBe(false); // its consumer is the batch norm
    const tapped = block(true);
    expect(feedsOnlyRelu(tapped.getLayer('bn'))).toBe(false); // also read by 'tap'
    const clipped = block(false, 6);
    expect(feedsOnlyRelu(clipped.getLayer('bn'))).toBe(false); // ReLU6 is not idempotent with relu
    tf.dispose([m, tapped, clipped].flatMap((x) => x.weights.map((w) => w.read())));
  });

  it('a block in training mode and through predict: the unfused bits, standard class names when saved, no leak', async () => {
    const x = seeded([3, 6, 6, 4], 9);
    const m = block(false);
    const json = m.toJSON(null, false) as unknown as { config: { layers: { class_name: string; name: string }[] } };
    const classes = Object.fromEntries(json.config.layers.map((l) => [l.name, l.class_name]));
    expect(classes).toMatchObject({ bn: 'BatchNormalization', r1: 'ReLU', sum: 'Add', r2: 'ReLU' });
    const run = () => {
      const train = tf.tidy(() => {
        const loss = () => tf.sum(tf.square(m.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar;
        const { value, grads } = tf.variableGrads(loss, m.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
        return [value, ...Object.values(grads)];
      });
      const pred = m.predict(x) as tf.Tensor;
      const out = read([...train, pred]);
      tf.dispose([...train, pred]);
      return out;
    };
    // the moving statistics change with each training call: reset them between the two runs
    const bn = m.getLayer('bn');
    const saved = bn.getWeights().map((w) => w.clone());
    oneDnnKernelStats(true);
    run(); // warm-up (allocations)
    bn.setWeights(saved);
    const before = tf.memory().numTensors;
    const fused = run();
    expect(tf.memory().numTensors).toBe(before);
    const st = oneDnnKernelStats(true);
    expect(st.native[NATIVE_ADD_RELU_KERNEL]).toBe(4); // training and predict, in two runs
    expect(st.native.Relu).toBe(2); // only in predict: the batch norm's inference path is not fused
    bn.setWeights(saved);
    setOneDnnKernels(addon, { elementwise: false });
    let plain: Float32Array[];
    try {
      plain = run();
    } finally {
      setOneDnnKernels(addon);
    }
    expect(fused.length).toBe(plain.length);
    fused.forEach((v, i) => expect(sameBits(v, plain[i]), `output ${i}`).toBe(true));
    tf.dispose([x, ...saved]);
    m.dispose();
  });
});
