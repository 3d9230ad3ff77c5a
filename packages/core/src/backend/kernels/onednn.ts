// Convolutions and matrix products on oneDNN (@selfsup/native-cpu), and the addon's
// training-mode batch norm, optimizer updates, ReLU (and its gradient), addition and padding, for tensors that stay in
// the wasm backend's heap: the addon gets the heap and the tensors' byte offsets, and writes
// the output into a tensor the wasm backend allocated. Nothing is copied and everything else
// in a step stays on wasm. What the addon does not cover (NCHW, other dtypes, PReLU, empty
// tensors, batch shapes that need broadcasting, a shape oneDNN refuses) runs on the kernel
// that was registered before: selfsup's wasm kernels, else the stock ones.
//
// This module does not load the addon (that is Node-only: ../native_cpu.ts); it is handed one.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { originalKernel, replaceWasmKernel, type KernelArgs, type KernelFunc } from './kernel_util';
import type { NativeLarsSettings } from '../native_optim';
import { WASM_TRAINING_KERNELS } from './register';
import { NATIVE_BATCH_NORM_KERNEL_NAMES } from '../batch_norm';
import { NATIVE_OPTIMIZER_KERNEL_NAMES } from '../native_optim';
import { NATIVE_ADD_RELU_KERNEL, NATIVE_RELU_GRAD_KERNEL } from '../fused';

export { NATIVE_ADD_RELU_KERNEL, NATIVE_RELU_GRAD_KERNEL };

/** The part of the addon the kernels call (see @selfsup/native-cpu's index.d.ts). */
export interface OneDnnOps {
  conv(kind: 0 | 1 | 2, heap: Uint8Array, params: Int32Array, alpha: number, a: number, b: number, bias: number, out: number): void;
  matmul(heap: Uint8Array, params: Int32Array, alpha: number, a: number, b: number, bias: number, out: number): void;
  /** Training-mode batch norm (kind 0 statistics, 1 forward, 2 backward); absent in older builds. */
  batchNorm?(kind: 0 | 1 | 2 | 3 | 4 | 5, heap: Uint8Array, rows: number, c: number, epsilon: number, offsets: Float64Array): void;
  /** LARS (kind 0) or EMA (kind 1) over many variables; absent in older builds. */
  optimizerStep?(kind: 0 | 1, heap: Uint8Array, globals: Float64Array, vars: Float64Array): void;
  /**
   * ReLU (kind 0), its gradient (1), a + b (2), relu(a + b) (3), or a · b with b one value per
   * row of `inner` elements (4) over n floats; absent in older builds.
   */
  elementwise?(kind: 0 | 1 | 2 | 3 | 4, heap: Uint8Array, n: number, a: number, b: number, out: number, inner?: number): void;
  /** Constant padding of a 4-D float32 tensor; absent in older builds. */
  pad?(heap: Uint8Array, params: Int32Array, value: number, x: number, out: number): void;
  setThreads(n: number): void;
}

/** Kernels the native set replaces while it is active. */
export const ONEDNN_KERNEL_NAMES = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul', '_FusedMatMul'] as const;
type OneDnnKernelName = (typeof ONEDNN_KERNEL_NAMES)[number];

/** Stock wasm kernels that the addon's (threaded) loops replace. */
export const NATIVE_ELEMENTWISE_KERNEL_NAMES = ['Relu', 'Add', 'Multiply', 'PadV2'] as const;
type ElementwiseKernelName = (typeof NATIVE_ELEMENTWISE_KERNEL_NAMES)[number];



type BatchNormKernelName = (typeof NATIVE_BATCH_NORM_KERNEL_NAMES)[number];
type OptimizerKernelName = (typeof NATIVE_OPTIMIZER_KERNEL_NAMES)[number];

/** Calls per kernel since the last reset: on oneDNN, and handed back to the wasm kernels (with the last reason). */
export interface OneDnnKernelStats {
  native: Record<string, number>;
  fallback: Record<string, number>;
  reasons: Record<string, string>;
}

interface OneDnnState {
  addon: OneDnnOps | null;
  /** Matrix products below this many multiply-adds stay on wasm (per-call overhead). */
  minMatmulMacs: number;
  matmul: boolean;
  batchNorm: boolean;
  optimizer: boolean;
  elementwise: boolean;
  stats: OneDnnKernelStats;
}

/**
 * Matrix products with fewer multiply-adds (batch included) stay on wasm. 0: measured, oneDNN's
 * call costs ~10 µs and it was as fast as or faster than wasm's from 8×16×16 up (wasm's smallest
 * products pay for waking its thread pool), so every float32 product goes to oneDNN.
 */
