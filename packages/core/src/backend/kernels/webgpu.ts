import * as tf from '@tensorflow/tfjs';
import { asTensor, padOrCrop, processMap, type KernelArgs, type KernelFunc } from './kernel_util';
import { directChannelSum, directConvFilterGrad, directConvForward, directConvInputGrad, directConvUnsupported, setWebgpuDirectConvAuto, webgpuDirectConvActive, type ConvInfo } from './webgpu-direct-conv';

/**
 * Every kernel a BYOL training run dispatches (byol-fashion-mnist.yaml and tiny.yaml with
 * lars, sgd, adam and adamw: augmentations, forward, backward, optimizers, EMA, the kNN
 * evaluation), recorded on the cpu backend, plus StridedSlice (our Conv2DBackpropFilter below).
 * tfjs-backend-webgpu 4.22 registers all of them; selfsup replaces one (Conv2DBackpropFilter,
 * below). test/webgpu-parity.test.ts checks their values and gradients against the cpu backend.
 * Augment presets with colour jitter, blur and solarize are covered by that test too.
 */
export const WEBGPU_TRAINING_KERNELS: readonly string[] = [
  'Abs', 'Add', 'Any', 'BatchMatMul', 'Cast', 'ClipByValue', 'Concat', 'Conv2DBackpropFilter',
  'Conv2DBackpropInput', 'CropAndResize', 'Exp', 'ExpandDims', 'FlipLeftRight', 'FusedBatchNorm',
  'FusedConv2D', 'GatherV2', 'Greater', 'GreaterEqual', 'Identity', 'IsFinite', 'LogicalAnd',
  'LogicalNot', 'Maximum', 'Mean', 'Minimum', 'Multiply', 'Neg', 'OneHot', 'OnesLike', 'Pack',
  'PadV2', 'Pow', 'RealDiv', 'Relu', 'Reshape', 'Rsqrt', 'Select', 'Slice', 'SplitV', 'Sqrt',
  'Square', 'Step', 'StridedSlice', 'Sub', 'Sum', 'TopK', 'Transpose', 'ZerosLike', '_FusedMatMul',
];

/**
 * Checks that the webgpu backend has every kernel training needs and returns the missing
 * ones (none with tfjs-backend-webgpu 4.22.0; a different version might drop some); puts
 * selfsup's kernels in place of the stock ones: the filter gradient always (below), and on a
 * software adapter (`softwareAdapter`) the direct programs of webgpu-direct-conv.ts for the conv
 * forward, both gradients and Sum/Mean over all axes but the last, where their shapes allow
 * (the stock kernels otherwise).
 */
export function registerWebgpuTrainingKernels(softwareAdapter = false): string[] {
  const missing = WEBGPU_TRAINING_KERNELS.filter((k) => tf.getKernel(k, 'webgpu') == null);
  replaceWebgpuKernel('Conv2DBackpropFilter', conv2dBackpropFilterWebgpu);
  replaceWebgpuKernel('Conv2DBackpropInput', conv2dBackpropInputWebgpu);
  replaceWebgpuKernel('Conv2D', conv2dWebgpu);
  replaceWebgpuKernel('FusedConv2D', fusedConv2dWebgpu);
  replaceWebgpuKernel('Sum', sumWebgpu);
  replaceWebgpuKernel('Mean', meanWebgpu);
  setWebgpuDirectConvAuto(softwareAdapter);
  return missing;
}

type Shape4 = [number, number, number, number];
/** Conv2DBackpropFilter's attributes. */
export interface FilterGradAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
  filterShape: Shape4;
}

/**
 * From this many filter weights up, the filter gradient is im2col + one matMul; below, the
 * stock kernel. tfjs-backend-webgpu's Conv2DBackpropFilter runs one invocation per filter
 * weight, each looping over batch × output pixels: few, long invocations. Measured on Mesa's
 * llvmpipe with the main job's 3×3 convolutions at 64 images (docs/performance.md, "WebGPU:
 * where the step's time goes"): the stock kernel wins at 72 and 576 weights (by 1.5–2×), the two
 * are even at 1,152 (0.9–1.2×), and im2col wins from 2,304 (1.2–1.4×) to 36,864 (3.2–3.9×). A
 * hardware GPU, with thousands of lanes, has not been measured.
 */
