// Convolution gradients for the wasm backend, built from the kernels XNNPACK makes fast
// (forward Conv2D / DepthwiseConv2dNative, inner-axis-preserving Transpose, Pad, Concat,
// BatchMatMul). The stock backend has no Conv2DBackpropFilter and a slow naive
// Conv2DBackpropInput (~2 GFLOP/s vs ~15 for a forward conv on this build).
import * as tf from '@tensorflow/tfjs';
import { padOrCrop, type Pair } from './kernel_util';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** Strides and the top/left padding of an NHWC conv (depthwise: channel multiplier in the filter). */
function geometry(
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode: Rounding,
  depthwise: boolean,
): { sh: number; sw: number; top: number; left: number } {
  const info = tf.backend_util.computeConv2DInfo(inShape, filterShape, strides, 1, pad, dimRoundingMode, depthwise, 'channelsLast');
  return { sh: info.strideHeight, sw: info.strideWidth, top: info.padInfo.top, left: info.padInfo.left };
}

/** Up to this many channels the direct 4-D transpose is the faster one (see nhwcToChwn). */
const DIRECT_CHWN_MAX_CHANNELS = 16;

/**
 * NHWC [N,H,W,C] → [C,H,W,N]. With many channels a direct 4-D permutation that moves C hits
 * a slow path of the wasm Transpose (C = 32, 256×32×32: 76 ms) and three 3-D transposes that
 * keep a contiguous inner axis do not (19 ms); with few channels the direct one wins
 * (C = 8, 256×28×28: 1.9 vs 4.1 ms; C = 1: 0.1 vs 0.8 ms).
 */
function nhwcToChwn(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (c <= DIRECT_CHWN_MAX_CHANNELS) return tf.transpose(x, [3, 1, 2, 0]);
  const hwNC = tf.transpose(x.reshape([n, h * w, c]), [1, 0, 2]);
  const hwCN = tf.transpose(hwNC, [0, 2, 1]);
  return tf.transpose(hwCN, [1, 0, 2]).reshape([c, h, w, n]);
}

/** Every s-th row/column of x starting at 0, i.e. the pixels a strided 1×1 conv reads. */
function subsample(x: tf.Tensor4D, sh: number, sw: number, oh: number, ow: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const fit = padOrCrop(x, [0, oh * sh - h], [0, ow * sw - w]);
  const full = tf.pad(fit.x, fit.pad) as tf.Tensor4D;
  const grid = full.reshape([n, oh, sh, ow, sw, c]);
  return tf.slice(grid, [0, 0, 0, 0, 0, 0], [n, oh, 1, ow, 1, c]).reshape([n, oh, ow, c]);
}

/**
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·sh+kh−top, ow·sw+kw−left, ci] · dy[n,oh,ow,co]
 * is a forward conv with the batch as channels: input x as [CI,H,W,N], filter dy as
 * [OH,OW,N,CO], dilation = stride, giving [CI,KH,KW,CO].
 */
export function conv2dBackpropFilterImpl(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, ci, co] = filterShape;
    const { sh, sw, top, left } = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, false);
    const [, h, w] = x.shape;
    const [, oh, ow] = dy.shape;
    if (kh === 1 && kw === 1 && top === 0 && left === 0) {
      // A 1×1 conv is one GEMM over pixels. XNNPACK re-packs the right-hand operand on
      // every call, so the narrower matrix goes on the right.
      const x2 = subsample(x, sh, sw, oh, ow).reshape([-1, ci]);
      const d2 = dy.reshape([-1, co]);
      if (ci <= co) return tf.transpose(tf.matMul(tf.transpose(d2), x2)).reshape(filterShape);
      return tf.matMul(tf.transpose(x2), d2).reshape(filterShape);
    }
    // Rows of x the conv must see: exactly kh + (oh−1)·sh starting at −top (crop if negative).
    const bottom = kh + (oh - 1) * sh - h - top;
    const right = kw + (ow - 1) * sw - w - left;
    const xT = nhwcToChwn(x);
    const dyT = tf.transpose(dy, [1, 2, 0, 3]);
    const p = padOrCrop(xT, [top, bottom], [left, right]);
    const out = tf.conv2d(p.x, dyT as tf.Tensor4D, 1, p.pad, 'NHWC', [sh, sw]);
    return tf.transpose(out, [1, 2, 0, 3]);
  });
}

/** Taps `taps` of axis `axis`, in that order (slices + concat: the wasm GatherV2 is a slow loop). */
function takeTaps(t: tf.Tensor4D, taps: number[], axis: number): tf.Tensor4D {
  const parts = taps.map((k) => {
    const begin = [0, 0, 0, 0];
    const size = t.shape.slice();
    begin[axis] = k;
    size[axis] = 1;
    return tf.slice(t, begin, size);
  });
  return parts.length === 1 ? parts[0] : tf.concat(parts, axis);
}

interface Phase {
  /** Filter taps used by this phase, already reversed (the transposed conv flips the filter). */
  taps: number[];
  /** Padding (negative: crop) of dy before a stride-1 valid correlation. */
  before: number;
  after: number;
}

/**
 * Polyphase decomposition of a transposed conv along one axis. With i = s·m + a,
 * dx[i] = Σ_j dy[m + c − j] · w[r + s·j] where a + padBefore = s·c + r, which is a stride-1
 * correlation of dy with the reversed taps w[r], w[r+s], … — one small conv per phase.
 * Each phase yields `len` outputs (rows past the input size are cropped later).
 */
