/**
 * solo-learn style BYOL (its CIFAR recipe, scaled down): projector 2048 hidden → 256 out,
 * predictor 512 hidden, LARS (η 0.02 with trust-ratio clipping, LR 1.0 × batch/256,
 * weight decay 1e-5, biases and batch-norm parameters excluded), warm-up + cosine LR,
 * τ 0.99 → 1, and z_std — the std over the batch of the L2-normalised projections —
 * logged every step and printed per epoch next to its healthy value 1/√256 = 0.0625.
 * The collapse monitor watches the same number and warns if it falls towards 0.
 *
 *   node examples/dist/solo-learn-style.js [--epochs 3] [--stepsPerEpoch 8] [--limit 512]
 */
import { FashionMnistDataset, selectBackend, type BackendPreference, type Callback } from '@selfsup/core';
import { CollapseMonitorCallback, EmaUpdateCallback, LrSchedulerCallback, TargetInitCallback } from '@selfsup/callbacks';
import { ByolExperiment } from '@selfsup/byol';
import { runExample } from './example-options';

export const defaults = { epochs: 3, stepsPerEpoch: 8, limit: 512, batchSize: 32, width: 1 / 16, backend: 'auto' };
export type Options = typeof defaults;

export const SOLO_LEARN_HEADS = { projectorHiddenDim: 2048, projectorDim: 256, predictorHiddenDim: 512 } as const;

/** `callbacks`: extra callbacks for the run (your own, or a probe in the tests). */
export async function main(opts: Partial<Options> & { callbacks?: Callback[] } = {}) {
  const { epochs, stepsPerEpoch, limit, batchSize, width, backend } = { ...defaults, ...opts };
  await selectBackend(backend as BackendPreference);
  const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit });

  const exp = new ByolExperiment({
    batchSize,
    model: { backbone: 'resnet18', stem: 'cifar', width, ...SOLO_LEARN_HEADS },
    optimizer: { name: 'lars', lr: 1.0, scaleLr: true, eta: 0.02, clipTrustRatio: true, momentum: 0.9, weightDecay: 1e-5 },
  });
  exp.datasets.set('train', train); // gives the input shape
  exp.addCallback(
    new TargetInitCallback(),
    new EmaUpdateCallback({ tauBase: 0.99 }),
    new LrSchedulerCallback({ warmupEpochs: 1 }),
    new CollapseMonitorCallback({ fraction: 0.1, patience: 3, checkEvery: 4 }),
    ...(opts.callbacks ?? []),
  );

  const healthy = 1 / Math.sqrt(SOLO_LEARN_HEADS.projectorDim);
  console.log(`epoch  loss     z_std    (healthy ≈ 1/√${SOLO_LEARN_HEADS.projectorDim} = ${healthy.toFixed(4)})  lr       tau`);
  exp.events.on('epochEnd', ({ epoch, metrics: m }) =>
    console.log(`${String(epoch).padStart(5)}  ${m.loss.toFixed(4)}   ${m.z_std.toFixed(4)}                              ${m.lr.toFixed(4)}   ${m.tau.toFixed(4)}`),
  );
  const perEpoch = Math.min(stepsPerEpoch, train.numBatches({ batchSize, dropRemainder: true }));
  const history = await exp.fit(({ epoch }) => train.batches({ batchSize, shuffle: true, seed: 0, epoch, dropRemainder: true }), {
    epochs,
    stepsPerEpoch: perEpoch,
    logEvery: 0, // nothing read per step: the epoch means above cost one read per metric
  });
  return { exp, history, healthyZStd: healthy };
}

if (require.main === module) runExample(main, defaults);
