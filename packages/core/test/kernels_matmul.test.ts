import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, WASM_TRAINING_KERNELS } from '../src/backend';
import { onBoth, relErr, seeded } from '../../../test/helpers/backend-compare';

beforeAll(async () => {
  await selectBackend('wasm', { threads: 2, nativeKernels: 'off', log: () => undefined });
});

describe('BatchMatMul / _FusedMatMul with transposed operands', () => {
  // [a shape, b shape, transposeA, transposeB]: 2-D, batched 3-D, broadcast batch, odd sizes
  const cases: [number[], number[], boolean, boolean][] = [
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[1, 9], [1, 4], true, false],
    [[2, 6, 5], [2, 6, 4], true, false],
    [[3, 5, 6], [3, 4, 6], false, true],
    [[2, 6, 5], [1, 4, 6], true, true],
    [[33, 17], [33, 65], true, false],
  ];
  it.each(cases)('matMul %j × %j (transposeA %s, transposeB %s) equals the cpu result', async (sa, sb, ta, tb) => {
    const { cpu, wasm } = await onBoth(() => tf.matMul(seeded(sa, 1), seeded(sb, 2), ta, tb));
    expect(wasm[0].length).toBe(cpu[0].length);
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-5);
  });

  it('fused matMul with bias and relu, transposed operands, equals the cpu result', async () => {
    const { cpu, wasm } = await onBoth(() =>
      tf.fused.matMul({ a: seeded([6, 4], 3), b: seeded([5, 6], 4), transposeA: true, transposeB: true, bias: seeded([5], 5), activation: 'relu' }),
    );
    expect(wasm[0].length).toBe(20);
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-5);
    // relu really applied: some outputs are exactly zero, as on cpu
    expect(Array.from(wasm[0]).filter((v) => v === 0).length).toBe(Array.from(cpu[0]).filter((v) => v === 0).length);
  });

  it('dense-layer gradients (which use both transposes) equal the cpu ones', async () => {
    const grads = () => {
      const x = seeded([8, 12], 6);
      const w = seeded([12, 10], 7);
      const b = seeded([10], 8);
      const f = (wv: tf.Tensor, bv: tf.Tensor, xv: tf.Tensor) =>
        tf.sum(tf.square(tf.fused.matMul({ a: xv as tf.Tensor2D, b: wv as tf.Tensor2D, bias: bv, activation: 'relu' })));
      return tf.grads(f)([w, b, x]);
    };
    const { cpu, wasm } = await onBoth(grads);
    expect(wasm.map((g) => g.length)).toEqual([120, 10, 96]);
    wasm.forEach((g, i) => expect(relErr(g, cpu[i])).toBeLessThan(1e-5));
  });

  it('is the kernel the wasm backend runs, and does not leak tensors', async () => {
    await tf.setBackend('wasm');
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(WASM_TRAINING_KERNELS.BatchMatMul);
    expect(tf.getKernel('_FusedMatMul', 'wasm')?.kernelFunc).toBe(WASM_TRAINING_KERNELS._FusedMatMul);
    const a = seeded([16, 8], 9);
    const b = seeded([16, 4], 10);
    tf.matMul(a, b, true, false).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.matMul(a, b, true, false).dispose();
      tf.fused.matMul({ a: b, b: a, transposeA: true, activation: 'relu' }).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });
});
