import * as tf from '@tensorflow/tfjs';
import { batchNormTraining, nativeReluFusionActive } from '@selfsup/core';
import { feedsOnlyRelu, markReluFused } from './fusion';

type LayerArgs = Parameters<typeof tf.layers.batchNormalization>[0];
type Kwargs = Record<string, unknown>;

// tfjs exports a factory, not the class; the class is the prototype's constructor. A name
// is given so the probe does not consume an auto-generated layer name.
const StandardBatchNormalization = Object.getPrototypeOf(tf.layers.batchNormalization({ name: 'selfsup_bn_probe' })).constructor as {
  new (args?: LayerArgs): tf.layers.Layer;
};

interface BnState {
  axis: number;
  epsilon: number;
  momentum: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

/**
 * `tf.layers.batchNormalization` with a cheaper training-mode gradient (see
 * `batchNormTraining` in @selfsup/core): same weights, same forward values, same
 * moving-statistics update, and it serialises as a plain `BatchNormalization`, so saved
 * models load in any tfjs. Inference mode and configurations other than channels-last with
 * γ and β run the standard code.
 */
export class TrainingBatchNormalization extends StandardBatchNormalization {
  static className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as BnState;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const axis = self.axis < 0 ? self.axis + x.rank : self.axis;
    if (!kwargs['training'] || axis !== x.rank - 1 || !self.center || !self.scale || (Array.isArray(inputs) && inputs.length !== 1)) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      // the standard layer's update of the moving statistics, with its rounding:
      // v ← v − (v − value)·(1 − momentum) (in the statistics call on the native kernels)
      const moving = { mean: self.movingMean.read() as tf.Tensor1D, variance: self.movingVariance.read() as tf.Tensor1D, momentum: self.momentum };
      // the ReLU that follows, in the same passes (native kernels; see ./fusion.ts)
      const relu = x.dtype === 'float32' && nativeReluFusionActive() && feedsOnlyRelu(this);
      const { y, movingMean, movingVariance } = batchNormTraining(x, self.gamma.read() as tf.Tensor1D, self.beta.read() as tf.Tensor1D, self.epsilon, { moving, relu });
      self.movingMean.write(movingMean!);
      self.movingVariance.write(movingVariance!);
      return relu ? markReluFused(y) : y;
    });
  }
}

// Deserialising a 'BatchNormalization' (tf.models.modelFromJSON: the EMA target cloned from the
// online network, a loaded checkpoint) gives this class too, so a target network's training-mode
// forward also takes batchNormTraining's path (on the native kernels where they are active: one
// statistics pass and one normalising pass instead of tf.moments' four and tf.batchNorm's one).
// Same weights, same forward values, same serialised form.
tf.serialization.registerClass(TrainingBatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);

/** Drop-in for `tf.layers.batchNormalization(args)`. */
export function batchNormalization(args: LayerArgs): tf.layers.Layer {
  return new TrainingBatchNormalization(args);
}
