/** What the addon reports about itself. */
export interface NativeCpuInfo {
  /** oneDNN version, e.g. "2.6.3". */
  dnnlVersion: string;
  dnnlHash: string;
  /** oneDNN's CPU threading runtime (Debian's build: OpenMP). */
  cpuRuntime: string;
  /** The instruction set oneDNN's kernels use here, e.g. "avx512_core_amx". */
  isa: string;
  /** OpenMP threads the next call will use. */
  threads: number;
  cachedPrimitives: number;
}

/**
 * The addon. Operands are byte offsets into `heap` (the wasm backend's HEAPU8; a negative
 * offset = none); the output is written in place.
 */
export interface NativeCpuAddon {
  /**
   * kind 0 = forward (a = x, b = filter, bias, out = y), 1 = backward data (a = dy, b = filter,
   * out = dx), 2 = backward weights (a = x, b = dy, out = dW). params: n, h, w, ci, co, kh, kw,
   * oh, ow, strideH, strideW, padTop, padLeft, padBottom, padRight, dilationH, dilationW,
   * hasBias, activation (0 linear, 1 relu, 2 relu6, 3 leakyrelu(alpha), 4 sigmoid, 5 elu).
   */
  conv(kind: 0 | 1 | 2, heap: Uint8Array, params: Int32Array, alpha: number, a: number, b: number, bias: number, out: number): void;
  /** params: batchA, batchB, m, k, n, transposeA, transposeB, hasBias, activation. */
  matmul(heap: Uint8Array, params: Int32Array, alpha: number, a: number, b: number, bias: number, out: number): void;
  /**
   * Training-mode batch normalization over every axis but the last of a float32 tensor of
   * rows × c elements (plain loops, float64 sums). offsets (byte offsets, −1 = none) by kind:
   * 0 statistics: x, mean, variance (biased); 1 forward: x, mean, variance, γ, β, y (γ, β may be
   * −1: 1 and 0); 2 backward: dy, x, mean, variance, γ, dx, dγ, dβ (the statistics
   * differentiated through, as for the batch's own statistics); 3 statistics and the moving
   * statistics' update (epsilon = the layer's momentum m): x, movingMean, movingVariance, mean,
   * variance, movingMean′, movingVariance′ with v′ = v − (v − batch value)·(1 − m) in float32.
   */
  batchNorm(kind: 0 | 1 | 2 | 3, heap: Uint8Array, rows: number, c: number, epsilon: number, offsets: Float64Array): void;
  /**
   * Optimizer updates over many variables, each variable's results written to outputs (never
   * in place). kind 0, LARS: globals = momentum, eta, weightDecay, eps, clipTrustRatio,
   * nesterov; 8 numbers per variable in vars: size, lr, excluded, w, g, buf, wOut, bufOut (byte
   * offsets). kind 1, EMA (out = target·τ + online·(1 − τ)): globals = τ; 4 per variable: size,
   * target, online, out.
   */
  optimizerStep(kind: 0 | 1, heap: Uint8Array, globals: Float64Array, vars: Float64Array): void;
  /**
   * Elementwise loops over n float32 elements (threaded above 32k elements, tfjs's values bit
   * for bit): kind 0 ReLU (a = x), 1 ReLU's gradient (a = dy, b = x → dy·step(x)), 2 a + b.
   * b = −1 for kind 0.
   */
  elementwise(kind: 0 | 1 | 2, heap: Uint8Array, n: number, a: number, b: number, out: number): void;
  /**
   * Constant padding of a 4-D float32 tensor. params: n, h, w, c, then before and after for
   * each of the four axes (all ≥ 0); out has the padded shape.
   */
  pad(heap: Uint8Array, params: Int32Array, value: number, x: number, out: number): void;
  /** The oneDNN implementation for a shape (kind 3 = matmul). */
  implInfo(kind: 0 | 1 | 2 | 3, params: Int32Array, alpha?: number): string;
  info(): NativeCpuInfo;
  setThreads(n: number): void;
  clearCache(): void;
}

export type NativeCpuLoad =
  | { ok: true; addon: NativeCpuAddon; path: string; info: NativeCpuInfo }
  | { ok: false; path: string; reason: string };

export function load(): NativeCpuLoad;
export const addonPath: string;
export const BUILD_HINT: string;
