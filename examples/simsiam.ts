/**
 * SimSiam (Chen & He, 2021), the `simsiam` method of @selfsup/simsiam: an `Experiment`
 * subclass (through @selfsup/ssl's SslExperiment, which builds the backbone, the projector,
 * the views and the optimizer) that adds only its predictor and its loss. Unlike BYOL there is
 * no target network and no EMA: both views go through the same encoder + projector, the
 * predictor maps one view's projection onto the other's, and the other branch is cut from the
 * gradient with stop-gradient. Loss: ½·D(p₁, sg(z₂)) + ½·D(p₂, sg(z₁)), D = −cos, in [−1, 1].
 * It began here as an example; packages/simsiam/src is the whole method (about 100 lines).
 *
 *   node examples/dist/simsiam.js [--steps 30] [--limit 512] [--backend auto]
 */
import { FashionMnistDataset, selectBackend, type BackendPreference, type Callback } from '@selfsup/core';
import { KnnEvalCallback } from '@selfsup/callbacks';
import { AugmentationPipeline, byolSmallGrayViewT, byolViewT } from '@selfsup/ssl';
import { SimSiamExperiment } from '@selfsup/simsiam';
import { runExample } from './example-options';

export { negativeCosine, SimSiamExperiment, SimSiamSections, type SimSiamConfig } from '@selfsup/simsiam';

export const defaults = { steps: 30, limit: 512, batchSize: 32, backend: 'auto' };
export type Options = typeof defaults;

/** `callbacks`: extra callbacks for the run (your own, or a probe in the tests). */
export async function main(opts: Partial<Options> & { callbacks?: Callback[] } = {}) {
  const { steps, limit, batchSize, backend } = { ...defaults, ...opts };
  await selectBackend(backend as BackendPreference);
  const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit });
  const val = await FashionMnistDataset.load({ source: 'embedded', split: 'test', limit: 256 });

  // One distribution for both views (SimSiam has no T/T' asymmetry); the paper's SGD recipe.
  const [h, , c] = train.imageShape;
  const view = new AugmentationPipeline(c === 1 ? byolSmallGrayViewT(h) : byolViewT(h, c));
  const exp = new SimSiamExperiment({
    batchSize,
    model: { width: 1 / 16, projectorHiddenDim: 128, projectorDim: 128, predictorHiddenDim: 32 },
    augment: { t: view, tPrime: view },
    optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4 },
  });
  exp.datasets.set('train', train).set('val', val);
  exp.addCallback(new KnnEvalCallback(), ...(opts.callbacks ?? []));
  const losses: number[] = [];
  exp.events.on('log', ({ step, values }) => {
    losses.push(values.loss);
    console.log(`step ${String(step).padStart(3)}  loss ${values.loss.toFixed(4)} (−1 is perfect agreement)  z_std ${values.z_std.toFixed(4)}`);
  });
  const perEpoch = train.numBatches({ batchSize, dropRemainder: true });
  const history = await exp.fit(({ epoch }) => train.batches({ batchSize, shuffle: true, epoch, dropRemainder: true }), {
    epochs: Math.ceil(steps / perEpoch),
    stepsPerEpoch: perEpoch,
    maxSteps: steps,
    logEvery: Math.max(1, Math.floor(steps / 6)),
  });
  console.log(`SimSiam: ${exp.state.globalStep} steps, loss ${losses[0].toFixed(4)} → ${losses[losses.length - 1].toFixed(4)}, kNN accuracy ${history.last('knn_acc')?.toFixed(3)}`);
  return { exp, history, losses };
}

if (require.main === module) runExample(main, defaults);
