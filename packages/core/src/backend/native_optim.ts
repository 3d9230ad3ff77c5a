// Optimizer updates over many variables in one native call (@selfsup/native-cpu under wasm):
// LARS with momentum, and the EMA of a target network. A step's per-variable tf ops (norms,
// trust ratio, momentum, EMA: ~15 small kernels per variable) cost more in dispatch than in
// arithmetic at the widths the main job trains; the addon does every variable in one pass each.
// The kernels (kernels/onednn.ts) are registered for wasm only while the native kernels are
// active; this module only calls them, so it has no Node or wasm dependency.
import * as tf from '@tensorflow/tfjs';

export const NATIVE_OPTIMIZER_KERNEL_NAMES = ['SelfsupLarsStep', 'SelfsupEmaStep'] as const;

const registered = (name: string) => tf.getBackend() === 'wasm' && tf.getKernel(name, 'wasm') !== undefined;
const allF32 = (ts: tf.Tensor[]) => ts.every((t) => t.dtype === 'float32');

/** The LARS hyper-parameters shared by every variable (see packages/ssl's LARS). */
export interface NativeLarsSettings {
  momentum: number;
  eta: number;
  weightDecay: number;
  eps: number;
  clipTrustRatio: boolean;
  nesterov: boolean;
}

export interface NativeLarsItem {
  w: tf.Tensor;
  g: tf.Tensor;
  /** The momentum buffer. */
  buf: tf.Tensor;
  lr: number;
  excluded: boolean;
}

/**
 * One LARS step for every item on the native kernels: returns [w′, buf′] per item (to assign),
 * or null when they are not active (then the caller runs its tf ops).
 */
export function nativeLarsStep(items: NativeLarsItem[], s: NativeLarsSettings): [tf.Tensor, tf.Tensor][] | null {
  if (items.length === 0 || !registered('SelfsupLarsStep') || !allF32(items.flatMap((i) => [i.w, i.g, i.buf]))) return null;
  const inputs: tf.NamedTensorMap = {};
  items.forEach((it, k) => {
    inputs[`w${k}`] = it.w;
    inputs[`g${k}`] = it.g;
    inputs[`b${k}`] = it.buf;
  });
  const attrs = { ...s, lrs: items.map((i) => i.lr), excluded: items.map((i) => i.excluded) } as unknown as tf.NamedAttrMap;
  const out = tf.engine().runKernel('SelfsupLarsStep', inputs, attrs) as tf.Tensor[];
  return items.map((_, k) => [out[2 * k], out[2 * k + 1]]);
}

/** target·τ + online·(1 − τ) for every pair on the native kernels, or null when they are not active. */
export function nativeEmaStep(pairs: { target: tf.Tensor; online: tf.Tensor }[], tau: number): tf.Tensor[] | null {
  if (pairs.length === 0 || !registered('SelfsupEmaStep') || !allF32(pairs.flatMap((p) => [p.target, p.online]))) return null;
  const inputs: tf.NamedTensorMap = {};
  pairs.forEach((p, k) => {
    inputs[`t${k}`] = p.target;
    inputs[`o${k}`] = p.online;
  });
  return tf.engine().runKernel('SelfsupEmaStep', inputs, { tau, count: pairs.length } as unknown as tf.NamedAttrMap) as tf.Tensor[];
}
