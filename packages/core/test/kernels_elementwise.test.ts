import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, WASM_TRAINING_KERNELS } from '../src/backend';
import { onBoth, relErr, seeded } from '../../../test/helpers/backend-compare';

beforeAll(async () => {
  await selectBackend('wasm', { threads: 2, nativeKernels: 'off', log: () => undefined });
});

describe('FusedBatchNorm on wasm (XNNPACK multiply + add)', () => {
  it('is the registered wasm kernel', () => {
    expect(tf.getKernel('FusedBatchNorm', 'wasm')?.kernelFunc).toBe(WASM_TRAINING_KERNELS.FusedBatchNorm);
    expect(tf.getKernel('Pow', 'wasm')?.kernelFunc).toBe(WASM_TRAINING_KERNELS.Pow);
  });

  // [x shape, statistics shape, with offset, with scale]
  const cases: [number[], number[], boolean, boolean][] = [
    [[2, 3, 4, 5], [5], true, true],
    [[7, 6], [6], false, false],
    [[7, 6], [6], true, false],
    [[3, 2, 2, 17], [1], true, true], // size-1 statistics broadcast
    [[3, 4], [1, 4], true, true],
    [[2, 4], [2, 4], true, true], // full-size statistics: the stock kernel's case
    [[1, 1, 1, 1], [1], true, true],
  ];
  it.each(cases)('x %j, statistics %j (offset %s, scale %s) equals the cpu backend', async (xs, ss, withOffset, withScale) => {
    const { cpu, wasm } = await onBoth(() => {
      const x = seeded(xs, 1, 3, 1);
      const mean = seeded(ss, 2, 1);
      const variance = seeded(ss, 3, 0.5, 1); // in [0.5, 1.5)
      const offset = withOffset ? seeded(ss, 4) : undefined;
      const scale = withScale ? seeded(ss, 5, 1, 1.5) : undefined;
      return tf.batchNorm(x, mean, variance, offset, scale, 1e-3);
    });
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-6);
  });

  it('leaves no tensors behind', async () => {
    await tf.setBackend('wasm');
    const x = seeded([4, 3, 3, 8], 1);
    const m = seeded([8], 2);
    const v = seeded([8], 3, 0.1, 1);
    const before = tf.memory().numTensors;
    tf.batchNorm(x, m, v).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, m, v]);
  });
});

describe('Pow on wasm', () => {
  // [base shape, exponent shape, exponent]
  const cases: [number[], number[], number][] = [
    [[3, 4, 5], [], 2],
    [[7], [1], 2],
    [[], [], 2],
    [[2, 3], [], 3], // stock kernel
    [[2, 3], [], 0.5], // stock kernel
    [[2, 3], [3], 2], // a vector exponent: stock kernel
  ];
  it.each(cases)('base %j to an exponent of shape %j (%d) equals the cpu backend', async (as, bs, e) => {
    const { cpu, wasm } = await onBoth(() => {
      const a = seeded(as, 1, 2, e === 0.5 ? 2.5 : 0); // positive bases for the square root
      return tf.pow(a, tf.fill(bs, e));
    });
    expect(wasm[0].length).toBe(cpu[0].length);
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-6);
  });

  it('keeps gradients (d/dx x² = 2x) and leaves no tensors behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor1d([-1.5, 0, 2]);
    const before = tf.memory().numTensors;
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.pow(v, 2)))(x);
    expect(Array.from(g.dataSync())).toEqual([-3, 0, 4]);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