export const DEFAULT_MIN_MATMUL_MACS = 0;

// On globalThis: tfjs's registry is process-wide and this module may be loaded twice (dist/ and sources).
const STATE_KEY = Symbol.for('selfsup.backend.onednn');
function state(): OneDnnState {
  const g = globalThis as unknown as Record<symbol, OneDnnState | undefined>;
  let s = g[STATE_KEY];
  if (!s) {
    s = { addon: null, minMatmulMacs: DEFAULT_MIN_MATMUL_MACS, matmul: true, batchNorm: false, optimizer: false, elementwise: false, stats: { native: {}, fallback: {}, reasons: {} } };
    g[STATE_KEY] = s;
  }
  return s;
}

/** Is the oneDNN kernel set registered for wasm right now? */
export function oneDnnKernelsActive(): boolean {
  return state().addon !== null;
}

export function oneDnnKernelStats(reset = false): OneDnnKernelStats {
  const s = state();
  const copy = { native: { ...s.stats.native }, fallback: { ...s.stats.fallback }, reasons: { ...s.stats.reasons } };
  if (reset) s.stats = { native: {}, fallback: {}, reasons: {} };
  return copy;
}

function fallback(name: OneDnnKernelName | ElementwiseKernelName, args: KernelArgs, why: string): tf.TensorInfo | tf.TensorInfo[] {
  const s = state().stats;
  s.fallback[name] = (s.fallback[name] ?? 0) + 1;
  s.reasons[name] = why;
  const f = WASM_TRAINING_KERNELS[name] ?? originalKernel(name);
  if (!f) throw new Error(`selfsup oneDNN kernel ${name}: ${why}, and wasm has no kernel to fall back to`);
  return f(args);
}

function counted(name: OneDnnKernelName | BatchNormKernelName | OptimizerKernelName | ElementwiseKernelName | typeof NATIVE_RELU_GRAD_KERNEL | typeof NATIVE_ADD_RELU_KERNEL): void {
  const s = state().stats;
  s.native[name] = (s.native[name] ?? 0) + 1;
}

const heapOf = (be: BackendWasm) => (be.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
const offsetOf = (be: BackendWasm, t: tf.TensorInfo) => be.getMemoryOffset(t.dataId);

/**
 * Runs an addon call that fills `outs` (no fallback: the batch-norm and optimizer kernels have
 * none); if it throws, the outputs are freed and the error names the kernel.
 */
function writeOutputs(name: BatchNormKernelName | OptimizerKernelName, be: BackendWasm, outs: tf.TensorInfo[], call: () => void): tf.TensorInfo[] {
  try {
    call();
  } catch (e) {
    for (const o of outs) be.disposeData(o.dataId);
    throw new Error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  counted(name);
  return outs;
}

// ---- convolutions ----------------------------------------------------------------

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
  activation?: string;
  leakyreluAlpha?: number;
}

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5 };

const CONV_PARAMS = 19;
const convParams = new Int32Array(CONV_PARAMS);

/** Fills convParams for a conv of xShape with filterShape; returns why not, or null. */
function convGeometry(
  xShape: number[],
  filterShape: number[],
  a: ConvAttrs,
  dilations: number | [number, number],
  hasBias: boolean,
  act: number,
): string | null {
  if (a.dataFormat === 'NCHW') return 'NCHW data format';
  if (xShape.length !== 4 || filterShape.length !== 4) return 'not 4-D';
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    a.strides, dilations, a.pad, a.dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  if (filterShape[2] !== ci) return `filter has ${filterShape[2]} input channels, x has ${ci}`;
  if (n * h * w * ci === 0 || co === 0 || oh <= 0 || ow <= 0) return 'empty tensor';
  const { top, left, bottom, right } = info.padInfo;
  // oneDNN's output size is floor((in + pads − effective kernel) / stride) + 1
  const fits = (inp: number, k: number, d: number, s: number, p0: number, p1: number, out: number) =>
    Math.floor((inp + p0 + p1 - ((k - 1) * d + 1)) / s) + 1 === out;
  if (!fits(h, kh, dh, sh, top, bottom, oh) || !fits(w, kw, dw, sw, left, right, ow)) return `output size rounding (${a.dimRoundingMode})`;
  convParams.set([n, h, w, ci, co, kh, kw, oh, ow, sh, sw, top, left, bottom, right, dh, dw, hasBias ? 1 : 0, act]);
  return null;
}

