import type * as tf from '@tensorflow/tfjs';
import type { Experiment } from '@selfsup/core';

/** [online model name, target model name]: the BYOL defaults. */
export type ModelPair = [string, string];
export const BYOL_MODEL_PAIRS: ModelPair[] = [
  ['online_encoder', 'target_encoder'],
  ['online_projector', 'target_projector'],
];

export function requireModel(exp: Experiment<unknown, unknown>, name: string, who: string): tf.LayersModel {
  const m = exp.models.get(name);
  if (!m) {
    const have = [...exp.models.keys()].join(', ') || '(none)';
    throw new Error(`${who}: no model named "${name}" in the experiment (models: ${have}); set the callback's pairs option`);
  }
  return m;
}

/** Parses `[[a, b], ...]` from a config, with a message naming the bad entry. */
export function checkPairs(pairs: unknown, who: string): ModelPair[] {
  if (!Array.isArray(pairs) || pairs.length === 0) throw new Error(`${who}: pairs must be a non-empty list of [online, target] model names`);
  return pairs.map((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || p.some((s) => typeof s !== 'string' || !s)) {
      throw new Error(`${who}: pairs[${i}] must be [onlineName, targetName], got ${JSON.stringify(p)}`);
    }
    return [p[0], p[1]] as ModelPair;
  });
}

/**
 * Every weight of a model in an order that does not depend on `trainable`: layer by layer,
 * each layer's own order. (`model.weights` lists trainable weights first, so freezing a copy
 * reorders it and index-pairing online with target weights would mismatch.)
 */
export function orderedWeights(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.flatMap((l) => l.weights);
}