export const WEBGPU_IM2COL_MIN_WEIGHTS = 1024;
/**
 * The im2col matrix is built for this many values at most (128 MiB of float32, WebGPU's default
 * maxStorageBufferBindingSize: a larger buffer fails validation on llvmpipe); more images go in chunks.
 */
export const WEBGPU_IM2COL_MAX_VALUES = 2 ** 25;
/**
 * What one shader invocation may loop over in the filter gradient: images × output pixels for the
 * stock kernel, the shared dimension of im2col's matMul (rows of the im2col matrix). More is split
 * into calls whose results are summed. Mesa's llvmpipe ends a shader's loops after 65,535
 * iterations in all (gallivm's loop limiter, LP_MAX_TGSI_LOOP_ITERATIONS), silently. Measured
 * there: the stock kernel at 28×28 outputs is right for 72 images (56,448 iterations), wrong by a
 * relative 0.17 for 80 (62,720) and by 0.94 for the main job's 256; at 14×14, right for 256 and
 * wrong for 320. tfjs's matMul [256 × K]ᵀ · [K × 64] is right for K = 49,152 and wrong (0.21) for
 * 65,536. Half the limit, for margin; a hardware GPU gets shorter invocations from it too.
 */
export const WEBGPU_MAX_PIXELS_PER_CALL = 32768;

// The stock webgpu kernels replaced here, captured once per process (not per module copy).
const stockKernels = () => processMap<KernelFunc>('selfsup.backend.webgpu.stockKernels');
/** tfjs-backend-webgpu's own kernel `name`, as it was before selfsup replaced it (null if never replaced). */
export function stockWebgpuKernel(name: string): KernelFunc | null {
  return stockKernels().get(name) ?? null;
}
function stock(name: string): KernelFunc {
  const k = stockWebgpuKernel(name);
  if (!k) throw new Error(`selfsup webgpu ${name}: the stock kernel was not recorded`);
  return k;
}

function replaceWebgpuKernel(name: string, kernelFunc: KernelFunc): void {
  const existing = tf.getKernel(name, 'webgpu');
  if (!existing || existing.kernelFunc === kernelFunc) return;
  // the first kernel seen is tfjs's own; a later one is selfsup's (another copy of this module)
  if (!stockKernels().has(name)) stockKernels().set(name, existing.kernelFunc);
  tf.unregisterKernel(name, 'webgpu');
  tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc });
}

/** Whether selfsup's Conv2DBackpropFilter is the one registered for webgpu. */
export function webgpuFilterGradientInstalled(): boolean {
  return tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc === conv2dBackpropFilterWebgpu;
}

type WebgpuBackendArg = Parameters<typeof directConvForward>[0];
interface ConvAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}
function convInfo(xShape: number[], filterShape: number[], a: ConvAttrs): ConvInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number], a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false,
    tf.backend_util.convertConv2DDataFormat(a.dataFormat ?? 'NHWC'),
  );
}

/** Forward convolution: the direct program where active and possible (no bias or activation fused), else tfjs-webgpu's. */
function convForward(name: 'Conv2D' | 'FusedConv2D'): KernelFunc {
  return (args: KernelArgs) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const a = args.attrs as unknown as ConvAttrs;
    if (webgpuDirectConvActive() && x && filter && bias == null && preluActivationWeights == null && (a.activation == null || a.activation === 'linear')) {
      const info = convInfo(x.shape, filter.shape, a);
      if (directConvUnsupported(info, 'forward') === null) return directConvForward(args.backend as unknown as WebgpuBackendArg, x, filter, info);
    }
    return stock(name)(args);
  };
}
const conv2dWebgpu = convForward('Conv2D');
const fusedConv2dWebgpu = convForward('FusedConv2D');

/**
 * Sum and Mean over every axis but the last (batch norm's moments and gradients): the direct
 * channel sum where active and the channels come in 4s, else tfjs-webgpu's reduction.
 */
