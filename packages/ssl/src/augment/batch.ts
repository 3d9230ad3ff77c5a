import * as tf from '@tensorflow/tfjs';

/** A per-sample scalar as a [N, 1, 1, 1] tensor, so it broadcasts over H, W and C. */
export function perSample(values: ArrayLike<number>): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(values), [values.length, 1, 1, 1]);
}

/**
 * Per sample, `ifTrue` where chosen else `ifFalse`, as m·a + (1 − m)·b with m ∈ {0, 1}: exact
 * for finite values, and on wasm far cheaper than `tf.where` with a [N, 1, 1, 1] mask (which
 * materializes the broadcast mask through Tile).
 */
export function selectPerSample(chosen: ArrayLike<boolean>, ifTrue: tf.Tensor4D, ifFalse: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const m = perSample(Array.from(chosen, (c) => (c ? 1 : 0)));
    const rest = perSample(Array.from(chosen, (c) => (c ? 0 : 1)));
    return tf.add(tf.mul(ifTrue, m), tf.mul(ifFalse, rest)) as tf.Tensor4D;
  });
}

export function indicesWhere(flags: ArrayLike<boolean>): number[] {
  const out: number[] = [];
  for (let i = 0; i < flags.length; i++) if (flags[i]) out.push(i);
  return out;
}
