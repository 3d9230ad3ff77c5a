import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { logSumExpRows } from '../src/loss';
import { useBackend } from '../../../test/helpers/backend';

// rows with a wide range of values and masked entries (−1e9, as MoCo's empty queue slots and
// SimCLR's diagonal): the cases where the max subtracted for stability matters
function matrix(rows: number, cols: number): number[][] {
  let s = 12345;
  const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (j === (i * 3) % cols ? -1e9 : next() * (i % 2 ? 40 : 3))));
}

/** Row-wise softmax(x) · dy in float64, the gradient of Σᵢ dyᵢ · lse(xᵢ). */
function gradReference(x: number[][], dy: number[]): number[][] {
  return x.map((row, i) => {
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => (v / s) * dy[i]);
  });
}

describe('logSumExpRows', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: the values of tf.logSumExp(x, 1) bit for bit, the gradient softmax · dy (float64 reference), no leak`, async () => {
      await useBackend(backend);
      const xs = matrix(6, 9);
      const dys = [0.5, -1, 2, 0.25, 1, -0.75];
      const x = tf.tensor2d(xs);
      const dy = tf.tensor1d(dys);
      expect(Array.from(await logSumExpRows(x).data())).toEqual(Array.from(await tf.logSumExp(x, 1).data()));
      const before = tf.memory().numTensors;
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(logSumExpRows(a as tf.Tensor2D), dy)))(x);
      expect(tf.memory().numTensors).toBe(before + 1);
      const got = (await g.array()) as number[][];
      const want = gradReference(xs, dys);
      for (let i = 0; i < want.length; i++) {
        for (let j = 0; j < want[i].length; j++) expect(Math.abs(got[i][j] - want[i][j])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i][j])));
        // a masked entry gets exactly no gradient
        expect(Math.abs(got[i][(i * 3) % 9])).toBe(0);
      }
      tf.dispose([x, dy, g]);
    });
  }

  it("forward and gradient run one Exp and no Equal (tf.logSumExp's gradient runs Equal over the whole matrix, for the max)", async () => {
    await useBackend('cpu');
    const x = tf.tensor2d(matrix(4, 5));
    const kernels = async (lse: (a: tf.Tensor2D) => tf.Tensor) =>
      (await tf.profile(() => tf.grad((a: tf.Tensor) => tf.sum(lse(a as tf.Tensor2D)))(x))).kernelNames;
    expect(await kernels((a) => tf.logSumExp(a, 1))).toContain('Equal');
    const ours = await kernels(logSumExpRows);
    expect(ours).not.toContain('Equal');
    expect(ours.filter((k) => k === 'Exp')).toEqual(['Exp']);
    x.dispose();
  });

  it('takes [rows, cols] only', () => {
    expect(() => logSumExpRows(tf.zeros([2, 2, 2]) as unknown as tf.Tensor2D)).toThrow(/logSumExpRows: x must be \[rows, cols\], got \[2,2,2\]/);
  });
});
