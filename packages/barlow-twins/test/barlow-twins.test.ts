import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { plugins } from '@selfsup/core';
import { BarlowTwinsExperiment, barlowTwinsLoss, barlowTwinsTerms } from '../src';
import { useBackend } from '../../../test/helpers/backend';
import { colMeans, fixedMatrix, expectLearnsWithoutLeaks, TINY_RUN, toTensor } from '../../../test/helpers/ssl-method';

/** Barlow Twins in float64 with plain loops: BatchNorm1d(affine=False) per view, C = aᵀb / N. */
function barlowReference(z1: number[][], z2: number[][], lambda = 5e-3) {
  const n = z1.length;
  const d = z1[0].length;
  const bn = (z: number[][]) => {
    const mu = colMeans(z);
    const sd = mu.map((m, j) => Math.sqrt(z.reduce((s, r) => s + (r[j] - m) ** 2, 0) / n + 1e-5));
    return z.map((r) => r.map((v, j) => (v - mu[j]) / sd[j]));
  };
  const a = bn(z1);
  const b = bn(z2);
  let on = 0;
  let off = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let c = 0;
      for (let k = 0; k < n; k++) c += a[k][i] * b[k][j];
      c /= n;
      if (i === j) on += (1 - c) ** 2;
      else off += c ** 2;
    }
  }
  return { on, off, loss: on + lambda * off };
}

describe('barlow-twins: loss', () => {
  it('matches a float64 reference, term by term, with λ = 5e-3 by default', async () => {
    await useBackend('cpu');
    for (const [n, d] of [[8, 4], [5, 7], [16, 3]] as const) {
      const z1 = fixedMatrix(n, d, 30 + n);
      const z2 = fixedMatrix(n, d, 40 + d);
      const ref = barlowReference(z1, z2);
      const got = tf.tidy(() => {
        const t = barlowTwinsTerms(toTensor(z1), toTensor(z2));
        return [t.loss, t.onDiagonal, t.offDiagonal].map((x) => x.dataSync()[0]);
      });
      expect(got[1]).toBeCloseTo(ref.on, 4);
      expect(got[2]).toBeCloseTo(ref.off, 4);
      expect(got[0]).toBeCloseTo(ref.loss, 4);
    }
  });

  it('takes another λ, and is ~0 on the diagonal for identical views', async () => {
    await useBackend('cpu');
    const z1 = fixedMatrix(6, 4, 5);
    const z2 = fixedMatrix(6, 4, 6);
    expect(tf.tidy(() => barlowTwinsLoss(toTensor(z1), toTensor(z2), 0.1).dataSync()[0])).toBeCloseTo(barlowReference(z1, z2, 0.1).loss, 4);
    const on = tf.tidy(() => barlowTwinsTerms(toTensor(z1), toTensor(z1)).onDiagonal.dataSync()[0]);
    expect(on).toBeLessThan(1e-4);
  });

  it('scale multiplies the loss (solo-learn scale_loss) and its gradients, not the logged terms', async () => {
    await useBackend('cpu');
    const z1 = fixedMatrix(8, 5, 11);
    const z2 = fixedMatrix(8, 5, 12);
    const ref = barlowReference(z1, z2, 5e-3);
    const got = tf.tidy(() => {
      const t = barlowTwinsTerms(toTensor(z1), toTensor(z2), 5e-3, 1e-5, 0.1);
      return [t.loss, t.onDiagonal, t.offDiagonal].map((x) => x.dataSync()[0]);
    });
    expect(got[0]).toBeCloseTo(0.1 * ref.loss, 5);
    expect(got[1]).toBeCloseTo(ref.on, 4);
    expect(got[2]).toBeCloseTo(ref.off, 4);
    expect(tf.tidy(() => barlowTwinsLoss(toTensor(z1), toTensor(z2), 5e-3, 1e-5, 0.1).dataSync()[0])).toBeCloseTo(0.1 * ref.loss, 5);
    const grad = (scale: number) =>
      tf.tidy(() => Array.from(tf.grad((x: tf.Tensor) => barlowTwinsLoss(x as tf.Tensor2D, toTensor(z2), 5e-3, 1e-5, scale))(toTensor(z1)).dataSync()));
    const g1 = grad(1);
    const g01 = grad(0.1);
    expect(Math.max(...g1.map(Math.abs))).toBeGreaterThan(1e-3);
    g1.forEach((v, i) => expect(g01[i]).toBeCloseTo(0.1 * v, 5));
  });

  it('gradients reach both views (no stop-gradient branch), without leaking tensors', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const gs = tf.tidy(() =>
      tf.grads((x: tf.Tensor, y: tf.Tensor) => barlowTwinsLoss(x as tf.Tensor2D, y as tf.Tensor2D))([toTensor(fixedMatrix(6, 4, 1)), toTensor(fixedMatrix(6, 4, 2))]).map((g) => tf.max(tf.abs(g))),
    );
    for (const g of gs) expect(g.dataSync()[0]).toBeGreaterThan(1e-4);
    tf.dispose(gs);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('barlow-twins: BarlowTwinsExperiment', () => {
  it('is registered as method barlow-twins with a loss: section (λ 5e-3, scale 1 by default)', () => {
    expect(plugins.method('barlow-twins').ctor).toBe(BarlowTwinsExperiment);
    expect(new BarlowTwinsExperiment({ inputShape: [28, 28, 1] }).lossConfig).toMatchObject({ lambda: 5e-3, scale: 1 });
    expect(new BarlowTwinsExperiment({ inputShape: [28, 28, 1], loss: { scale: 0.1 } }).lossConfig.scale).toBe(0.1);
  });

  it('trains on the embedded Fashion-MNIST subset: loss falls, tensor count flat, logs z_std and both terms', async () => {
    await useBackend('wasm');
    const exp = new BarlowTwinsExperiment({ ...TINY_RUN });
    await expectLearnsWithoutLeaks(exp, ['loss', 'z_std', 'bt_on_diag', 'bt_off_diag', 'lr']);
    exp.dispose();
  });
});
