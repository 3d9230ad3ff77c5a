import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FashionMnistDataset, LeakGuard, selectBackend, type ImageBatch } from '@selfsup/core';
import { CollapseMonitorCallback, EmaUpdateCallback, KnnEvalCallback, LrSchedulerCallback, TargetInitCallback } from '@selfsup/callbacks';
import { ByolExperiment } from '@selfsup/byol';

beforeAll(async () => {
  await selectBackend('wasm', { log: () => {} });
});

describe('BYOL on real Fashion-MNIST images (wasm, with the training kernels)', () => {
  it('a short run: loss falls, z_std stays away from 0, no tensor growth, kNN above chance', async () => {
    const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit: 320, log: () => {} });
    const val = await FashionMnistDataset.load({ source: 'embedded', split: 'test', limit: 200, log: () => {} });
    const projectorDim = 32;
    const exp = new ByolExperiment({
      inputShape: [28, 28, 1],
      batchSize: 64,
      seed: 0,
      model: { width: 1 / 8, projectorHiddenDim: 128, projectorDim, predictorHiddenDim: 128 },
      optimizer: { name: 'adam', lr: 2e-3, scaleLr: false },
    });
    exp.datasets.set('train', train);
    exp.datasets.set('val', val);
    const warnings: string[] = [];
    exp.addCallback(
      new TargetInitCallback(),
      new EmaUpdateCallback({ tauBase: 0.99 }),
      new LrSchedulerCallback({ warmupSteps: 3 }),
      new KnnEvalCallback({ every: 100 }), // the last epoch only
      new CollapseMonitorCallback({ checkEvery: 1, patience: 3 }, (m) => warnings.push(m)),
      new LeakGuard({ warmupSteps: 2 }),
    );
    const epochs = 4;
    const h = await exp.fit(
      ({ epoch }) => train.batches({ batchSize: 64, shuffle: true, seed: 0, epoch, dropRemainder: true }) as AsyncIterable<ImageBatch>,
      { epochs, stepsPerEpoch: 5 },
    );
    const loss = h.history.loss;
    expect(loss).toHaveLength(epochs);
    expect(loss.every(Number.isFinite)).toBe(true);
    expect(loss[epochs - 1]).toBeLessThan(loss[0]);
    // healthy z_std is about 1/sqrt(d); collapse drives it to 0
    const healthy = 1 / Math.sqrt(projectorDim);
    for (const z of h.history.z_std) expect(z).toBeGreaterThan(0.2 * healthy);
    expect(warnings).toEqual([]);
    // 10 classes: chance is 0.1
    expect(h.last('knn_acc')).toBeGreaterThan(0.3);
    expect(h.history.tau[epochs - 1]).toBeGreaterThan(h.history.tau[0]);
    exp.dispose();
  });
});
