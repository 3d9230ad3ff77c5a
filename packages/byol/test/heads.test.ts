import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildMlpHead, countTrainableParams } from '../src/models';
import { useBackend } from '../../../test/helpers/backend';

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
    tf.tidy(() => {
      const x = tf.randomNormal([5, 6], 3, 2, 'float32', 2);
      expect((head.apply(x, { training: true }) as tf.Tensor).shape).toEqual([5, 3]);
      // After one training pass, moving_mean = 0.1·batch mean of linear1's output.
      const pre = head.getLayer('fwd_head/linear1').apply(x) as tf.Tensor;
      const movingMean = head.getLayer('fwd_head/bn1').getWeights()[2];
      const diff = tf.max(tf.abs(tf.sub(movingMean, tf.mul(0.1, tf.mean(pre, 0))))).dataSync()[0];
      expect(diff).toBeLessThan(1e-5);
    });
    head.dispose();
  });

  it('explains bad sizes and a missing name', () => {
    expect(() => buildMlpHead({ inputDim: 8, hiddenDim: 0, name: 'bad' })).toThrow('buildMlpHead("bad"): hiddenDim must be a positive integer, got 0.');
    expect(() => buildMlpHead({ inputDim: 8.5, name: 'bad' })).toThrow(/inputDim must be a positive integer, got 8.5/);
    expect(() => buildMlpHead({ inputDim: 8, name: '' })).toThrow(/name is required/);
  });
});