function runConv(
  name: OneDnnKernelName,
  args: KernelArgs,
  kind: 0 | 1 | 2,
  outShape: number[],
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  alpha: number,
): tf.TensorInfo | tf.TensorInfo[] {
  const s = state();
  const be = args.backend as BackendWasm;
  const out = be.makeOutput(outShape, 'float32');
  try {
    // the heap view after makeOutput: allocating may have grown (replaced) the memory
    s.addon!.conv(kind, heapOf(be), convParams, alpha, offsetOf(be, a), offsetOf(be, b), bias ? offsetOf(be, bias) : -1, offsetOf(be, out));
  } catch (e) {
    be.disposeData(out.dataId);
    return fallback(name, args, `oneDNN: ${e instanceof Error ? e.message : String(e)}`);
  }
  counted(name);
  return out;
}

const isF32 = (...ts: (tf.TensorInfo | undefined)[]) => ts.every((t) => t === undefined || t.dtype === 'float32');

const conv2d: KernelFunc = (args) => {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  if (!isF32(x, filter)) return fallback('Conv2D', args, `dtype ${x.dtype}/${filter.dtype}`);
  const why = convGeometry(x.shape, filter.shape, a, a.dilations ?? 1, false, 0);
  if (why) return fallback('Conv2D', args, why);
  const [n, , , , co, , , oh, ow] = convParams;
  return runConv('Conv2D', args, 0, [n, oh, ow, co], x, filter, undefined, 0);
};

const fusedConv2d: KernelFunc = (args) => {
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const a = args.attrs as unknown as ConvAttrs;
  const act = ACTIVATIONS[a.activation ?? 'linear'];
  if (act === undefined || preluActivationWeights) return fallback('FusedConv2D', args, `activation ${a.activation}`);
  if (!isF32(x, filter, bias)) return fallback('FusedConv2D', args, 'dtype');
  const co = filter!.shape[3];
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== co)) return fallback('FusedConv2D', args, `bias shape [${bias.shape}]`);
  const why = convGeometry(x!.shape, filter!.shape, a, a.dilations ?? 1, bias !== undefined, act);
  if (why) return fallback('FusedConv2D', args, why);
  const [n, , , , , , , oh, ow] = convParams;
  const alpha = act === ACTIVATIONS.leakyrelu ? (a.leakyreluAlpha ?? 0.2) : 0;
  return runConv('FusedConv2D', args, 0, [n, oh, ow, co], x!, filter!, bias, alpha);
};

const conv2dBackpropInput: KernelFunc = (args) => {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  if (!isF32(dy, filter)) return fallback('Conv2DBackpropInput', args, 'dtype');
  const inputShape = a.inputShape as number[];
  const why = convGeometry(inputShape, filter.shape, a, 1, false, 0);
  if (why) return fallback('Conv2DBackpropInput', args, why);
  const [n, , , , co, , , oh, ow] = convParams;
  if (dy.shape.join() !== [n, oh, ow, co].join()) return fallback('Conv2DBackpropInput', args, `dy shape [${dy.shape}]`);
  return runConv('Conv2DBackpropInput', args, 1, inputShape, dy, filter, undefined, 0);
};

const conv2dBackpropFilter: KernelFunc = (args) => {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  if (!isF32(x, dy)) return fallback('Conv2DBackpropFilter', args, 'dtype');
  const filterShape = a.filterShape as number[];
  const why = convGeometry(x.shape, filterShape, a, 1, false, 0);
  if (why) return fallback('Conv2DBackpropFilter', args, why);
  const [n, , , , co, , , oh, ow] = convParams;
  if (dy.shape.join() !== [n, oh, ow, co].join()) return fallback('Conv2DBackpropFilter', args, `dy shape [${dy.shape}]`);
  return runConv('Conv2DBackpropFilter', args, 2, filterShape, x, dy, undefined, 0);
};

// ---- matrix products ---------------------------------------------------------------

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

const mmParams = new Int32Array(9);

