import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { onBoth, relErr, seeded } from '../../../test/helpers/backend-compare';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

beforeAll(async () => {
  await selectBackend('wasm', { threads: 2, nativeKernels: 'off', log: () => undefined });
});

// kernel 1/3/7 × stride 1/2 × same/valid/explicit, odd and even sizes, batch 1 and 3
const convCases: { x: number[]; k: number; ci: number; co: number; s: number | [number, number]; pad: Pad }[] = [];
for (const k of [1, 3, 7]) {
  for (const s of [1, 2] as const) {
    const pads: Pad[] = ['same', 'valid', [[0, 0], [1, 0], [k === 1 ? 0 : 2, 1], [0, 0]]];
    pads.forEach((pad, i) => {
      const n = (k + s + i) % 2 === 0 ? 1 : 3;
      const h = k === 7 ? 9 + i : 5 + 2 * i;
      convCases.push({ x: [n, h, h + 1 - (i % 2) * 2, 3 + i], k, ci: 3 + i, co: 2 + s, s, pad });
    });
  }
}
convCases.push({ x: [2, 9, 8, 4], k: 3, ci: 4, co: 5, s: [2, 1], pad: 'same' });
// more than 16 input channels: the weight gradient's other transpose path
convCases.push({ x: [3, 6, 5, 19], k: 3, ci: 19, co: 4, s: 1, pad: 'same' });
convCases.push({ x: [2, 7, 7, 17], k: 3, ci: 17, co: 6, s: 2, pad: 'valid' });

describe('Conv2D gradients on wasm match the cpu backend', () => {
  it.each(convCases)('x $x k $k s $s pad $pad', async ({ x, k, ci, co, s, pad }) => {
    const { cpu, wasm } = await onBoth(() => {
      const xs = seeded(x, 1);
      const w = seeded([k, k, ci, co], 2);
      const y = tf.conv2d(xs as tf.Tensor4D, w as tf.Tensor4D, s, pad);
      const r = seeded(y.shape, 3);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), r));
      return tf.grads(f)([xs, w]);
    });
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-4);
    expect(relErr(wasm[1], cpu[1])).toBeLessThan(1e-4);
  });
});

describe('depthwise conv gradients on wasm match the cpu backend', () => {
  const cases = [
    { x: [2, 8, 8, 4], k: 3, s: 1, pad: 'same' as const },
    { x: [1, 9, 9, 3], k: 3, s: 2, pad: 'same' as const },
    { x: [2, 9, 7, 3], k: 5, s: 2, pad: 'valid' as const },
    { x: [3, 7, 7, 2], k: 1, s: 2, pad: 'valid' as const },
  ];
  it.each(cases)('x $x k $k s $s pad $pad', async ({ x, k, s, pad }) => {
    const { cpu, wasm } = await onBoth(() => {
      const xs = seeded(x, 4);
      const w = seeded([k, k, x[3], 1], 5);
      const y = tf.depthwiseConv2d(xs as tf.Tensor4D, w as tf.Tensor4D, s, pad);
      const r = seeded(y.shape, 6);
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), r));
      return tf.grads(f)([xs, w]);
    });
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-4);
    expect(relErr(wasm[1], cpu[1])).toBeLessThan(1e-4);
  });
});

describe('kernel hygiene', () => {
  it('each conv-gradient kernel adds exactly its output tensor', () => {
    const x = seeded([2, 9, 9, 3], 7);
    const dy = seeded([2, 5, 5, 4], 8);
    const w = seeded([3, 3, 3, 4], 9);
    // As tfjs's ops pass them (dimRoundingMode present but undefined), which NamedAttrMap's type does not allow.
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
    const before = tf.memory().numTensors;
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 3, 4] }) as tf.Tensor;
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: [2, 9, 9, 3] }) as tf.Tensor;
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(dw.shape).toEqual([3, 3, 3, 4]);
    expect(dx.shape).toEqual([2, 9, 9, 3]);
    tf.dispose([x, dy, w, dw, dx]);
  });

  it('explains unsupported depthwise multipliers instead of computing garbage', () => {
    const x = seeded([1, 5, 5, 2], 1);
    const w = seeded([3, 3, 2, 2], 2);
    expect(() => tf.grads((a: tf.Tensor) => tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')))([x]))
      .toThrow(/DepthwiseConv2dNativeBackpropInput: channel multiplier 2 \(only 1 is supported\)/);
    tf.dispose([x, w]);
  });
});

describe('a small conv net trains identically on wasm and cpu', () => {
  // conv → BN → relu → conv(stride 2) → pool → dense: the layers a BYOL encoder uses
  function buildNet(): tf.Sequential {
    const net = tf.sequential();
    net.add(tf.layers.conv2d({ inputShape: [9, 9, 3], filters: 16, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }));
    net.add(tf.layers.batchNormalization());
    net.add(tf.layers.reLU());
    net.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: 'heNormal' }));
    net.add(tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }));
    net.add(tf.layers.flatten());
    net.add(tf.layers.dense({ units: 5, kernelInitializer: 'glorotNormal' }));
    return net;
  }

  it('gives the same loss and parameter gradients', async () => {
    await tf.setBackend('wasm');
    // weights come from seeded data, so both backends start from the same point
    const net = buildNet();
    net.setWeights(net.getWeights().map((w, i) => tf.tidy(() => tf.mul(seeded(w.shape, 100 + i), 0.5))));
    const x = seeded([4, 9, 9, 3], 11);
    const target = seeded([4, 5], 12);
    const step = () => {
      const { value, grads } = tf.variableGrads(() =>
        tf.losses.meanSquaredError(target, net.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      const names = Object.keys(grads).sort();
      return [value, ...names.map((n) => grads[n])];
    };
    const { cpu, wasm } = await onBoth(step);
    expect(wasm.length).toBe(cpu.length);
    // loss + conv1 kernel, gamma, beta, conv2 kernel + bias, dense kernel + bias
    expect(wasm.length).toBe(1 + 7);
    cpu.forEach((ref, i) => expect(relErr(wasm[i], ref)).toBeLessThan(1e-4));
    // no leak across repeated steps on wasm
    await tf.setBackend('wasm');
    tf.dispose(tf.tidy(step));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(tf.tidy(step));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, target]);
    net.dispose();
  });
});
