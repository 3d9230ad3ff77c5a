// Bounding the peak memory of a training step. tfjs keeps every intermediate gradient
// and every tensor saved for backward until the whole backward pass ends, so peak memory
// grows with the batch (batch 256 at full ResNet-18 width overflows the 4 GB wasm heap,
// "XNN status 6"). Freeing eagerly would need changes inside tfjs-core's backprop; through
// public APIs the lever is the batch: run it in micro-batches and sum their gradients.
import * as tf from '@tensorflow/tfjs';

export interface AccumulatedGradients {
  /** Mean of the micro-batch losses (equal to the full-batch loss when each is a mean over equal-sized parts). */
  loss: tf.Scalar;
  /** Mean of the micro-batch gradients, keyed by variable name (what `optimizer.applyGradients` takes). */
  grads: tf.NamedTensorMap;
}

/**
 * Runs `lossFn(i)` for i = 0..microBatches−1, each with its own forward/backward pass, and
 * averages losses and gradients. Only one micro-batch's activations are alive at a time,
 * so peak memory is that of a batch `microBatches` times smaller; the result equals the
 * full-batch gradient when the loss is a mean over samples and there is no cross-sample
 * coupling (batch norm computes its statistics per micro-batch, like PyTorch's
 * accumulation does). The caller owns the returned tensors.
 */
export function accumulateGradients(
  lossFn: (microBatch: number) => tf.Scalar,
  vars: tf.Variable[],
  microBatches: number,
): AccumulatedGradients {
  if (!Number.isInteger(microBatches) || microBatches < 1) {
    throw new Error(`accumulateGradients: microBatches must be a positive integer, got ${String(microBatches)}`);
  }
  if (vars.length === 0) throw new Error('accumulateGradients: no variables given to differentiate');
  let sums: tf.NamedTensorMap | null = null;
  let lossSum: tf.Scalar | null = null;
  for (let i = 0; i < microBatches; i++) {
    // each micro-batch in its own tidy: its activations and gradient temporaries go here
    const next = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => lossFn(i), vars);
      const merged: tf.NamedTensorMap = {};
      for (const v of vars) {
        const g = grads[v.name];
        if (!g) throw new Error(`accumulateGradients: variable ${v.name} got no gradient (is it used by lossFn?)`);
        merged[v.name] = sums ? tf.add(sums[v.name], g) : g;
      }
      return { grads: merged, loss: lossSum ? tf.add(lossSum, value) : value };
    });
    if (sums) tf.dispose(Object.values(sums));
    if (lossSum) lossSum.dispose();
    sums = next.grads;
    lossSum = next.loss as tf.Scalar;
  }
  const s = sums as tf.NamedTensorMap;
  const l = lossSum as tf.Scalar;
  const out = tf.tidy(() => {
    const grads: tf.NamedTensorMap = {};
    for (const k of Object.keys(s)) grads[k] = tf.div(s[k], microBatches);
    return { grads, loss: tf.div(l, microBatches) as tf.Scalar };
  });
  tf.dispose([...Object.values(s), l]);
  return out;
}

/** Splits each tensor along axis 0 into `parts` nearly equal slices (the micro-batches). */
export function splitBatch<T extends tf.Tensor>(x: T, parts: number): T[] {
  const n = x.shape[0];
  if (!Number.isInteger(parts) || parts < 1 || parts > n) {
    throw new Error(`splitBatch: parts must be an integer in [1, ${n}] for a batch of ${n}, got ${String(parts)}`);
  }
  const base = Math.floor(n / parts);
  const sizes = Array.from({ length: parts }, (_, i) => base + (i < n % parts ? 1 : 0));
  return tf.split(x, sizes, 0) as T[];
}