function matmul(name: 'BatchMatMul' | '_FusedMatMul', args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const s = state();
  if (!s.matmul) return fallback(name, args, 'native matmul off');
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const attrs = args.attrs as unknown as MatMulAttrs;
  const act = ACTIVATIONS[attrs.activation ?? 'linear'];
  if (act === undefined || preluActivationWeights) return fallback(name, args, `activation ${attrs.activation}`);
  if (!isF32(a, b, bias)) return fallback(name, args, 'dtype');
  const ra = a!.shape.length;
  const rb = b!.shape.length;
  if (ra < 2 || rb < 2) return fallback(name, args, 'rank < 2');
  const m = attrs.transposeA ? a!.shape[ra - 1] : a!.shape[ra - 2];
  const k = attrs.transposeA ? a!.shape[ra - 2] : a!.shape[ra - 1];
  const k2 = attrs.transposeB ? b!.shape[rb - 1] : b!.shape[rb - 2];
  const n = attrs.transposeB ? b!.shape[rb - 2] : b!.shape[rb - 1];
  if (k !== k2) return fallback(name, args, `inner sizes ${k} and ${k2}`);
  const outerA = a!.shape.slice(0, -2);
  const outerB = b!.shape.slice(0, -2);
  const ba = tf.util.sizeFromShape(outerA);
  const bb = tf.util.sizeFromShape(outerB);
  let outer: number[];
  if (outerA.join() === outerB.join()) outer = outerA;
  else if (bb === 1) outer = ra >= rb ? outerA : [...new Array(rb - ra).fill(1), ...outerA];
  else if (ba === 1) outer = rb >= ra ? outerB : [...new Array(ra - rb).fill(1), ...outerB];
  else return fallback(name, args, `batch shapes [${outerA}] and [${outerB}]`);
  if (m * n * k === 0) return fallback(name, args, 'empty');
  if (m * n * k * Math.max(ba, bb) < s.minMatmulMacs) return fallback(name, args, 'small product');
  if (bias && tf.util.sizeFromShape(bias.shape) !== n) return fallback(name, args, `bias shape [${bias.shape}]`);
  if (bias && bias.shape.length > 1 && bias.shape[bias.shape.length - 1] !== n) return fallback(name, args, `bias shape [${bias.shape}]`);
  const be = args.backend as BackendWasm;
  const out = be.makeOutput([...outer, m, n], 'float32');
  mmParams.set([ba, bb, m, k, n, attrs.transposeA ? 1 : 0, attrs.transposeB ? 1 : 0, bias ? 1 : 0, act]);
  const alpha = act === ACTIVATIONS.leakyrelu ? (attrs.leakyreluAlpha ?? 0.2) : 0;
  try {
    s.addon!.matmul(heapOf(be), mmParams, alpha, offsetOf(be, a!), offsetOf(be, b!), bias ? offsetOf(be, bias) : -1, offsetOf(be, out));
  } catch (e) {
    be.disposeData(out.dataId);
    return fallback(name, args, `oneDNN: ${e instanceof Error ? e.message : String(e)}`);
  }
  counted(name);
  return out;
}

const batchMatMul: KernelFunc = (args) => matmul('BatchMatMul', args);
const fusedMatMul: KernelFunc = (args) => matmul('_FusedMatMul', args);

const ONEDNN_KERNELS: Record<OneDnnKernelName, KernelFunc> = {
  Conv2D: conv2d,
  FusedConv2D: fusedConv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
};

// ---- training-mode batch norm (plain loops in the addon) --------------------------------

interface BatchNormAttrs {
  epsilon: number;
  /** Forward and backward: the ReLU that follows is fused in (y = relu(batch norm)). */
  relu?: boolean;
}

const bnOffsets = new Float64Array(10);

/** [rows, C] of a tensor normalised over every axis but the last. */
function rowsAndChannels(x: tf.TensorInfo): [number, number] {
  const c = x.shape[x.shape.length - 1];
  return [tf.util.sizeFromShape(x.shape) / c, c];
}

/**
 * Allocates the outputs (the heap view is taken after: allocating may grow the heap), runs the
 * addon on the operands' offsets, and frees the outputs if it throws. No wasm kernel exists to
 * fall back to: the caller (`batchNormTraining`) checks dtype, rank and sizes beforehand.
 */
function runBatchNorm(
  name: BatchNormKernelName,
  args: KernelArgs,
  kind: 0 | 1 | 2 | 3 | 4 | 5,
  x: tf.TensorInfo,
  inputs: (tf.TensorInfo | undefined)[],
  outShapes: number[][],
): tf.TensorInfo[] {
  const s = state();
  const be = args.backend as BackendWasm;
  if (!s.addon?.batchNorm) throw new Error(`${name}: the native kernels are not active`);
  if (x.shape.length < 2 || x.dtype !== 'float32' || tf.util.sizeFromShape(x.shape) === 0) {
    throw new Error(`${name}: expected a non-empty float32 tensor of rank ≥ 2, got ${x.dtype} [${x.shape}]`);
  }
  const [rows, c] = rowsAndChannels(x);
  for (const t of inputs) {
    if (t && (t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) !== (t.shape.length === 1 ? c : rows * c))) {
      throw new Error(`${name}: operand ${t.dtype} [${t.shape}] does not match x [${x.shape}]`);
    }
  }
  const outs = outShapes.map((shape) => be.makeOutput(shape, 'float32'));
  bnOffsets.fill(-1);
  [...inputs, ...outs].forEach((t, i) => {
    bnOffsets[i] = t ? offsetOf(be, t) : -1;
  });
  return writeOutputs(name, be, outs, () =>
    s.addon!.batchNorm!(kind, heapOf(be), rows, c, (args.attrs as unknown as BatchNormAttrs | undefined)?.epsilon ?? 0, bnOffsets),
  );
}

