/**
 * Notebook style: everything spelled out. Two augmentation pipelines written by hand — T for
 * one view, T' for the other (the paper's asymmetry: blur always in T, rarely in T'; solarize
 * only in T') — handed to ByolExperiment as ready pipelines instead of a preset; τ on the
 * cosine schedule from 0.99 to 1 over the run; Adam at 3e-4 (byol-pytorch's README setting:
 * the paper's LARS learning rate used with Adam collapses).
 *
 *   node examples/dist/notebook-style.js [--steps 20] [--limit 512] [--backend auto]
 */
import * as tf from '@tensorflow/tfjs';
import { FashionMnistDataset, Rng, disposeBatch, selectBackend, type BackendPreference, type Callback } from '@selfsup/core';
import { EmaUpdateCallback, TargetInitCallback } from '@selfsup/callbacks';
import { AugmentationPipeline, ByolExperiment, type AugmentationConfig } from '@selfsup/byol';
import { runExample } from './example-options';

/** View T (the online branch's first view): strong blur, never solarized. 28×28 grayscale. */
export const VIEW_T: AugmentationConfig = {
  crop: { size: 28, scale: [0.2, 1], ratio: [3 / 4, 4 / 3] },
  flip: { p: 0.5 },
  colorJitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0 },
  blur: { p: 1.0, sigma: [0.1, 2.0] },
};

/** View T': blur with p 0.1, solarize with p 0.2 (threshold 0.5). */
export const VIEW_T_PRIME: AugmentationConfig = {
  crop: { size: 28, scale: [0.2, 1], ratio: [3 / 4, 4 / 3] },
  flip: { p: 0.5 },
  colorJitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0 },
  blur: { p: 0.1, sigma: [0.1, 2.0] },
  solarize: { p: 0.2, threshold: 0.5 },
};

export const defaults = { steps: 20, limit: 512, batchSize: 32, backend: 'auto' };
export type Options = typeof defaults;

/** `callbacks`: extra callbacks for the run (your own, or a probe in the tests). */
export async function main(opts: Partial<Options> & { callbacks?: Callback[] } = {}) {
  const { steps, limit, batchSize, backend } = { ...defaults, ...opts };
  await selectBackend(backend as BackendPreference);
  const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit });

  const t = new AugmentationPipeline(VIEW_T, 'VIEW_T');
  const tPrime = new AugmentationPipeline(VIEW_T_PRIME, 'VIEW_T_PRIME');

  // Look at one draw of each pipeline: per-sample decisions, and what they do to the pixels.
  const rng = new Rng(7);
  const n = 64;
  const it = train.batches({ batchSize: n })[Symbol.asyncIterator]();
  const batch = (await it.next()).value!;
  await it.return?.(undefined);
  const count = (flags: boolean[] | undefined) => `${flags?.filter(Boolean).length ?? 0}/${n}`;
  for (const [label, pipe] of [['T ', t], ["T'", tPrime]] as const) {
    const params = pipe.sample(n, 28, 28, 1, rng);
    const [mean, std] = tf.tidy(() => {
      const v = pipe.applyWithParams(batch.images, params);
      const { mean: m, variance } = tf.moments(v);
      return [m.dataSync()[0], Math.sqrt(variance.dataSync()[0])];
    });
    console.log(`view ${label}: blurred ${count(params.blur?.applied)}, solarized ${count(params.solarize)}, jittered ${count(params.colorJitter?.applied)}, flipped ${count(params.flip)}; pixels mean ${mean.toFixed(3)} std ${std.toFixed(3)}`);
  }
  disposeBatch(batch);

  const exp = new ByolExperiment({
    batchSize,
    augment: { t, tPrime },
    model: { width: 1 / 16, projectorHiddenDim: 256, projectorDim: 64, predictorHiddenDim: 256 },
    optimizer: { name: 'adam', lr: 3e-4, scaleLr: false },
  });
  const ema = new EmaUpdateCallback({ tauBase: 0.99, schedule: 'cosine', bnStats: 'ema' });
  exp.datasets.set('train', train); // gives the input shape
  exp.addCallback(new TargetInitCallback(), ema, ...(opts.callbacks ?? []));

  const taus: number[] = [];
  const losses: number[] = [];
  exp.events.on('log', ({ step, values }) => {
    taus.push(values.tau);
    losses.push(values.loss);
    console.log(`step ${String(step).padStart(3)}  loss ${values.loss.toFixed(4)}  tau ${values.tau.toFixed(6)}`);
  });
  const perEpoch = train.numBatches({ batchSize, dropRemainder: true });
  const history = await exp.fit(({ epoch }) => train.batches({ batchSize, shuffle: true, epoch, dropRemainder: true }), {
    epochs: Math.ceil(steps / perEpoch),
    stepsPerEpoch: perEpoch,
    maxSteps: steps,
    logEvery: Math.max(1, Math.floor(steps / 5)),
  });
  console.log(`cosine τ: ${ema.tauAt(0).toFixed(4)} at step 0 → ${ema.tauAt(steps - 1).toFixed(6)} at the last step (τ_K = 1 at K = ${steps})`);
  return { exp, history, taus, losses };
}

if (require.main === module) runExample(main, defaults);
