import * as tf from '@tensorflow/tfjs';

export interface WrapBackboneOptions {
  /**
   * Which layer's output is the representation, like byol-pytorch's `hidden_layer`:
   * a layer name, or an index into `model.layers` (negative counts from the end, so −2
   * drops a final classifier). Default: the model's own (single) output.
   */
  featureLayer?: string | number;
  /** Name of the returned model (default `<model.name>_features`). */
  name?: string;
}

function pickLayer(model: tf.LayersModel, ref: string | number): tf.layers.Layer {
  const layers = model.layers;
  if (typeof ref === 'string') {
    const found = layers.find((l) => l.name === ref);
    if (found) return found;
    const names = layers.map((l) => l.name);
    const shown = names.length > 12 ? [...names.slice(0, 6), '…', ...names.slice(-6)] : names;
    throw new Error(
      `wrapBackbone: model "${model.name}" has no layer named "${ref}". ` +
        `Its layers are: ${shown.join(', ')}. Pass one of these names or an index as featureLayer.`,
    );
  }
  if (!Number.isInteger(ref)) throw new Error(`wrapBackbone: featureLayer must be a layer name or an integer index, got ${ref}.`);
  const index = ref < 0 ? layers.length + ref : ref;
  if (index < 0 || index >= layers.length) {
    throw new Error(
      `wrapBackbone: featureLayer index ${ref} is out of range for model "${model.name}" with ${layers.length} layers ` +
        `(valid: ${-layers.length} … ${layers.length - 1}).`,
    );
  }
  return layers[index];
}

function layerOutput(model: tf.LayersModel, layer: tf.layers.Layer): tf.SymbolicTensor {
  let out: tf.SymbolicTensor | tf.SymbolicTensor[];
  try {
    out = layer.output;
  } catch (e) {
    throw new Error(
      `wrapBackbone: cannot take the output of layer "${layer.name}" in model "${model.name}" ` +
        `(${(e as Error).message}). Choose a layer that is called exactly once.`,
    );
  }
  if (Array.isArray(out)) {
    throw new Error(`wrapBackbone: layer "${layer.name}" has ${out.length} outputs; choose a layer with a single output.`);
  }
  return out;
}

/**
 * "Bring your own" encoder: any tfjs LayersModel cut at `featureLayer`. A 4-D output
 * (feature map) is globally average-pooled, any other output of rank > 2 flattened, so the
 * result always outputs `[batch, features]`.
 *
 * The returned model shares its layers, hence its weights, with `model`: training one
 * trains the other. Dispose only one of the two — disposing either frees the shared
 * layers, and disposing the second one then throws "already disposed".
 */
export function wrapBackbone(model: tf.LayersModel, opts: WrapBackboneOptions = {}): tf.LayersModel {
  const name = opts.name ?? `${model.name}_features`;
  let out: tf.SymbolicTensor;
  if (opts.featureLayer === undefined) {
    if (model.outputs.length !== 1) {
      throw new Error(
        `wrapBackbone: model "${model.name}" has ${model.outputs.length} outputs; pass featureLayer to choose the representation.`,
      );
    }
    out = model.outputs[0];
  } else {
    out = layerOutput(model, pickLayer(model, opts.featureLayer));
  }
  const rank = out.shape.length;
  if (rank === 4) {
    out = tf.layers.globalAveragePooling2d({ name: `${name}/feature_pool` }).apply(out) as tf.SymbolicTensor;
  } else if (rank > 2) {
    out = tf.layers.flatten({ name: `${name}/feature_flatten` }).apply(out) as tf.SymbolicTensor;
  } else if (rank < 2) {
    throw new Error(`wrapBackbone: the chosen output has shape ${JSON.stringify(out.shape)}; expected [batch, ...features].`);
  }
  return tf.model({ inputs: model.inputs, outputs: out, name });
}