/** x → mean, variance; with movingMean and movingVariance (attr momentum) also their updated values. */
const batchNormStats: KernelFunc = (args) => {
  const { x, movingMean, movingVariance } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  if (!x) throw new Error('SelfsupBatchNormStats: x is required');
  const c = x.shape[x.shape.length - 1];
  if (!movingMean && !movingVariance) return runBatchNorm('SelfsupBatchNormStats', args, 0, x, [x], [[c], [c]]);
  const momentum = (args.attrs as { momentum?: number } | undefined)?.momentum;
  if (!movingMean || !movingVariance || typeof momentum !== 'number') {
    throw new Error('SelfsupBatchNormStats: movingMean, movingVariance and the attr momentum go together');
  }
  // the addon's scalar argument is the momentum for this kind
  const moving = { ...args, attrs: { epsilon: momentum } as unknown as tf.NamedAttrMap };
  return runBatchNorm('SelfsupBatchNormStats', moving, 3, x, [x, movingMean, movingVariance], [[c], [c], [c], [c]]);
};

const reluAttr = (args: KernelArgs) => (args.attrs as unknown as BatchNormAttrs | undefined)?.relu === true;

const batchNormForward: KernelFunc = (args) => {
  const { x, mean, variance, gamma, beta } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  if (!x || !mean || !variance) throw new Error('SelfsupBatchNormForward: x, mean and variance are required');
  return runBatchNorm('SelfsupBatchNormForward', args, reluAttr(args) ? 4 : 1, x, [x, mean, variance, gamma, beta], [x.shape])[0];
};

/** dx, dγ, dβ; with attr relu, of relu(batch norm) (then β is required: y is recomputed for the mask). */
const batchNormBackward: KernelFunc = (args) => {
  const { dy, x, mean, variance, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1];
  if (dy.shape.join() !== x.shape.join()) throw new Error(`SelfsupBatchNormBackward: dy [${dy.shape}] and x [${x.shape}] differ`);
  if (reluAttr(args)) {
    if (!gamma || !beta) throw new Error('SelfsupBatchNormBackward: relu needs γ and β');
    return runBatchNorm('SelfsupBatchNormBackward', args, 5, x, [dy, x, mean, variance, gamma, beta], [x.shape, [c], [c]]);
  }
  return runBatchNorm('SelfsupBatchNormBackward', args, 2, x, [dy, x, mean, variance, gamma], [x.shape, [c], [c]]);
};

const BATCH_NORM_KERNELS: Record<BatchNormKernelName, KernelFunc> = {
  SelfsupBatchNormStats: batchNormStats,
  SelfsupBatchNormForward: batchNormForward,
  SelfsupBatchNormBackward: batchNormBackward,
};

// ---- optimizer updates over many variables (../native_optim.ts) -----------------------------

/** The kernel's attributes: the shared LARS settings, then per variable its LR and exclusion. */
interface LarsAttrs extends NativeLarsSettings {
  lrs: number[];
  excluded: boolean[];
}

/** Inputs `${prefix}${k}` for k < count, each float32 and of the size of the first one of its group. */
function groups(name: string, inputs: Record<string, tf.TensorInfo>, count: number, prefixes: string[]): tf.TensorInfo[][] {
  const out: tf.TensorInfo[][] = [];
  for (let k = 0; k < count; k++) {
    const g = prefixes.map((p) => inputs[`${p}${k}`]);
    const size = g[0] ? tf.util.sizeFromShape(g[0].shape) : -1;
    if (g.some((t) => !t || t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) !== size)) {
      throw new Error(`${name}: operands ${prefixes.map((p) => p + k).join(', ')} must be float32 tensors of one size`);
    }
    out.push(g);
  }
  return out;
}

function runOptimizer(name: OptimizerKernelName, args: KernelArgs, kind: 0 | 1, globals: number[], items: tf.TensorInfo[][], outsPer: number, per: (k: number) => number[]): tf.TensorInfo[] {
  const s = state();
  const be = args.backend as BackendWasm;
  if (!s.addon?.optimizerStep) throw new Error(`${name}: the native kernels are not active`);
  const outs = items.flatMap((g) => Array.from({ length: outsPer }, () => be.makeOutput(g[0].shape, 'float32')));
  const vars = new Float64Array(items.length * (1 + (kind === 0 ? 2 : 0) + items[0].length + outsPer));
  let i = 0;
  items.forEach((g, k) => {
    vars[i++] = tf.util.sizeFromShape(g[0].shape);
    for (const v of per(k)) vars[i++] = v;
    for (const t of g) vars[i++] = offsetOf(be, t);
    for (let o = 0; o < outsPer; o++) vars[i++] = offsetOf(be, outs[k * outsPer + o]);
  });
  return writeOutputs(name, be, outs, () => s.addon!.optimizerStep!(kind, heapOf(be), Float64Array.from(globals), vars));
}

