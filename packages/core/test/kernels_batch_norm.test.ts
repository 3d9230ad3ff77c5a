import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { batchNormTraining, selectBackend } from '../src/backend';
import { relErr, seeded } from '../../../test/helpers/backend-compare';

/** The graph tf.layers' BatchNormalization differentiates through in training mode. */
function reference(x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
  return tf.batchNorm(x, mean, variance, b, g, eps);
}

/** Loss weights that make every gradient component matter (a plain sum has dx ≡ 0). */
const lossOf = (y: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.square(y), w));

beforeAll(async () => {
  await selectBackend('wasm', { threads: 2, nativeKernels: 'off', log: () => undefined });
});

describe('batchNormTraining (hand-written training-mode batch-norm gradient)', () => {
  const shapes = [[2, 3, 4, 5], [1, 5, 5, 3], [7, 6], [4, 2, 2, 16]];
  for (const backend of ['cpu', 'wasm']) {
    it.each(shapes)(`on ${backend}: values, statistics and gradients of [%s] equal autodiff through tf.moments + tf.batchNorm`, async (...shape) => {
      await tf.setBackend(backend);
      const c = shape[shape.length - 1];
      const x = seeded(shape, 1, 2, 0.5);
      const g = seeded([c], 2, 0.5, 1) as tf.Tensor1D;
      const b = seeded([c], 3) as tf.Tensor1D;
      const w = seeded(shape, 4);
      const eps = 1e-5;
      const ours = tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => lossOf(batchNormTraining(xi, gi as tf.Tensor1D, bi as tf.Tensor1D, eps).y, w));
      const ref = tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => lossOf(reference(xi, gi as tf.Tensor1D, bi as tf.Tensor1D, eps), w));
      const got = ours([x, g, b]);
      const want = ref([x, g, b]);
      got.forEach((t, i) => expect(relErr(t.dataSync(), want[i].dataSync())).toBeLessThan(1e-4));
      // the forward pass is the same calls, so the same bits
      const r = batchNormTraining(x, g, b, eps);
      expect(Array.from(r.y.dataSync())).toEqual(Array.from(reference(x, g, b, eps).dataSync()));
      const m = tf.moments(x, [...Array(x.rank - 1).keys()]);
      expect(Array.from(r.mean.dataSync())).toEqual(Array.from(m.mean.dataSync()));
      expect(Array.from(r.variance.dataSync())).toEqual(Array.from(m.variance.dataSync()));
      tf.dispose([x, g, b, w, ...got, ...want, r.y, r.mean, r.variance, m.mean, m.variance]);
    });
  }

  it('a hand-checked case: x = [[1],[3]], γ = 2, β = 0, loss = Σ y·[1, 2]', async () => {
    await tf.setBackend('wasm');
    // mean 2, var 1, x̂ = [−1, 1], y = [−2, 2] (ε = 0). dy = [1, 2]: dβ = 3, dγ = Σ dy·x̂ = 1,
    // dx = γ·r/R·(R·dy − dβ − x̂·dγ) = 2/2·([2, 4] − 3 − [−1, 1]) = [0, 0]
    const x = tf.tensor2d([[1], [3]]);
    const [dx, dg, db] = tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) =>
      tf.sum(tf.mul(batchNormTraining(xi, gi as tf.Tensor1D, bi as tf.Tensor1D, 0).y, tf.tensor2d([[1], [2]]))),
    )([x, tf.tensor1d([2]), tf.tensor1d([0])]);
    expect(Array.from(dx.dataSync())).toEqual([0, 0]);
    expect(dg.dataSync()[0]).toBeCloseTo(1, 6);
    expect(db.dataSync()[0]).toBeCloseTo(3, 6);
  });

  it('rejects mismatched γ/β and does not leak tensors', async () => {
    await tf.setBackend('wasm');
    const x = seeded([4, 3, 3, 8], 5);
    const g = tf.ones([8]) as tf.Tensor1D;
    const b = tf.zeros([8]) as tf.Tensor1D;
    expect(() => batchNormTraining(x, tf.ones([7]) as tf.Tensor1D, b, 1e-5)).toThrow('batchNormTraining: expected x [..., C] with γ and β [C], got x [4,3,3,8], γ [7], β [8]');
    const step = () => tf.tidy(() => tf.grads((xi: tf.Tensor, gi: tf.Tensor) => tf.sum(tf.square(batchNormTraining(xi, gi as tf.Tensor1D, b, 1e-5).y)))([x, g]));
    tf.dispose(step());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(step());
    expect(tf.memory().numTensors).toBe(before);
  });
});
