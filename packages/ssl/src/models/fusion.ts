// ReLU fused into the layer before it (a training-mode batch norm, an addition) on the native
// kernels, with the model graph unchanged: the layer whose only consumer is a ReLU layer returns
// relu(its output) and marks that tensor, and the ReLU layer passes a marked tensor through
// (ReLU is idempotent, so a pass-through that did not happen would still give the same values).
// The classes serialise as tfjs's own 'ReLU' and 'Add', so saved models load in any tfjs, and
// deserialised models (the EMA target, a checkpoint) fuse too.
//
// One consequence: in training mode, a model built from the same layers whose output is such a
// layer's output (reading a block's pre-ReLU sum, say) sees the post-ReLU values.
import * as tf from '@tensorflow/tfjs';
import { addRelu, nativeReluFusionActive } from '@selfsup/core';

type Kwargs = Record<string, unknown>;

const FUSED_KEY = Symbol.for('selfsup.models.reluFused');
/** Tensors a layer already passed through ReLU (process-wide: module copies share it). */
function fused(): WeakSet<tf.Tensor> {
  const g = globalThis as unknown as Record<symbol, WeakSet<tf.Tensor> | undefined>;
  let s = g[FUSED_KEY];
  if (!s) {
    s = new WeakSet();
    g[FUSED_KEY] = s;
  }
  return s;
}

export function markReluFused(t: tf.Tensor): tf.Tensor {
  fused().add(t);
  return t;
}

const StandardReLU = Object.getPrototypeOf(tf.layers.reLU({ name: 'selfsup_relu_probe' })).constructor as {
  new (args?: Parameters<typeof tf.layers.reLU>[0]): tf.layers.Layer;
};
const StandardAdd = Object.getPrototypeOf(tf.layers.add({ name: 'selfsup_add_probe' })).constructor as {
  new (args?: Parameters<typeof tf.layers.add>[0]): tf.layers.Layer;
};

/** `tf.layers.reLU` that passes through a tensor its producer already rectified. */
export class FusableReLU extends StandardReLU {
  static className = 'ReLU';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const maxValue = (this as unknown as { maxValue?: number | null }).maxValue;
    if (x && fused().has(x) && maxValue == null && (!Array.isArray(inputs) || inputs.length === 1)) {
      // Outside training the layers executor disposes a layer's input once its consumers ran, so
      // the output must be another tensor (a copy-free clone). In training it disposes nothing,
      // and a clone would cost a Cast in the backward pass (Identity's gradient): the tensor itself.
      return kwargs['training'] ? x : tf.clone(x);
    }
    return super.call(inputs, kwargs);
  }
}
tf.serialization.registerClass(FusableReLU as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);

/** Does `layer` (applied once) feed exactly one layer, a plain ReLU? Then that ReLU can be fused into it. */
export function feedsOnlyRelu(layer: tf.layers.Layer): boolean {
  const l = layer as unknown as { inboundNodes: unknown[]; outboundNodes: { outboundLayer: tf.layers.Layer }[] };
  if (l.inboundNodes.length !== 1 || l.outboundNodes.length !== 1) return false;
  const next = l.outboundNodes[0].outboundLayer;
  return next instanceof FusableReLU && (next as unknown as { maxValue?: number | null }).maxValue == null;
}

/** `tf.layers.add` that computes relu(a + b) in one pass when a ReLU is its only consumer (native kernels). */
export class FusableAdd extends StandardAdd {
  static className = 'Add';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    if (Array.isArray(inputs) && inputs.length === 2 && inputs[0].shape.join() === inputs[1].shape.join() && inputs[0].dtype === 'float32' && inputs[1].dtype === 'float32' && nativeReluFusionActive() && feedsOnlyRelu(this)) {
      return markReluFused(addRelu(inputs[0], inputs[1]));
    }
    return super.call(inputs, kwargs);
  }
}
tf.serialization.registerClass(FusableAdd as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);

/** Drop-ins for `tf.layers.reLU` / `tf.layers.add`. */
export function reLU(args?: Parameters<typeof tf.layers.reLU>[0]): tf.layers.Layer {
  return new FusableReLU(args);
}
export function add(args?: Parameters<typeof tf.layers.add>[0]): tf.layers.Layer {
  return new FusableAdd(args);
}