const larsStep: KernelFunc = (args) => {
  const a = args.attrs as unknown as LarsAttrs;
  const items = groups('SelfsupLarsStep', args.inputs as Record<string, tf.TensorInfo>, a.lrs.length, ['w', 'g', 'b']);
  if (items.length === 0) return [];
  const globals = [a.momentum, a.eta, a.weightDecay, a.eps, a.clipTrustRatio ? 1 : 0, a.nesterov ? 1 : 0];
  return runOptimizer('SelfsupLarsStep', args, 0, globals, items, 2, (k) => [a.lrs[k], a.excluded[k] ? 1 : 0]);
};

const emaStep: KernelFunc = (args) => {
  const a = args.attrs as unknown as { tau: number; count: number };
  const items = groups('SelfsupEmaStep', args.inputs as Record<string, tf.TensorInfo>, a.count, ['t', 'o']);
  if (items.length === 0) return [];
  return runOptimizer('SelfsupEmaStep', args, 1, [a.tau], items, 1, () => []);
};

const OPTIMIZER_KERNELS: Record<OptimizerKernelName, KernelFunc> = {
  SelfsupLarsStep: larsStep,
  SelfsupEmaStep: emaStep,
};

// ---- ReLU, its gradient, constant padding (plain loops in the addon) ----------------------

type ElementwiseName = ElementwiseKernelName | typeof NATIVE_RELU_GRAD_KERNEL | typeof NATIVE_ADD_RELU_KERNEL;

/**
 * One call of the addon's elementwise loop (`kind`: 0 relu, 1 relu gradient, 2 add, 3 relu(a+b),
 * 4 row-broadcast multiply) into a new float32 output of `shape`. A failing call frees the output;
 * a stock kernel's replacement then falls back to the stock kernel, while our own kernels
 * (SelfsupReluGrad, SelfsupAddRelu), which have no stock kernel, throw.
 */
function runElementwise(
  name: ElementwiseName,
  args: KernelArgs,
  kind: 0 | 1 | 2 | 3 | 4,
  shape: number[],
  a: tf.TensorInfo,
  b: tf.TensorInfo | null,
  inner?: number,
): tf.TensorInfo | tf.TensorInfo[] {
  const be = args.backend as BackendWasm;
  const out = be.makeOutput(shape, 'float32');
  const n = tf.util.sizeFromShape(shape);
  if (n === 0) return out;
  try {
    const ew = state().addon!.elementwise!;
    const bOff = b ? offsetOf(be, b) : -1;
    if (inner === undefined) ew(kind, heapOf(be), n, offsetOf(be, a), bOff, offsetOf(be, out));
    else ew(kind, heapOf(be), n, offsetOf(be, a), bOff, offsetOf(be, out), inner);
  } catch (e) {
    be.disposeData(out.dataId);
    const why = e instanceof Error ? e.message : String(e);
    if (name === NATIVE_RELU_GRAD_KERNEL || name === NATIVE_ADD_RELU_KERNEL) throw new Error(`${name}: ${why}`);
    return fallback(name, args, `native: ${why}`);
  }
  counted(name);
  return out;
}

/** The stock wasm kernel, for the operands a replacement leaves alone (uncounted, not a fallback). */
function stockKernel(name: 'Add' | 'Multiply', args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const f = originalKernel(name);
  if (!f) throw new Error(`selfsup native ${name}: the stock wasm backend has no ${name} kernel`);
  return f(args);
}

const relu: KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype !== 'float32') return fallback('Relu', args, `dtype ${x.dtype}`);
  return runElementwise('Relu', args, 0, x.shape, x, null);
};

/** dy·step(x) in one pass; the caller (the Relu gradient below) checks dtypes and shapes. */
const reluGrad: KernelFunc = (args) => {
  const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  if (!state().addon?.elementwise) throw new Error(`${NATIVE_RELU_GRAD_KERNEL}: the native kernels are not active`);
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || dy.shape.join() !== x.shape.join()) {
    throw new Error(`${NATIVE_RELU_GRAD_KERNEL}: expected float32 dy and x of one shape, got ${dy.dtype} [${dy.shape}] and ${x.dtype} [${x.shape}]`);
  }
  return runElementwise(NATIVE_RELU_GRAD_KERNEL, args, 1, x.shape, dy, x);
};