function channelReduce(name: 'Sum' | 'Mean'): KernelFunc {
  return (args: KernelArgs) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims?: boolean };
    const rank = x.shape.length;
    const channels = x.shape[rank - 1];
    if (webgpuDirectConvActive() && x.dtype === 'float32' && rank >= 2 && channels % 4 === 0) {
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
      if (axes.length === rank - 1 && axes.every((a, i) => a === i)) {
        const rows = tf.util.sizeFromShape(x.shape) / channels;
        return tf.tidy(() => {
          const s = directChannelSum(args.backend as unknown as WebgpuBackendArg, x);
          const r = name === 'Mean' ? tf.div(s, rows) : s;
          return keepDims ? r.reshape([...axes.map(() => 1), channels]) : r;
        });
      }
    }
    return stock(name)(args);
  };
}
const sumWebgpu = channelReduce('Sum');
const meanWebgpu = channelReduce('Mean');

/** Input gradient: the direct program where active and possible, else tfjs-webgpu's. */
const conv2dBackpropInputWebgpu: KernelFunc = (args: KernelArgs) => {
  const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
  if (webgpuDirectConvActive()) {
    const info = convInfo(a.inputShape, filter.shape, a);
    if (directConvUnsupported(info, 'input') === null) {
      const f = asTensor(filter);
      const filterT = tf.transpose(f, [0, 1, 3, 2]);
      if (f !== filter) f.dispose(); // asTensor wrapped a bare TensorInfo: release the wrapper
      const dx = directConvInputGrad(args.backend as unknown as WebgpuBackendArg, dy, filterT, info);
      filterT.dispose();
      return dx;
    }
  }
  return stock('Conv2DBackpropInput')(args);
};

/** Output pixels per image: dy is [n, oh, ow, co] (NHWC) or [n, co, oh, ow] (NCHW). */
const outPixels = (dyShape: number[], a: FilterGradAttrs) => (a.dataFormat === 'NCHW' ? dyShape[2] * dyShape[3] : dyShape[1] * dyShape[2]);

/**
 * Which formulation computes this filter gradient: the stock kernel for what im2col does not
 * cover (NCHW, dilations), and for small filters while one image's output pixels fit
 * {@link WEBGPU_MAX_PIXELS_PER_CALL}; im2col otherwise.
 */
export function webgpuFilterGradientPath(dyShape: number[], a: FilterGradAttrs): 'stock' | 'im2col' {
  if (a.dataFormat === 'NCHW') return 'stock';
  if (a.dilations != null && [a.dilations].flat().some((d) => d !== 1)) return 'stock';
  if (outPixels(dyShape, a) > WEBGPU_MAX_PIXELS_PER_CALL) return 'im2col';
  return tf.util.sizeFromShape(a.filterShape) < WEBGPU_IM2COL_MIN_WEIGHTS ? 'stock' : 'im2col';
}

/** Images per call of the stock kernel: its loops stay within {@link WEBGPU_MAX_PIXELS_PER_CALL} (one image at least). */
export function stockFilterGradientChunk(dyShape: number[], a: FilterGradAttrs): number {
  return Math.max(1, Math.min(dyShape[0], Math.floor(WEBGPU_MAX_PIXELS_PER_CALL / outPixels(dyShape, a))));
}

