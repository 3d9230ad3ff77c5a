import * as tf from '@tensorflow/tfjs';

export type KernelFunc = tf.KernelConfig['kernelFunc'];
export type KernelArgs = Parameters<KernelFunc>[0];

export const WASM = 'wasm';

/** A map shared by every copy of this module in the process (kept on globalThis under `key`). */
export function processMap<V>(key: string): Map<string, V> {
  const g = globalThis as unknown as Record<symbol, Map<string, V> | undefined>;
  const sym = Symbol.for(key);
  let m = g[sym];
  if (!m) {
    m = new Map();
    g[sym] = m;
  }
  return m;
}

// The stock kernels we replace, captured once per process (not per module copy) so that
// registering twice never wraps our own kernel as "the original".
const originals = () => processMap<KernelFunc | null>('selfsup.backend.originalKernels');

/** The stock wasm kernel for `name` (null when the stock backend has none). */
export function originalKernel(name: string): KernelFunc | null {
  return originals().get(name) ?? null;
}

/** Replaces (or adds) the wasm kernel `name`, remembering the stock one for delegation. */
export function replaceWasmKernel(name: string, kernelFunc: KernelFunc): void {
  const store = originals();
  const existing = tf.getKernel(name, WASM);
  if (!store.has(name)) store.set(name, existing ? existing.kernelFunc : null);
  if (existing) tf.unregisterKernel(name, WASM);
  tf.registerKernel({ kernelName: name, backendName: WASM, kernelFunc });
}

/** Delegates to the stock kernel, or explains what is unsupported. */
export function delegate(name: string, args: KernelArgs, why: string): tf.TensorInfo | tf.TensorInfo[] {
  const orig = originalKernel(name);
  if (!orig) throw new Error(`selfsup wasm kernel ${name}: ${why}, and the stock wasm backend has no fallback for it`);
  return orig(args);
}

/** Kernel inputs arrive as Tensors from ops and as bare TensorInfos from other kernels. */
export function asTensor<T extends tf.Tensor = tf.Tensor>(t: tf.TensorInfo): T {
  return (t instanceof tf.Tensor ? t : tf.engine().makeTensorFromTensorInfo(t)) as T;
}

export type Pair = [number, number];

/**
 * Pads (positive) or crops (negative) the H and W axes of an NHWC tensor. Returns the
 * tensor to convolve and the explicit non-negative padding to pass to the conv.
 */
export function padOrCrop(
  x: tf.Tensor4D,
  [top, bottom]: Pair,
  [left, right]: Pair,
): { x: tf.Tensor4D; pad: [[0, 0], Pair, Pair, [0, 0]] } {
  let out = x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = x.shape;
    const t = Math.max(0, -top);
    const b = Math.max(0, -bottom);
    const l = Math.max(0, -left);
    const r = Math.max(0, -right);
    out = tf.slice(x, [0, t, l, 0], [n, h - t - b, w - l - r, c]);
  }
  return {
    x: out,
    pad: [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]],
  };
}

export function pairOf(v: number | number[]): Pair {
  return Array.isArray(v) ? [v[0], v.length > 1 ? v[1] : v[0]] : [v, v];
}
