// relu(a + b) as one op: on the native kernels (@selfsup/native-cpu under wasm) one pass
// forward and one backward (the ReLU mask read from the output), the values of tf.relu(tf.add)
// bit for bit; everywhere else exactly tf.relu(tf.add(a, b)). A ResNet block ends with it.
import * as tf from '@tensorflow/tfjs';

/** ReLU's gradient in one pass (dy, x → dy·step(x)); registered for wasm while the native kernels are active. */
export const NATIVE_RELU_GRAD_KERNEL = 'SelfsupReluGrad';
/** relu(a + b) in one pass, for same-shape float32 operands; registered with NATIVE_RELU_GRAD_KERNEL. */
export const NATIVE_ADD_RELU_KERNEL = 'SelfsupAddRelu';

/** Are the fused ReLU kernels registered for the current backend (wasm with the native set)? */
export function nativeReluFusionActive(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(NATIVE_ADD_RELU_KERNEL, 'wasm') !== undefined && tf.getKernel(NATIVE_RELU_GRAD_KERNEL, 'wasm') !== undefined;
}

export function addRelu(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.join() !== b.shape.join() || !nativeReluFusionActive()) {
    return tf.tidy(() => tf.relu(tf.add(a, b)));
  }
  const engine = tf.engine();
  const op = tf.customGrad((x, y, save) => {
    const out = engine.runKernel(NATIVE_ADD_RELU_KERNEL, { a: x as tf.Tensor, b: y as tf.Tensor }) as tf.Tensor;
    (save as tf.GradSaveFunc)([out]);
    return {
      value: out,
      // step(relu(s)) = step(s) for every s (NaN included), so the mask can come from the output
      gradFunc: (dy, [o]) => {
        const g = engine.runKernel(NATIVE_RELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x: o }) as tf.Tensor;
        return [g, tf.clone(g)];
      },
    };
  });
  return op(a, b) as tf.Tensor;
}