function phase(a: number, s: number, k: number, padBefore: number, len: number, outLen: number): Phase | null {
  const r = (((a + padBefore) % s) + s) % s;
  const c = Math.floor((a + padBefore) / s);
  const taps: number[] = [];
  for (let t = r; t < k; t += s) taps.push(t);
  if (taps.length === 0) return null;
  const m = taps.length;
  const before = m - 1 - c;
  return { taps: taps.reverse(), before, after: len - outLen - before + m - 1 };
}

/**
 * dx of a conv (or of a depthwise conv with channel multiplier 1): stride 1 is one
 * forward conv of dy with the flipped, transposed filter; stride s is s_h·s_w such convs
 * whose outputs are interleaved by a single transpose that keeps channels innermost.
 */
export function conv2dBackpropInputImpl(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: Rounding,
  depthwise = false,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, ci] = inputShape;
    const [kh, kw] = filter.shape;
    const { sh, sw, top, left } = geometry(inputShape, filter.shape, strides, pad, dimRoundingMode, depthwise);
    const [, oh, ow] = dy.shape;
    const rowsPerPhase = Math.ceil(h / sh);
    const colsPerPhase = Math.ceil(w / sw);
    // filter for the transposed conv: [KH,KW,CO,CI], or [KH,KW,C,1] for depthwise
    const wT = depthwise ? filter : tf.transpose(filter, [0, 1, 3, 2]);
    const conv = (inp: tf.Tensor4D, f: tf.Tensor4D, p: [[0, 0], Pair, Pair, [0, 0]]): tf.Tensor4D =>
      depthwise ? tf.depthwiseConv2d(inp, f, 1, p) : tf.conv2d(inp, f, 1, p);
    const phases: (tf.Tensor4D | null)[] = [];
    for (let a = 0; a < sh; a++) {
      for (let b = 0; b < sw; b++) {
        const ph = phase(a, sh, kh, top, rowsPerPhase, oh);
        const pw = phase(b, sw, kw, left, colsPerPhase, ow);
        if (!ph || !pw) {
          phases.push(null);
          continue;
        }
        const f = takeTaps(takeTaps(wT, ph.taps, 0), pw.taps, 1);
        const p = padOrCrop(dy, [ph.before, ph.after], [pw.before, pw.after]);
        phases.push(conv(p.x, f, p.pad));
      }
    }
    let out: tf.Tensor4D;
    const live = phases.filter((p): p is tf.Tensor4D => p !== null);
    if (sh === 1 && sw === 1) {
      out = live[0];
    } else if (live.length === 1) {
      // e.g. a strided 1×1 conv: one phase, the others are zero → interleave with a 6-D pad
      const k = phases.findIndex((p) => p !== null);
      const a = Math.floor(k / sw);
      const b = k % sw;
      out = tf
        .pad(live[0].reshape([n, rowsPerPhase, 1, colsPerPhase, 1, ci]), [
          [0, 0], [0, 0], [a, sh - 1 - a], [0, 0], [b, sw - 1 - b], [0, 0],
        ])
        .reshape([n, rowsPerPhase * sh, colsPerPhase * sw, ci]);
    } else {
      // [N,I,J,sh·sw·CI] → [N,I,J,sh,sw,CI] → [N,I,sh,J,sw,CI]. (Stacking phases on an outer
      // axis instead needs a 6-D permutation the wasm Transpose runs ~100× slower.)
      const all = phases.map((p) => p ?? tf.zeros([n, rowsPerPhase, colsPerPhase, ci]) as tf.Tensor4D);
      const st = tf.concat(all, 3).reshape([n, rowsPerPhase, colsPerPhase, sh, sw, ci]);
      out = tf.transpose(st, [0, 1, 3, 2, 4, 5]).reshape([n, rowsPerPhase * sh, colsPerPhase * sw, ci]);
    }
    if (rowsPerPhase * sh !== h || colsPerPhase * sw !== w) out = tf.slice(out, [0, 0, 0, 0], [n, h, w, ci]);
    return out;
  });
}

/**
 * Depthwise dW with the batch folded into channels: input [1,H,W,N·C], filter dy as
 * [OH,OW,N·C,1], dilation = stride → [1,KH,KW,N·C], then a sum over N.
 */
export function depthwiseBackpropFilterImpl(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c] = filterShape;
    const { sh, sw, top, left } = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, true);
    const [n, h, w] = x.shape;
    const [, oh, ow] = dy.shape;
    const bottom = kh + (oh - 1) * sh - h - top;
    const right = kw + (ow - 1) * sw - w - left;
    const xin = tf.transpose(x, [1, 2, 0, 3]).reshape([1, h, w, n * c]) as tf.Tensor4D;
    const f = tf.transpose(dy, [1, 2, 0, 3]).reshape([oh, ow, n * c, 1]) as tf.Tensor4D;
    const p = padOrCrop(xin, [top, bottom], [left, right]);
    const perN = tf.depthwiseConv2d(p.x, f, 1, p.pad, 'NHWC', [sh, sw]);
    const byN = tf.transpose(perN.reshape([kh * kw, n, c]), [1, 0, 2]).reshape([n, kh * kw * c]);
    return tf.sum(byN, 0).reshape([kh, kw, c, 1]);
  });
}

