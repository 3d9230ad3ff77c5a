import * as tf from '@tensorflow/tfjs';

const size = (shape: readonly (number | null)[]) => shape.reduce<number>((n, d) => n * (d ?? 1), 1);

/** Number of trainable scalars (what `sum(p.numel() for p in m.parameters())` reports in PyTorch). */
export function countTrainableParams(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + size(w.shape), 0);
}

/** Trainable plus non-trainable (batch-norm moving statistics) scalars. */
export function countAllParams(model: tf.LayersModel): number {
  return model.weights.reduce((n, w) => n + size(w.shape), 0);
}

/**
 * The model's trainable `tf.Variable`s in layer order — the `varList` for
 * `optimizer.minimize` / `tf.variableGrads`. Two models built with the same options list
 * them in the same order, which is how online and target weights pair up for the EMA.
 */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}