const conv2dBackpropFilterWebgpu: KernelFunc = (args: KernelArgs) => {
  const a = args.attrs as unknown as FilterGradAttrs;
  if (webgpuDirectConvActive()) {
    const x = args.inputs.x as tf.TensorInfo;
    const info = convInfo(x.shape, a.filterShape, a);
    if (directConvUnsupported(info, 'filter') === null) return directConvFilterGrad(args.backend as unknown as WebgpuBackendArg, x, args.inputs.dy as tf.TensorInfo, info);
  }
  const x = asTensor<tf.Tensor4D>(args.inputs.x as tf.TensorInfo);
  const dy = asTensor<tf.Tensor4D>(args.inputs.dy as tf.TensorInfo);
  if (webgpuFilterGradientPath(dy.shape, a) === 'im2col') return im2colFilterGradient(x, dy, a);
  const stock = stockWebgpuKernel('Conv2DBackpropFilter');
  if (!stock) throw new Error('selfsup webgpu Conv2DBackpropFilter: the stock kernel was not recorded');
  const n = dy.shape[0];
  const chunk = stockFilterGradientChunk(dy.shape, a);
  if (chunk >= n) return stock(args);
  return tf.tidy(() => {
    let dw: tf.Tensor | null = null;
    for (let b0 = 0; b0 < n; b0 += chunk) {
      const nb = Math.min(chunk, n - b0);
      const xs = tf.slice(x, [b0, 0, 0, 0], [nb, -1, -1, -1]);
      const ds = tf.slice(dy, [b0, 0, 0, 0], [nb, -1, -1, -1]);
      const part = asTensor(stock({ ...args, inputs: { x: xs, dy: ds } }) as tf.TensorInfo);
      dw = dw === null ? part : tf.add(dw, part);
    }
    return dw as tf.Tensor;
  });
};

/**
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·sh+kh−top, ow·sw+kw−left, ci] · dy[n,oh,ow,co] as
 * colsᵀ · dy, where cols holds, per output pixel, the kh·kw·ci input values it reads (one
 * strided slice of the padded input per filter tap, side by side). tfjs's matMul then picks
 * its tiled or split-K program. Images go in chunks so that cols holds at most maxValues values,
 * and each matMul sums over at most maxRows of its rows.
 * Any backend: the kernel below calls it on webgpu; the tests check it on cpu too.
 */
export function im2colFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, a: FilterGradAttrs, maxValues = WEBGPU_IM2COL_MAX_VALUES, maxRows = WEBGPU_MAX_PIXELS_PER_CALL): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, ci, co] = a.filterShape;
    const info = tf.backend_util.computeConv2DInfo(x.shape, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
    const { top, left } = info.padInfo;
    const [n, h, w] = x.shape;
    // exactly the rows and columns the conv reads: kh + (oh−1)·sh from −top (cropped where negative)
    const fit = padOrCrop(x, [top, kh + (oh - 1) * sh - h - top], [left, kw + (ow - 1) * sw - w - left]);
    const xp = fit.pad.some(([p, q]) => p || q) ? (tf.pad(fit.x, fit.pad) as tf.Tensor4D) : fit.x;
    const perImage = oh * ow * kh * kw * ci;
    const chunk = Math.max(1, Math.min(n, Math.floor(maxValues / perImage)));
    const rowsPerMatMul = Math.max(1, maxRows);
    let dw: tf.Tensor2D | null = null;
    for (let b0 = 0; b0 < n; b0 += chunk) {
      const nb = Math.min(chunk, n - b0);
      const xs = nb === n ? xp : tf.slice(xp, [b0, 0, 0, 0], [nb, -1, -1, -1]);
      const ds = nb === n ? dy : tf.slice(dy, [b0, 0, 0, 0], [nb, -1, -1, -1]);
      const taps: tf.Tensor4D[] = [];
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          taps.push(tf.stridedSlice(xs, [0, i, j, 0], [nb, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, ci], [1, sh, sw, 1]) as tf.Tensor4D);
        }
      }
      const rows = nb * oh * ow;
      const cols = (taps.length === 1 ? taps[0] : tf.concat(taps, 3)).reshape([rows, kh * kw * ci]);
      const dys = ds.reshape([rows, co]);
      // the shared dimension in blocks of at most maxRows (see WEBGPU_MAX_PIXELS_PER_CALL)
      for (let r0 = 0; r0 < rows; r0 += rowsPerMatMul) {
        const rb = Math.min(rowsPerMatMul, rows - r0);
        const a2 = rb === rows ? cols : tf.slice(cols, [r0, 0], [rb, -1]);
        const b2 = rb === rows ? dys : tf.slice(dys, [r0, 0], [rb, -1]);
        const part = tf.matMul(a2, b2, true, false) as tf.Tensor2D;
        dw = dw === null ? part : (tf.add(dw, part) as tf.Tensor2D);
      }
    }
    return (dw as tf.Tensor2D).reshape(a.filterShape);
  });
}