/**
 * a + b for float32 operands of one shape. Broadcasting additions (biases, scalars) and other
 * dtypes are not this kernel's target: they go to the stock kernel uncounted (not as fallbacks).
 */
const add: KernelFunc = (args) => {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.join() !== b.shape.join()) return stockKernel('Add', args);
  return runElementwise('Add', args, 2, a.shape, a, b);
};

/**
 * If b broadcasts against a as one value per row (b's shape: a's leading axes, then 1s; or the
 * same shape), the row length; else null.
 */
function rowBroadcast(a: number[], b: number[]): number | null {
  if (b.length > a.length) return null;
  const bb = [...new Array(a.length - b.length).fill(1), ...b];
  let k = 0;
  while (k < a.length && bb[k] === a[k]) k++;
  for (let i = k; i < a.length; i++) if (bb[i] !== 1) return null;
  return tf.util.sizeFromShape(a.slice(k));
}

/**
 * a · b for float32 operands where one is the other's shape or one value per row of it (the
 * normalisations x / ‖x‖ and per-image scalings of a step); other multiplications go to the
 * stock kernel uncounted. The product commutes bit for bit, so either operand may be the small one.
 */
const multiply: KernelFunc = (args) => {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return stockKernel('Multiply', args);
  const [big, small] = tf.util.sizeFromShape(a.shape) >= tf.util.sizeFromShape(b.shape) ? [a, b] : [b, a];
  const inner = rowBroadcast(big.shape, small.shape);
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  if (inner === null || inner === 0 || outShape.join() !== big.shape.join()) return stockKernel('Multiply', args);
  return runElementwise('Multiply', args, 4, outShape, big, small, inner);
};

const addRelu: KernelFunc = (args) => {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (!state().addon?.elementwise) throw new Error(`${NATIVE_ADD_RELU_KERNEL}: the native kernels are not active`);
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.join() !== b.shape.join()) {
    throw new Error(`${NATIVE_ADD_RELU_KERNEL}: expected float32 operands of one shape, got ${a.dtype} [${a.shape}] and ${b.dtype} [${b.shape}]`);
  }
  return runElementwise(NATIVE_ADD_RELU_KERNEL, args, 3, a.shape, a, b);
};

const padParams = new Int32Array(12);

const padV2: KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { paddings, constantValue } = args.attrs as unknown as { paddings: [number, number][]; constantValue: number };
  if (x.dtype !== 'float32') return fallback('PadV2', args, `dtype ${x.dtype}`);
  const r = x.shape.length;
  if (r < 1 || r > 4 || paddings.length !== r) return fallback('PadV2', args, `rank ${r}`);
  if (paddings.some(([a, b]) => a < 0 || b < 0)) return fallback('PadV2', args, 'negative padding');
  // as 4-D: leading axes of size 1, unpadded
  const shape = [...new Array(4 - r).fill(1), ...x.shape];
  const pads = [...new Array(4 - r).fill([0, 0]), ...paddings] as [number, number][];
  const outShape = x.shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  if (tf.util.sizeFromShape(x.shape) === 0) return fallback('PadV2', args, 'empty input');
  const be = args.backend as BackendWasm;
  const out = be.makeOutput(outShape, 'float32');
  padParams.set([...shape, ...pads.flat()]);
  try {
    state().addon!.pad!(heapOf(be), padParams, constantValue, offsetOf(be, x), offsetOf(be, out));
  } catch (e) {
    be.disposeData(out.dataId);
    return fallback('PadV2', args, `native: ${e instanceof Error ? e.message : String(e)}`);
  }
  counted('PadV2');
  return out;
};

const ELEMENTWISE_KERNELS: Record<ElementwiseKernelName, KernelFunc> = { Relu: relu, Add: add, Multiply: multiply, PadV2: padV2 };

// tfjs's Relu gradient is mul(dy, cast(step(x))): three full-size kernels. While the native
// kernels are active on wasm it is one (SelfsupReluGrad); otherwise the registered gradient
// runs, unchanged. Installed once per process; the stock gradient is kept for delegation.
const RELU_GRAD_KEY = Symbol.for('selfsup.backend.reluGrad');
function installReluGradient(): void {
  const g = globalThis as unknown as Record<symbol, tf.GradConfig | undefined>;
  if (g[RELU_GRAD_KEY]) return;
  const stock = tf.getGradient('Relu');
  if (!stock) return;
  g[RELU_GRAD_KEY] = stock;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const d = dy as tf.Tensor;
      const [x] = saved;
      if (tf.getBackend() === 'wasm' && tf.getKernel(NATIVE_RELU_GRAD_KERNEL, 'wasm') && d.dtype === 'float32' && x.dtype === 'float32' && d.shape.join() === x.shape.join()) {
        return { x: () => tf.engine().runKernel(NATIVE_RELU_GRAD_KERNEL, { dy: d, x }) as tf.Tensor };
      }
      return stock.gradFunc(dy, saved, attrs);
    },
  });
}

