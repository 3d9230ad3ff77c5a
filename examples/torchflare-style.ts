/**
 * torchflare style: the target network is created by a plain function registered as a hook,
 * `onExperimentStart(order)(fn)` — torchflare's `@on_experiment_start(order=...)` — instead
 * of the TargetInitCallback class. It is named `target-init`, so the EMA callback's
 * `requires: ['target-init']` is met, and it runs at MODEL_INIT, before every other
 * experimentStart hook (the EMA callback pairs the weights at WEIGHT_UPDATE order).
 *
 *   node examples/dist/torchflare-style.js [--steps 20] [--limit 512] [--backend auto]
 */
import * as tf from '@tensorflow/tfjs';
import { CallbackOrder, FashionMnistDataset, onExperimentStart, selectBackend, type BackendPreference, type Callback } from '@selfsup/core';
import { BYOL_MODEL_PAIRS, EmaUpdateCallback, cloneArchitecture, copyWeights, orderedWeights } from '@selfsup/callbacks';
import { ByolExperiment } from '@selfsup/byol';
import { runExample } from './example-options';

/**
 * Largest |θ − ξ| over the weights the optimizer trains (0 right after the copy). Batch-norm
 * moving statistics are left out: the target updates its own while it runs in training mode.
 */
function maxTargetGap(models: ReadonlyMap<string, tf.LayersModel>): number {
  let gap = 0;
  for (const [online, target] of BYOL_MODEL_PAIRS) {
    const o = orderedWeights(models.get(online)!);
    const t = orderedWeights(models.get(target)!);
    o.forEach((w, i) => {
      if (!w.trainable) return;
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(w.read(), t[i].read()))).dataSync()[0]);
      gap = Math.max(gap, d);
    });
  }
  return gap;
}

export const defaults = { steps: 20, limit: 512, batchSize: 32, backend: 'auto' };
export type Options = typeof defaults;

/** `callbacks`: extra callbacks for the run (your own, or a probe in the tests). */
export async function main(opts: Partial<Options> & { callbacks?: Callback[] } = {}) {
  const { steps, limit, batchSize, backend } = { ...defaults, ...opts };
  await selectBackend(backend as BackendPreference);
  const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit });

  // The functional hook: target := frozen copy of online encoder + projector, weights included.
  let gapAtInit = Number.NaN;
  const initTarget = onExperimentStart({ name: 'target-init', order: CallbackOrder.MODEL_INIT })(async (exp) => {
    for (const [onlineName, targetName] of BYOL_MODEL_PAIRS) {
      const online = exp.models.get(onlineName)!;
      const target = await cloneArchitecture(online, targetName);
      copyWeights(online, target);
      target.trainable = false;
      exp.models.set(targetName, target);
    }
    gapAtInit = maxTargetGap(exp.models);
    console.log(`target-init (functional hook, order ${CallbackOrder.MODEL_INIT}): max |θ − ξ| = ${gapAtInit}`);
  });

  const exp = new ByolExperiment({
    batchSize,
    model: { width: 1 / 16, projectorHiddenDim: 256, projectorDim: 64, predictorHiddenDim: 256 },
    optimizer: { name: 'sgd', lr: 0.05, scaleLr: false, momentum: 0.9 },
  });
  exp.datasets.set('train', train); // gives the input shape
  exp.addCallback(initTarget, new EmaUpdateCallback({ tauBase: 0.99, schedule: 'cosine' }), ...(opts.callbacks ?? []));
  exp.events.on('log', ({ step, values }) =>
    console.log(`step ${String(step).padStart(3)}  loss ${values.loss.toFixed(4)}  tau ${values.tau.toFixed(5)}  z_std ${values.z_std.toFixed(4)}`),
  );

  const perEpoch = train.numBatches({ batchSize, dropRemainder: true });
  const history = await exp.fit(({ epoch }) => train.batches({ batchSize, shuffle: true, epoch, dropRemainder: true }), {
    epochs: Math.ceil(steps / perEpoch),
    stepsPerEpoch: perEpoch,
    maxSteps: steps, // the cosine τ schedule runs over exactly these steps
    logEvery: Math.max(1, Math.floor(steps / 5)),
  });
  const gapAfter = maxTargetGap(exp.models);
  console.log(`after ${exp.state.globalStep} steps the EMA target ξ trails the online weights θ: max |θ − ξ| = ${gapAfter.toExponential(2)}`);
  return { exp, history, gapAtInit, gapAfter };
}

if (require.main === module) runExample(main, defaults);
