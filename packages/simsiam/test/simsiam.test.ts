import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { plugins } from '@selfsup/core';
import { negativeCosine, SimSiamExperiment, simSiamLoss } from '../src';
import { useBackend } from '../../../test/helpers/backend';
import { fixedMatrix, mean, normalizeRows, shortRun, toTensor } from '../../../test/helpers/ssl-method';

/** ½·D(p₁, z₂) + ½·D(p₂, z₁), D = −mean cos, in float64 with plain loops. */
function simSiamReference(p1: number[][], z2: number[][], p2: number[][], z1: number[][]): number {
  const d = (p: number[][], z: number[][]) => {
    const a = normalizeRows(p);
    const b = normalizeRows(z);
    let s = 0;
    for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i].length; j++) s += a[i][j] * b[i][j];
    return -s / a.length;
  };
  return 0.5 * d(p1, z2) + 0.5 * d(p2, z1);
}

describe('simsiam: loss', () => {
  it('matches a float64 reference, in [−1, 1], −1 when p = z', async () => {
    await useBackend('cpu');
    const [p1, z2, p2, z1] = [1, 2, 3, 4].map((s) => fixedMatrix(6, 5, s));
    const got = tf.tidy(() => simSiamLoss(toTensor(p1), toTensor(z2), toTensor(p2), toTensor(z1)).dataSync()[0]);
    expect(got).toBeCloseTo(simSiamReference(p1, z2, p2, z1), 5);
    expect(tf.tidy(() => negativeCosine(toTensor(p1), toTensor(p1)).dataSync()[0])).toBeCloseTo(-1, 5);
  });

  it('stop-gradient: the z branches get exactly zero gradient, the p branches do not', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const [p1, z2, p2, z1] = [1, 2, 3, 4].map((s) => toTensor(fixedMatrix(6, 5, s)));
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
      simSiamLoss(a as tf.Tensor2D, b as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor2D),
    )([p1, z2, p2, z1]);
    const absMax = grads.map((g) => tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]));
    expect(absMax[0]).toBeGreaterThan(1e-4); // p1
    expect(absMax[2]).toBeGreaterThan(1e-4); // p2
    expect(absMax[1]).toBe(0); // z2: stop-gradient
    expect(absMax[3]).toBe(0); // z1: stop-gradient
    tf.dispose([...grads, p1, z2, p2, z1]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('simsiam: SimSiamExperiment', () => {
  it('is registered as method simsiam: encoder, projector, predictor; no target network', () => {
    expect(plugins.method('simsiam').ctor).toBe(SimSiamExperiment);
    expect(plugins.method('simsiam').defaultCallbacks ?? []).toEqual([]);
  });

  it('trains on the embedded Fashion-MNIST subset: loss falls, tensor count flat, logs z_std', async () => {
    await useBackend('wasm');
    const exp = new SimSiamExperiment({
      batchSize: 32,
      seed: 0,
      model: { width: 1 / 16, projectorHiddenDim: 64, projectorDim: 32, predictorHiddenDim: 16 },
      optimizer: { name: 'adam', lr: 3e-3, scaleLr: false },
      augment: { preset: 'byol-small-gray' },
    });
    const r = await shortRun(exp);
    expect(r.losses.every((l) => l >= -1 && l <= 1)).toBe(true);
    expect(mean(r.losses.slice(-3))).toBeLessThan(mean(r.losses.slice(0, 3)));
    expect(new Set(r.counts.slice(1)).size).toBe(1);
    expect(r.logged).toEqual(expect.arrayContaining(['loss', 'z_std', 'lr']));
    expect([...exp.models.keys()].sort()).toEqual(['online_encoder', 'online_predictor', 'online_projector']);
    exp.dispose();
  });
});
