import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildMlpHead, countTrainableParams } from '../src/models';
import { useBackend } from '../../../test/helpers/backend';
import { seeded } from '../../../test/helpers/backend-compare';

beforeAll(async () => {
  await useBackend('wasm');
});

const stats = (t: tf.Tensor) => {
  const v = Array.from(t.dataSync());
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return { min: v.reduce((a, b) => Math.min(a, b)), max: v.reduce((a, b) => Math.max(a, b)), mean, std };
};

describe('buildMlpHead', () => {
  it('has the BYOL defaults 4096 → 256 and torch parameter counts', () => {
    const head = buildMlpHead({ inputDim: 512, name: 'online_projector' });
    // torch: Linear(512, 4096) 2,101,248 + BatchNorm1d(4096) 8,192 + Linear(4096, 256) 1,048,832
    expect(countTrainableParams(head)).toBe(3_158_272);
    expect(head.outputs[0].shape).toEqual([null, 256]);
    head.dispose();
  });

  it('is Linear → BN → ReLU → Linear with prefixed names and no BN on the output', () => {
    const head = buildMlpHead({ inputDim: 8, hiddenDim: 16, outputDim: 4, name: 'online_predictor' });
    expect(head.layers.map((l) => `${l.getClassName()}:${l.name}`)).toEqual([
      'InputLayer:online_predictor/input',
      'Dense:online_predictor/linear1',
      'BatchNormalization:online_predictor/bn1',
      'ReLU:online_predictor/relu1',
      'Dense:online_predictor/linear2',
    ]);
    expect(head.getLayer('online_predictor/bn1').getConfig()).toMatchObject({ epsilon: 1e-5, momentum: 0.9 });
    expect(head.getLayer('online_predictor/linear2').getConfig()).toMatchObject({ activation: 'linear', useBias: true });
    head.dispose();
  });

  it('initialises like torch.nn.Linear: weight and bias ~ U(±1/√fan_in)', () => {
    const head = buildMlpHead({ inputDim: 256, hiddenDim: 1024, outputDim: 64, name: 'init_head', seed: 11 });
    const [k1, b1] = head.getLayer('init_head/linear1').getWeights();
    const bound1 = 1 / 16; // 1/√256
    const s = stats(k1);
    expect(s.min).toBeGreaterThanOrEqual(-bound1);
    expect(s.max).toBeLessThanOrEqual(bound1);
    expect(s.max).toBeGreaterThan(0.99 * bound1); // fills the interval (not a normal)
    expect(s.std / (bound1 / Math.sqrt(3))).toBeCloseTo(1, 1); // uniform std = bound/√3
    const sb = stats(b1);
    expect(sb.max).toBeLessThanOrEqual(bound1);
    expect(sb.std).toBeGreaterThan(0.5 * bound1 / Math.sqrt(3)); // not zeros as tfjs defaults
    const [k2] = head.getLayer('init_head/linear2').getWeights();
    expect(stats(k2).max).toBeLessThanOrEqual(1 / 32); // 1/√1024
    head.dispose();
  });

  it('maps [batch, inputDim] → [batch, outputDim] and normalises with batch statistics in training', () => {
    const head = buildMlpHead({ inputDim: 6, hiddenDim: 10, outputDim: 3, name: 'fwd_head', seed: 1 });
    const bn = head.getLayer('fwd_head/bn1');
    // γ and β away from 1 and 0, so that using them (or not) shows; moving stats at their start.
    const gamma = Array.from({ length: 10 }, (_, j) => 0.5 + 0.1 * j);
    const beta = Array.from({ length: 10 }, (_, j) => 0.2 * j - 0.9);
    bn.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), tf.zeros([10]), tf.ones([10])]);
    const [k1, b1] = head.getLayer('fwd_head/linear1').getWeights().map((w) => Array.from(w.dataSync()));
    const [k2, b2] = head.getLayer('fwd_head/linear2').getWeights().map((w) => Array.from(w.dataSync()));
    const n = 5;
    const x = seeded([n, 6], 2, 2, 3);
    const xs = Array.from(x.dataSync());

    // The head in float64, written out: h = x·K1 + b1; BN with the given per-feature mean and
    // variance; ReLU; y = a·K2 + b2.
    const h = Array.from({ length: n }, (_, r) => Array.from({ length: 10 }, (_, j) => b1[j] + xs.slice(r * 6, r * 6 + 6).reduce((acc, v, i) => acc + v * k1[i * 10 + j], 0)));
    const mean = Array.from({ length: 10 }, (_, j) => h.reduce((acc, row) => acc + row[j], 0) / n);
    const variance = Array.from({ length: 10 }, (_, j) => h.reduce((acc, row) => acc + (row[j] - mean[j]) ** 2, 0) / n); // biased, as tf.moments
    const forward = (mu: number[], v: number[]) =>
      h.map((row) => {
        const a = row.map((hv, j) => Math.max(0, gamma[j] * (hv - mu[j]) / Math.sqrt(v[j] + 1e-5) + beta[j]));
        return Array.from({ length: 3 }, (_, o) => b2[o] + a.reduce((acc, av, j) => acc + av * k2[j * 3 + o], 0));
      });
    const expectClose = (got: tf.Tensor, want: number[][]) => {
      expect(got.shape).toEqual([n, 3]);
      const g = Array.from(got.dataSync());
      want.flat().forEach((w, i) => expect(Math.abs(g[i] - w)).toBeLessThan(1e-4 * (1 + Math.abs(w))));
    };
    const withBatchStats = forward(mean, variance);
    const withMovingStats = forward(new Array(10).fill(0), new Array(10).fill(1));
    // the two differ by far more than the tolerance, so each check below can tell them apart
    expect(Math.max(...withBatchStats.flat().map((v, i) => Math.abs(v - withMovingStats.flat()[i])))).toBeGreaterThan(0.1);

    tf.tidy(() => expectClose(head.apply(x, { training: true }) as tf.Tensor, withBatchStats));
    // the moving statistics took one step: v ← 0.9·v + 0.1·batch value
    const [, , movingMean, movingVariance] = bn.getWeights().map((w) => Array.from(w.dataSync()));
    movingMean.forEach((v, j) => expect(v).toBeCloseTo(0.1 * mean[j], 4));
    movingVariance.forEach((v, j) => expect(v).toBeCloseTo(0.9 + 0.1 * variance[j], 4));
    // inference uses the moving statistics, not the batch's
    const moved = forward(movingMean, movingVariance);
    tf.tidy(() => expectClose(head.apply(x, { training: false }) as tf.Tensor, moved));
    x.dispose();
    head.dispose();
  });

  it('explains bad sizes and a missing name', () => {
    expect(() => buildMlpHead({ inputDim: 8, hiddenDim: 0, name: 'bad' })).toThrow('buildMlpHead("bad"): hiddenDim must be a positive integer, got 0.');
    expect(() => buildMlpHead({ inputDim: 8.5, name: 'bad' })).toThrow(/inputDim must be a positive integer, got 8.5/);
    expect(() => buildMlpHead({ inputDim: 8, name: '' })).toThrow(/name is required/);
  });
});