export interface OneDnnKernelOptions {
  /** oneDNN (OpenMP) threads; the wasm pool is idle while the addon runs. */
  threads?: number;
  /** Native BatchMatMul / _FusedMatMul (default true). */
  matmul?: boolean;
  /** Smaller products (multiply-adds, batch included) stay on wasm. */
  minMatmulMacs?: number;
  /** `batchNormTraining` on the addon's kernels (default true where the addon has them). */
  batchNorm?: boolean;
  /** LARS and EMA updates on the addon's kernels (default true where the addon has them). */
  optimizer?: boolean;
  /** ReLU, its gradient, Add and PadV2 on the addon's loops (default true where the addon has them). */
  elementwise?: boolean;
}

/**
 * Registers the oneDNN kernels for 'wasm' (after `registerWasmTrainingKernels`, whose kernels
 * they fall back to), or with `null` puts the wasm kernels back. Returns the kernel names.
 */
export function setOneDnnKernels(addon: OneDnnOps | null, opts: OneDnnKernelOptions = {}): string[] {
  const s = state();
  if (addon === null) {
    s.addon = null;
    s.batchNorm = false;
    s.optimizer = false;
    s.elementwise = false;
    for (const name of [...ONEDNN_KERNEL_NAMES, ...NATIVE_ELEMENTWISE_KERNEL_NAMES]) {
      const f = WASM_TRAINING_KERNELS[name] ?? originalKernel(name);
      if (f) replaceWasmKernel(name, f);
    }
    for (const name of [...NATIVE_BATCH_NORM_KERNEL_NAMES, ...NATIVE_OPTIMIZER_KERNEL_NAMES, NATIVE_RELU_GRAD_KERNEL, NATIVE_ADD_RELU_KERNEL]) {
      if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    }
    return [];
  }
  s.addon = addon;
  s.matmul = opts.matmul ?? true;
  s.batchNorm = (opts.batchNorm ?? true) && typeof addon.batchNorm === 'function';
  for (const name of NATIVE_BATCH_NORM_KERNEL_NAMES) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    if (s.batchNorm) tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: BATCH_NORM_KERNELS[name] });
  }
  s.optimizer = (opts.optimizer ?? true) && typeof addon.optimizerStep === 'function';
  for (const name of NATIVE_OPTIMIZER_KERNEL_NAMES) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    if (s.optimizer) tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: OPTIMIZER_KERNELS[name] });
  }
  s.elementwise = (opts.elementwise ?? true) && typeof addon.elementwise === 'function' && typeof addon.pad === 'function';
  for (const name of NATIVE_ELEMENTWISE_KERNEL_NAMES) {
    if (s.elementwise) replaceWasmKernel(name, ELEMENTWISE_KERNELS[name]);
    else {
      const f = WASM_TRAINING_KERNELS[name] ?? originalKernel(name);
      if (f) replaceWasmKernel(name, f);
    }
  }
  for (const name of [NATIVE_RELU_GRAD_KERNEL, NATIVE_ADD_RELU_KERNEL]) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  }
  if (s.elementwise) {
    installReluGradient();
    tf.registerKernel({ kernelName: NATIVE_RELU_GRAD_KERNEL, backendName: 'wasm', kernelFunc: reluGrad });
    tf.registerKernel({ kernelName: NATIVE_ADD_RELU_KERNEL, backendName: 'wasm', kernelFunc: addRelu });
  }
  if (opts.minMatmulMacs !== undefined) s.minMatmulMacs = opts.minMatmulMacs;
  if (opts.threads !== undefined) addon.setThreads(opts.threads);
  for (const name of ONEDNN_KERNEL_NAMES) replaceWasmKernel(name, ONEDNN_KERNELS[name]);
  return [
    ...ONEDNN_KERNEL_NAMES,
    ...(s.batchNorm ? NATIVE_BATCH_NORM_KERNEL_NAMES : []),
    ...(s.optimizer ? NATIVE_OPTIMIZER_KERNEL_NAMES : []),
    ...(s.elementwise ? [...NATIVE_ELEMENTWISE_KERNEL_NAMES, NATIVE_RELU_GRAD_KERNEL, NATIVE_ADD_RELU_KERNEL] : []),
  ];
}
