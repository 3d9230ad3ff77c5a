import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { plugins } from '@selfsup/core';
import { VicRegExperiment, vicRegLoss, vicRegTerms } from '../src';
import { useBackend } from '../../../test/helpers/backend';
import { colMeans, fixedMatrix, expectLearnsWithoutLeaks, TINY_RUN, toTensor } from '../../../test/helpers/ssl-method';

/** VICReg as the official code computes it, in float64 with plain loops. */
function vicRegReference(z1: number[][], z2: number[][], w = { invariance: 25, variance: 25, covariance: 1 }) {
  const n = z1.length;
  const d = z1[0].length;
  let inv = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) inv += (z1[i][j] - z2[i][j]) ** 2;
  inv /= n * d;
  let variance = 0;
  let covariance = 0;
  for (const z of [z1, z2]) {
    const mu = colMeans(z);
    const c = z.map((r) => r.map((v, j) => v - mu[j]));
    let hinge = 0;
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let i = 0; i < n; i++) v += c[i][j] ** 2;
      hinge += Math.max(0, 1 - Math.sqrt(v / (n - 1) + 1e-4));
    }
    variance += hinge / d / 2;
    let off = 0;
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) {
        if (a === b) continue;
        let cov = 0;
        for (let i = 0; i < n; i++) cov += c[i][a] * c[i][b];
        off += (cov / (n - 1)) ** 2;
      }
    }
    covariance += off / d;
  }
  return { inv, variance, covariance, loss: w.invariance * inv + w.variance * variance + w.covariance * covariance };
}

describe('vicreg: loss', () => {
  it('matches a float64 reference, term by term, with the default weights 25/25/1', async () => {
    await useBackend('cpu');
    for (const [n, d, scale] of [[8, 4, 1], [5, 6, 0.3], [16, 3, 2]] as const) {
      const z1 = fixedMatrix(n, d, 10 + n).map((r) => r.map((v) => v * scale));
      const z2 = fixedMatrix(n, d, 20 + d).map((r) => r.map((v) => v * scale));
      const ref = vicRegReference(z1, z2);
      const got = tf.tidy(() => {
        const t = vicRegTerms(toTensor(z1), toTensor(z2));
        return [t.loss, t.invariance, t.variance, t.covariance].map((x) => x.dataSync()[0]);
      });
      expect(got[1]).toBeCloseTo(ref.inv, 5);
      expect(got[2]).toBeCloseTo(ref.variance, 5);
      expect(got[3]).toBeCloseTo(ref.covariance, 5);
      expect(got[0]).toBeCloseTo(ref.loss, 4);
    }
  });

  it('takes other weights', async () => {
    await useBackend('cpu');
    const z1 = fixedMatrix(6, 4, 7);
    const z2 = fixedMatrix(6, 4, 8);
    const w = { invariance: 1, variance: 2, covariance: 3 };
    expect(tf.tidy(() => vicRegLoss(toTensor(z1), toTensor(z2), w).dataSync()[0])).toBeCloseTo(vicRegReference(z1, z2, w).loss, 4);
  });

  it('gradients reach both views (no stop-gradient branch), without leaking tensors', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const gs = tf.tidy(() =>
      tf.grads((x: tf.Tensor, y: tf.Tensor) => vicRegLoss(x as tf.Tensor2D, y as tf.Tensor2D))([toTensor(fixedMatrix(6, 4, 1)), toTensor(fixedMatrix(6, 4, 2))]).map((g) => tf.max(tf.abs(g))),
    );
    for (const g of gs) expect(g.dataSync()[0]).toBeGreaterThan(1e-4);
    tf.dispose(gs);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('vicreg: VicRegExperiment', () => {
  it('is registered as method vicreg with a loss: section (25/25/1 by default)', () => {
    expect(plugins.method('vicreg').ctor).toBe(VicRegExperiment);
    const l = new VicRegExperiment({ inputShape: [28, 28, 1] }).lossConfig;
    expect([l.invariance, l.variance, l.covariance]).toEqual([25, 25, 1]);
  });

  it('trains on the embedded Fashion-MNIST subset: loss falls, tensor count flat, logs z_std and the three terms', async () => {
    await useBackend('wasm');
    const exp = new VicRegExperiment({ ...TINY_RUN });
    await expectLearnsWithoutLeaks(exp, ['loss', 'z_std', 'vicreg_inv', 'vicreg_var', 'vicreg_cov', 'lr']);
    exp.dispose();
  });
});
