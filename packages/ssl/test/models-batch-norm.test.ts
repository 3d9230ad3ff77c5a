import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { buildResNet } from '../src';
import { TrainingBatchNormalization } from '../src/models/batch-norm';
import { relErr, seeded as seededIn } from '../../../test/helpers/backend-compare';
import { useBackend } from '../../../test/helpers/backend';

const seeded = (shape: number[], seed: number) => seededIn(shape, seed, 1.5, 0.3);

beforeAll(async () => {
  await useBackend('cpu');
});

describe('TrainingBatchNormalization (the models\' batch norm)', () => {
  const args = { axis: -1, epsilon: 1e-5, momentum: 0.9, gammaInitializer: 'randomUniform', betaInitializer: 'randomUniform' } as const;

  function pair(shape: number[]) {
    const ours = new TrainingBatchNormalization({ ...args });
    const std = tf.layers.batchNormalization({ ...args });
    ours.build(shape);
    std.build(shape);
    std.setWeights(ours.getWeights());
    return { ours, std };
  }

  it.each([[[4, 3, 3, 5]], [[6, 8]]])('in training matches tf.layers.batchNormalization on %j: output, moving statistics, gradients', (shape) => {
    const { ours, std } = pair(shape);
    const x = seeded(shape, 1);
    const w = seeded(shape, 2);
    const run = (layer: tf.layers.Layer) => {
      const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.square(layer.apply(x, { training: true }) as tf.Tensor), w)) as tf.Scalar, vars);
      const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(tf.square(layer.apply(xi, { training: true }) as tf.Tensor), w)))(x);
      return { value: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync()), dx: dx.dataSync(), stats: layer.getWeights().slice(2).map((t) => Array.from(t.dataSync())) };
    };
    const a = run(ours);
    const b = run(std);
    expect(a.value).toBe(b.value); // identical forward computation
    expect(a.stats).toEqual(b.stats); // moving mean / variance updated the same way (twice)
    expect(a.grads).toHaveLength(2);
    a.grads.forEach((g, i) => expect(relErr(g, b.grads[i])).toBeLessThan(1e-4));
    expect(relErr(a.dx, b.dx)).toBeLessThan(1e-4);
  });

  it('in inference mode runs the standard code (same output bits)', () => {
    const { ours, std } = pair([2, 4]);
    const x = seeded([2, 4], 3);
    expect(Array.from((ours.apply(x) as tf.Tensor).dataSync())).toEqual(Array.from((std.apply(x) as tf.Tensor).dataSync()));
  });

  it('serialises as a plain BatchNormalization, so exported encoders load in stock tfjs', async () => {
    const model = buildResNet({ depth: 18, stem: 'cifar', inputShape: [8, 8, 1], width: 1 / 16, name: 'bn_ser' });
    const json = model.toJSON(null, false) as unknown as { config: { layers: { class_name: string; name: string }[] } };
    const bn = json.config.layers.filter((l) => l.name.includes('bn1'));
    expect(bn.length).toBeGreaterThan(0);
    expect(new Set(bn.map((l) => l.class_name))).toEqual(new Set(['BatchNormalization']));
    const loaded = await tf.models.modelFromJSON({ modelTopology: json } as unknown as tf.io.ModelJSON);
    expect(loaded.weights.length).toBe(model.weights.length);
    // and loads back as this class (an EMA target cloned from its online network trains the same way)
    const loadedBn = loaded.layers.filter((l) => l.name.includes('bn1'));
    expect(loadedBn.length).toBe(bn.length);
    for (const l of loadedBn) expect(l).toBeInstanceOf(TrainingBatchNormalization);
    model.dispose();
    loaded.dispose();
  });

  it('does not leak tensors in training', () => {
    const { ours } = pair([4, 2, 2, 3]);
    const x = seeded([4, 2, 2, 3], 4);
    const vars = ours.trainableWeights.map((v) => v.read() as tf.Variable);
    const step = () => tf.tidy(() => tf.dispose(tf.variableGrads(() => tf.sum(ours.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars).grads));
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
  });
});
