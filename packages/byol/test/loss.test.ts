import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { byolRegressionLoss, stopGradient, symmetricByolLoss, zStd } from '../src/loss';
import { useBackend } from '../../../test/helpers/backend';

const t2 = (rows: number[][]) => tf.tensor2d(rows);
const value = (t: tf.Tensor) => t.dataSync()[0];

// Three pairs whose cosines are easy by hand: (1,0)·(0,2) → cos 0 → 2 − 2·0 = 2;
// (3,4)·(6,8) → cos 1 → 0; (1,1)·(1,0) → cos 1/√2 → 2 − √2. Mean (4 − √2)/3.
const P = [[1, 0], [3, 4], [1, 1]];
const Z = [[0, 2], [6, 8], [1, 0]];
const LOSS_PZ = (4 - Math.SQRT2) / 3; // 0.8619288125423017 (numpy agrees)

beforeAll(async () => {
  await useBackend('wasm');
});

describe('byolRegressionLoss', () => {
  it('equals mean(2 − 2·cos) on fixed vectors', () => {
    tf.tidy(() => {
      expect(value(byolRegressionLoss(t2(P), t2(Z)))).toBeCloseTo(LOSS_PZ, 6);
      // Identical directions → 0, opposite → 4: the loss's range.
      expect(value(byolRegressionLoss(t2([[1, 2]]), t2([[2, 4]])))).toBeCloseTo(0, 6);
      expect(value(byolRegressionLoss(t2([[1, 2]]), t2([[-1, -2]])))).toBeCloseTo(4, 6);
    });
  });

  it('has exactly zero gradient w.r.t. the target branch', () => {
    tf.tidy(() => {
      const [, dz] = tf.grads((p: tf.Tensor, z: tf.Tensor) => byolRegressionLoss(p as tf.Tensor2D, z as tf.Tensor2D))([t2(P), t2(Z)]);
      expect(Array.from(dz.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    });
    // Same through variables, as a train step sees them.
    const pv = tf.variable(t2(P), true, 'loss_test/p');
    const zv = tf.variable(t2(Z), true, 'loss_test/z');
    const { grads, value: v } = tf.variableGrads(() => byolRegressionLoss(pv, zv), [pv, zv]);
    expect(Array.from(grads['loss_test/z'].dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Math.max(...Array.from(grads['loss_test/p'].dataSync()).map(Math.abs))).toBeGreaterThan(0.1);
    tf.dispose([pv, zv, v, ...Object.values(grads)]);
  });

  it('has the hand-derived gradient w.r.t. the prediction', () => {
    // ∂ℓ/∂p_i = −(2/B)·(ẑ_i − cos_i·p̂_i)/‖p_i‖, B = 3:
    //   row 1: p̂ = (1,0), ẑ = (0,1), cos 0, ‖p‖ 1   → (0, −2/3)
    //   row 2: ẑ = p̂                                → (0, 0)
    //   row 3: p̂ = (1,1)/√2, ẑ = (1,0), cos 1/√2, ‖p‖ √2 → −(2/3)·(½, −½)/√2 = (−√2/6, √2/6)
    const r = Math.SQRT2 / 6;
    const expected = [0, -2 / 3, 0, 0, -r, r];
    tf.tidy(() => {
      const dp = tf.grad((p: tf.Tensor) => byolRegressionLoss(p as tf.Tensor2D, t2(Z)))(t2(P));
      Array.from(dp.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5));
    });
  });

  it('matches a central finite difference of itself', () => {
    const p = [[0.3, -1.2, 0.5], [2.0, 0.1, -0.7]];
    const z = [[1.0, 0.4, -0.2], [-0.5, 0.9, 0.3]];
    const h = 1e-2;
    tf.tidy(() => {
      const dp = tf.grad((x: tf.Tensor) => byolRegressionLoss(x as tf.Tensor2D, t2(z)))(t2(p)).dataSync();
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) {
          const plus = p.map((row) => row.slice());
          const minus = p.map((row) => row.slice());
          plus[i][j] += h;
          minus[i][j] -= h;
          const fd = (value(byolRegressionLoss(t2(plus), t2(z))) - value(byolRegressionLoss(t2(minus), t2(z)))) / (2 * h);
          expect(dp[i * 3 + j]).toBeCloseTo(fd, 3);
        }
      }
    });
  });

  it('names both shapes when they disagree', () => {
    tf.tidy(() => {
      expect(() => byolRegressionLoss(t2([[1, 2, 3]]), t2([[1, 2]]))).toThrow(/\[1,3\] and \[1,2\]/);
    });
  });
});

describe('symmetricByolLoss', () => {
  it('is the sum of both directions', () => {
    // Second direction: cos 1, −1, 0 → 0, 4, 2 → mean 2.
    const P2 = [[1, 0], [0, 1], [1, 0]];
    const Z1 = [[5, 0], [0, -1], [0, 3]];
    tf.tidy(() => {
      expect(value(symmetricByolLoss(t2(P), t2(Z), t2(P2), t2(Z1)))).toBeCloseTo(LOSS_PZ + 2, 6);
    });
  });
});

describe('stopGradient', () => {
  it('is the identity forwards', () => {
    tf.tidy(() => {
      expect(Array.from(stopGradient(t2(P)).dataSync())).toEqual(P.flat());
    });
  });
});

describe('zStd', () => {
  it('matches numpy on fixed projections', () => {
    tf.tidy(() => {
      // Rows normalise to (1,0), (0,1): per dim values {1, 0}, unbiased std √0.5.
      expect(value(zStd(t2([[1, 0], [0, 1]])))).toBeCloseTo(Math.SQRT1_2, 6);
      // numpy: (z/‖z‖).std(axis=0, ddof=1).mean() = 0.5140989589607085
      expect(value(zStd(t2([[2, 0], [0, 3], [1, 1]])))).toBeCloseTo(0.5140989589607085, 6);
    });
  });

  it('is 0 for collapsed projections and ≈ 1/√d for isotropic ones', () => {
    tf.tidy(() => {
      expect(value(zStd(t2([[1, 2, 3], [2, 4, 6], [0.5, 1, 1.5]])))).toBeCloseTo(0, 6);
      const d = 16;
      const healthy = value(zStd(tf.randomNormal([2000, d], 0, 1, 'float32', 7) as tf.Tensor2D));
      expect(healthy).toBeGreaterThan(0.9 / Math.sqrt(d));
      expect(healthy).toBeLessThan(1.1 / Math.sqrt(d));
    });
  });

  it('rejects a batch of one', () => {
    tf.tidy(() => {
      expect(() => zStd(t2([[1, 2]]))).toThrow(/at least 2/);
    });
  });
});

describe('memory', () => {
  it('does not leak tensors across repeated calls', () => {
    const p = t2(P);
    const z = t2(Z);
    const run = () => {
      tf.tidy(() => {
        symmetricByolLoss(p, z, z, p);
        zStd(z);
        tf.grads((a: tf.Tensor, b: tf.Tensor) => byolRegressionLoss(a as tf.Tensor2D, b as tf.Tensor2D))([p, z]);
      });
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([p, z]);
  });
});
