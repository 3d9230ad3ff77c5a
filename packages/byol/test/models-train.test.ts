import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byolRegressionLoss } from '../src/loss';
import { buildMlpHead, buildResNet, trainableVariables } from '@selfsup/ssl';
import { createOptimizer } from '@selfsup/ssl';
import { useBackend } from '../../../test/helpers/backend';

// Conv gradients need the cpu backend until the wasm Conv2DBackpropFilter kernel lands.
beforeAll(async () => {
  await useBackend('cpu');
});

const tiny = (name: string, seed: number) =>
  buildResNet({ depth: 18, stem: 'cifar', inputShape: [8, 8, 1], width: 1 / 16, name, seed });

describe('a BYOL-shaped training step on a tiny CIFAR-stem ResNet-18', () => {
  const encoder = tiny('online_encoder', 1);
  const projector = buildMlpHead({ inputDim: 32, hiddenDim: 16, outputDim: 8, name: 'online_projector', seed: 2 });
  const predictor = buildMlpHead({ inputDim: 8, hiddenDim: 16, outputDim: 8, name: 'online_predictor', seed: 3 });
  const targetEncoder = tiny('target_encoder', 4);
  const targetProjector = buildMlpHead({ inputDim: 32, hiddenDim: 16, outputDim: 8, name: 'target_projector', seed: 5 });
  const online = [encoder, projector, predictor];
  const onlineVars = online.flatMap(trainableVariables);
  let x: tf.Tensor4D;
  let target: tf.Tensor2D;

  beforeAll(() => {
    x = tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    target = tf.tidy(() => targetProjector.apply(targetEncoder.apply(x, { training: true }), { training: true }) as tf.Tensor2D);
  });
  afterAll(() => {
    tf.dispose([x, target]);
    [...online, targetEncoder, targetProjector].forEach((m) => m.dispose());
  });

  const forwardLoss = () => {
    const z = projector.apply(encoder.apply(x, { training: true }), { training: true });
    const p = predictor.apply(z, { training: true }) as tf.Tensor2D;
    return byolRegressionLoss(p, target);
  };
  const snapshot = (m: tf.LayersModel, layer: string, i: number) => Array.from(m.getLayer(`${m.name}/${layer}`).getWeights()[i].dataSync());

  it('variableGrads + applyGradients update every weight and the BN moving statistics, without leaking', () => {
    const opt = createOptimizer({ name: 'lars', lr: 0.5, eta: 0.02, weightDecay: 1e-5 });
    const conv1Before = snapshot(encoder, 'conv1', 0);
    const gammaBefore = snapshot(encoder, 'layer4.1.bn2', 0);
    const targetBefore = snapshot(targetEncoder, 'conv1', 0);

    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(forwardLoss, onlineVars);
        const names = Object.keys(grads);
        opt.applyGradients(grads);
        return { loss: value.dataSync()[0], names };
      });

    const first = step(); // creates the optimizer state
    expect(Number.isFinite(first.loss)).toBe(true);
    expect(first.names.sort()).toEqual(onlineVars.map((v) => v.name).sort());
    expect(first.names).toContain('online_encoder/conv1/kernel');
    expect(first.names).toContain('online_predictor/linear2/bias');

    expect(snapshot(encoder, 'conv1', 0)).not.toEqual(conv1Before);
    expect(snapshot(encoder, 'layer4.1.bn2', 0)).not.toEqual(gammaBefore);
    // One training-mode forward moved the moving statistics off their init (0 and 1).
    const [, , movingMean, movingVar] = encoder.getLayer('online_encoder/bn1').getWeights().map((t) => Array.from(t.dataSync()));
    expect(movingMean.some((v) => v !== 0)).toBe(true);
    expect(movingVar.some((v) => v !== 1)).toBe(true);
    expect(snapshot(targetEncoder, 'conv1', 0)).toEqual(targetBefore);

    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
  });

  it('optimizer.minimize over the online variables lowers the loss on a fixed batch', () => {
    const opt = createOptimizer({ name: 'adam', lr: 1e-2 });
    const losses: number[] = [];
    const step = () => {
      const loss = opt.minimize(forwardLoss, true, onlineVars)!;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    opt.dispose();
  });
});
