import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { plugins } from '@selfsup/core';
import { ntXentLoss, SimClrExperiment } from '../src';
import { useBackend } from '../../../test/helpers/backend';
import { fixedMatrix, mean, normalizeRows, expectLearnsWithoutLeaks, TINY_RUN, toTensor } from '../../../test/helpers/ssl-method';

/** NT-Xent in float64 with plain loops. */
function ntXentReference(z1: number[][], z2: number[][], t: number): number {
  const n = z1.length;
  const z = normalizeRows([...z1, ...z2]);
  const dot = (a: number[], b: number[]) => a.reduce((s, v, k) => s + v * b[k], 0);
  let total = 0;
  for (let i = 0; i < 2 * n; i++) {
    let sum = 0;
    for (let j = 0; j < 2 * n; j++) if (j !== i) sum += Math.exp(dot(z[i], z[j]) / t);
    const pos = i < n ? i + n : i - n;
    total += Math.log(sum) - dot(z[i], z[pos]) / t;
  }
  return total / (2 * n);
}

describe('simclr: NT-Xent', () => {
  it.each([0.1, 0.2, 0.5, 1])('matches a float64 reference at temperature %s', async (t) => {
    await useBackend('cpu');
    const z1 = fixedMatrix(6, 5, 1);
    const z2 = fixedMatrix(6, 5, 2);
    const got = tf.tidy(() => ntXentLoss(toTensor(z1), toTensor(z2), t).dataSync()[0]);
    expect(got).toBeCloseTo(ntXentReference(z1, z2, t), 4);
  });

  it('is log(2N − 1) for identical collapsed projections, and smaller when each view matches its pair only', async () => {
    await useBackend('cpu');
    const same = Array.from({ length: 4 }, () => [1, 0, 0]);
    expect(tf.tidy(() => ntXentLoss(toTensor(same), toTensor(same), 0.5).dataSync()[0])).toBeCloseTo(Math.log(7), 5);
    const eye = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    expect(tf.tidy(() => ntXentLoss(toTensor(eye), toTensor(eye), 0.1).dataSync()[0])).toBeLessThan(0.01);
  });

  it('gradients reach both views (no stop-gradient branch), and the loss does not leak tensors', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const [g1, g2] = tf.tidy(() => {
      const a = toTensor(fixedMatrix(4, 3, 3));
      const b = toTensor(fixedMatrix(4, 3, 4));
      return tf.grads((x: tf.Tensor, y: tf.Tensor) => ntXentLoss(x as tf.Tensor2D, y as tf.Tensor2D, 0.2))([a, b]).map((g) => tf.max(tf.abs(g)));
    });
    expect(g1.dataSync()[0]).toBeGreaterThan(1e-4);
    expect(g2.dataSync()[0]).toBeGreaterThan(1e-4);
    tf.dispose([g1, g2]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('simclr: SimClrExperiment', () => {
  it('is registered as method simclr with a loss: section (temperature 0.2 by default)', () => {
    expect(plugins.method('simclr').ctor).toBe(SimClrExperiment);
    expect(new SimClrExperiment({ inputShape: [28, 28, 1] }).lossConfig.temperature).toBe(0.2);
    expect(() => new SimClrExperiment({ loss: { temperature: -1 } })).toThrow(/temperature/);
  });

  it('trains on the embedded Fashion-MNIST subset: loss falls, tensor count flat, logs z_std', async () => {
    await useBackend('wasm');
    const exp = new SimClrExperiment({ ...TINY_RUN });
    await expectLearnsWithoutLeaks(exp, ['loss', 'z_std', 'lr']);
    expect([...exp.models.keys()].sort()).toEqual(['online_encoder', 'online_projector']);
    exp.dispose();
  });
});
