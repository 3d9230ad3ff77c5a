import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { accumulateGradients, selectBackend, splitBatch } from '../src/backend';

beforeAll(async () => {
  await selectBackend('wasm', { threads: 2, nativeKernels: 'off', log: () => undefined });
});

describe('accumulateGradients', () => {
  // y = x·w + b with MSE: with equal micro-batches, the mean of the micro-batch gradients
  // is the full-batch gradient.
  const x = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]);
  const t = tf.tensor2d([[1], [0], [2], [1]]);
  const w = tf.variable(tf.tensor2d([[0.5], [-0.25]]), true, 'acc_w');
  const b = tf.variable(tf.tensor1d([0.1]), true, 'acc_b');
  const loss = (xs: tf.Tensor, ts: tf.Tensor) => tf.losses.meanSquaredError(ts, tf.add(tf.matMul(xs, w), b)) as tf.Scalar;

  it('matches the full-batch loss and gradients', () => {
    // by hand (checked with numpy): preds = [0.1, 0.6, 1.1, 1.6], err = preds − t = [−0.9, 0.6, −0.9, 0.6]
    // loss = mean(err²) = 2.34/4 = 0.585; dL/dw = (2/4)·xᵀerr = [0.3, 0]; dL/db = (2/4)·Σerr = −0.3
    const xs = splitBatch(x, 2);
    const ts = splitBatch(t, 2);
    const acc = accumulateGradients((i) => loss(xs[i], ts[i]), [w, b], 2);
    expect(acc.loss.dataSync()[0]).toBeCloseTo(0.585, 5);
    const gw = Array.from(acc.grads['acc_w'].dataSync());
    expect(gw[0]).toBeCloseTo(0.3, 5);
    expect(gw[1]).toBeCloseTo(0, 5);
    expect(acc.grads['acc_b'].dataSync()[0]).toBeCloseTo(-0.3, 5);
    tf.dispose([acc.loss, ...Object.values(acc.grads), ...xs, ...ts]);
  });

  it('does not leak across steps and feeds an optimizer', () => {
    const opt = tf.train.sgd(0.01);
    const run = () => {
      const xs = splitBatch(x, 4);
      const ts = splitBatch(t, 4);
      const acc = accumulateGradients((i) => loss(xs[i], ts[i]), [w, b], 4);
      opt.applyGradients(acc.grads);
      const l = acc.loss.dataSync()[0];
      tf.dispose([acc.loss, ...Object.values(acc.grads), ...xs, ...ts]);
      return l;
    };
    const first = run();
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 5; i++) last = run();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first);
  });

  it('rejects bad arguments with the value', () => {
    expect(() => accumulateGradients(() => tf.scalar(0), [w], 0)).toThrow('microBatches must be a positive integer, got 0');
    expect(() => splitBatch(x, 5)).toThrow('parts must be an integer in [1, 4] for a batch of 4, got 5');
    const unused = tf.variable(tf.scalar(1), true, 'acc_unused');
    expect(() => accumulateGradients(() => loss(x, t), [w, unused], 1)).toThrow(/acc_unused got no gradient/);
    unused.dispose();
  });
});
