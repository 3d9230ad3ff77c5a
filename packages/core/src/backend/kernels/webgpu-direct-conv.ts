import * as tf from '@tensorflow/tfjs';

/**
 * Direct NHWC convolutions for the webgpu backend, written for WebGPU on the CPU (Mesa's
 * llvmpipe, the software adapter CI and machines without a GPU use).
 *
 * tfjs-backend-webgpu's convolution programs are written for thousands of GPU lanes: tiles in
 * workgroup memory with barriers (forward), one invocation per filter weight looping over the
 * whole batch (filter gradient). llvmpipe runs a workgroup as SIMD groups of 8 lanes on 2 CPU
 * threads here, where barriers are costly and the tiles small; it ran the main job's
 * convolutions at 0.5–4 GFLOP/s. These programs need neither: every invocation keeps a small
 * register block (P output pixels × C groups of 4 channels) and loops over the filter taps and
 * channels, reading storage buffers directly (vec4 along the channels that are contiguous).
 * Measured on llvmpipe, 256 images of the main job's shapes (docs/performance.md): 6–12 GFLOP/s,
 * 2–45× tfjs-webgpu's forward. A hardware GPU has not been measured: they are used on software
 * adapters only unless forced ({@link setWebgpuDirectConv}).
 *
 * Each program's loops stay under llvmpipe's 65,535-iteration limit: the forward and input
 * gradient loop over kh·kw·ci (resp. kh·kw·co) values, bounded below; the filter gradient sums
 * over images in chunks of at most {@link DIRECT_MAX_LOOP} output pixels and adds the chunks.
 */

/** Longest loop a direct program may run per invocation (half llvmpipe's silent limit, as WEBGPU_MAX_PIXELS_PER_CALL). */
export const DIRECT_MAX_LOOP = 32768;
/** Output pixels per invocation (along the width) in the forward and input-gradient programs. */
const PIXELS = 4;
const WORKGROUP = 64;

let forced: boolean | null = null;
let auto = false;

/**
 * Forces the direct convolutions on (`true`) or off (`false`) for webgpu, or lets the adapter
 * decide (`null`, the default: on for a software adapter, off for a GPU).
 */
export function setWebgpuDirectConv(on: boolean | null): void {
  forced = on;
}
/** Called when the webgpu backend starts: whether its adapter is a software one. */
export function setWebgpuDirectConvAuto(softwareAdapter: boolean): void {
  auto = softwareAdapter;
}
/** Whether webgpu convolutions take the direct programs (where the shapes allow). */
export function webgpuDirectConvActive(): boolean {
  return forced ?? auto;
}

type Uniform = { type: 'int32' | 'float32'; data: number[] };
interface Program {
  variableNames: string[];
  variableComponents?: number[];
  outputComponent?: number;
  outputShape: number[];
  uniforms: string;
  workgroupSize: [number, number, number];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey: string;
  getUserCode(): string;
}
interface WebgpuBackendLike {
  runWebGPUProgram(program: Program, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: Uniform[]): tf.TensorInfo;
}

function program(name: string, variableNames: string[], variableComponents: number[], outputShape: number[], count: number, uniforms: string, code: string): Program {
  return {
    variableNames,
    variableComponents,
    outputComponent: 4,
    outputShape,
    uniforms,
    workgroupSize: [WORKGROUP, 1, 1],
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(count / WORKGROUP), 1, 1],
    shaderKey: `selfsup_${name}`,
    getUserCode: () => code,
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * WGSL of a register block of P pixels × C vec4 channel groups (the forward and the input
 * gradient): the accumulators, one step of the channel loop `k` (C weights `w`, P inputs `v`,
 * P·C fma), and the writes of the pixels inside the row (`first` + p < `limit`).
 */
function registerBlock(P: number, C: number, o: { weights: string; k: string; stride: string; input: string; base: string; first: string; limit: string }) {
  return {
    acc: range(P).flatMap((p) => range(C).map((c) => `var a${p}_${c} = vec4<f32>(0.0);`)).join('\n      '),
    step: [
      ...range(C).map((c) => `let w${c} = ${o.weights}[wb + ${o.k} * ${o.stride} + ${c}];`),
      ...range(P).flatMap((p) => [`let v${p} = vec4<f32>(select(0.0, ${o.input}[${o.base}${p} + ${o.k}], ok${p}));`, ...range(C).map((c) => `a${p}_${c} = fma(v${p}, w${c}, a${p}_${c});`)]),
    ].join('\n            '),
    write: range(P)
      .map((p) => `if (${o.first} + ${p} < ${o.limit}) { ${range(C).map((c) => `result[ob + ${p} * ${o.stride} + ${c}] = a${p}_${c};`).join(' ')} }`)
      .join('\n      '),
  };
}

/** The conv programs' uniforms: pads (top, left), strides, filter size, invocation count. */
const convUniforms = (info: tf.backend_util.Conv2DInfo, count: number): Uniform[] => [
  { type: 'int32', data: [info.padInfo.top, info.padInfo.left] },
  { type: 'int32', data: [info.strideHeight, info.strideWidth] },
  { type: 'int32', data: [info.filterHeight, info.filterWidth] },
  { type: 'int32', data: [count] },
];

/** What a direct conv needs to know (tfjs's Conv2DInfo, NHWC). */
export type ConvInfo = tf.backend_util.Conv2DInfo;

/** Why the direct programs cannot take this convolution (null: they can). */
export function directConvUnsupported(info: ConvInfo, which: 'forward' | 'input' | 'filter'): string | null {
  if (info.dataFormat !== 'channelsLast') return 'NCHW';
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return 'dilations';
  if (info.outChannels % 4 !== 0 && which !== 'input') return 'output channels not a multiple of 4';
  if (which === 'input' && info.inChannels % 4 !== 0) return 'input channels not a multiple of 4';
  const taps = info.filterHeight * info.filterWidth;
  if (which === 'forward' && taps * info.inChannels > DIRECT_MAX_LOOP) return 'filter too large';
  if (which === 'input' && taps * info.outChannels > DIRECT_MAX_LOOP) return 'filter too large';
  if (which === 'filter' && info.outHeight * info.outWidth > DIRECT_MAX_LOOP) return 'output image too large';
  return null;
}

/**
 * y = conv2d(x, W): one invocation per PIXELS output columns × C groups of 4 output channels.
 * Its sum runs over (kh, kw, ci) in tfjs's order, so it equals tfjs-webgpu's forward bit for bit.
 */
export function directConvForward(backend: WebgpuBackendLike, x: tf.TensorInfo, filter: tf.TensorInfo, info: ConvInfo): tf.TensorInfo {
  const [n, oh, ow, co] = info.outShape;
  const C = co % 8 === 0 ? 2 : 1;
  const P = PIXELS;
  const count = n * oh * Math.ceil(ow / P) * (co / 4 / C);
  const b = registerBlock(P, C, { weights: 'W', k: 'ci', stride: 'CO4', input: 'x', base: 'xb', first: 'ox0', limit: 'OW' });
  const px = range(P).map((p) => `let ix${p} = ixs + ${p} * uniforms.strides.y; let ok${p} = ix${p} >= 0 && ix${p} < XW; let xb${p} = select(0, (rowBase + ix${p}) * CI, ok${p});`);
  const code = `
    fn main(index : i32) {
      if (index >= uniforms.count) { return; }
      let OH = uniforms.outShape[1]; let OW = uniforms.outShape[2]; let CO4 = uniforms.outShape[3] / 4;
      let XH = uniforms.xShape[1]; let XW = uniforms.xShape[2]; let CI = uniforms.xShape[3];
      let NB = CO4 / ${C}; let OWP = (OW + ${P - 1}) / ${P};
      let cb = index % NB; var t = index / NB;
      let owb = t % OWP; t = t / OWP;
      let oy = t % OH; let n = t / OH;
      let ox0 = owb * ${P}; let co4 = cb * ${C};
      ${b.acc}
      for (var kh = 0; kh < uniforms.filt.x; kh++) {
        let iy = oy * uniforms.strides.x + kh - uniforms.pads.x;
        if (iy < 0 || iy >= XH) { continue; }
        let rowBase = (n * XH + iy) * XW;
        for (var kw = 0; kw < uniforms.filt.y; kw++) {
          let ixs = ox0 * uniforms.strides.y + kw - uniforms.pads.y;
          ${px.join('\n          ')}
          let wb = (kh * uniforms.filt.y + kw) * CI * CO4 + co4;
          for (var ci = 0; ci < CI; ci++) {
            ${b.step}
          }
        }
      }
      let ob = ((n * OH + oy) * OW + ox0) * CO4 + co4;
      ${b.write}
    }`;
  const prog = program(`convFwd_${P}_${C}`, ['x', 'W'], [1, 4], info.outShape, count, 'pads : vec2<i32>, strides : vec2<i32>, filt : vec2<i32>, count : i32,', code);
  return backend.runWebGPUProgram(prog, [x, filter], 'float32', convUniforms(info, count));
}

/**
 * dx[n,iy,ix,ci] = Σ_{kh,kw,co} dy[n,oy,ox,co] · W[kh,kw,ci,co] over the (oy, ox) with
 * oy·sh + kh − top = iy (and the same for x): one invocation per PIXELS input columns × C groups
 * of 4 input channels, reading W transposed to [kh, kw, co, ci] (vec4 along ci).
 */
export function directConvInputGrad(backend: WebgpuBackendLike, dy: tf.TensorInfo, filterT: tf.TensorInfo, info: ConvInfo): tf.TensorInfo {
  const [n, h, w, ci] = info.inShape;
  const C = ci % 8 === 0 ? 2 : 1;
  const P = PIXELS;
  const count = n * h * Math.ceil(w / P) * (ci / 4 / C);
  const b = registerBlock(P, C, { weights: 'Wt', k: 'co', stride: 'CI4', input: 'dy', base: 'db', first: 'ix0', limit: 'XW' });
  const px = range(P).map(
    (p) =>
      `let tx${p} = ixs + ${p}; let ok${p} = tx${p} >= 0 && tx${p} % uniforms.strides.y == 0 && tx${p} / uniforms.strides.y < OW; let db${p} = select(0, (rowBase + tx${p} / uniforms.strides.y) * CO, ok${p});`,
  );
  const code = `
    fn main(index : i32) {
      if (index >= uniforms.count) { return; }
      let XH = uniforms.outShape[1]; let XW = uniforms.outShape[2]; let CI4 = uniforms.outShape[3] / 4;
      let OH = uniforms.dyShape[1]; let OW = uniforms.dyShape[2]; let CO = uniforms.dyShape[3];
      let NB = CI4 / ${C}; let XWP = (XW + ${P - 1}) / ${P};
      let cb = index % NB; var t = index / NB;
      let ixb = t % XWP; t = t / XWP;
      let iy = t % XH; let n = t / XH;
      let ix0 = ixb * ${P}; let ci4 = cb * ${C};
      ${b.acc}
      for (var kh = 0; kh < uniforms.filt.x; kh++) {
        let ty = iy + uniforms.pads.x - kh;
        if (ty < 0 || ty % uniforms.strides.x != 0 || ty / uniforms.strides.x >= OH) { continue; }
        let rowBase = (n * OH + ty / uniforms.strides.x) * OW;
        for (var kw = 0; kw < uniforms.filt.y; kw++) {
          let ixs = ix0 + uniforms.pads.y - kw;
          ${px.join('\n          ')}
          let wb = (kh * uniforms.filt.y + kw) * CO * CI4 + ci4;
          for (var co = 0; co < CO; co++) {
            ${b.step}
          }
        }
      }
      let ob = ((n * XH + iy) * XW + ix0) * CI4 + ci4;
      ${b.write}
    }`;
  const prog = program(`convDx_${P}_${C}`, ['dy', 'Wt'], [1, 4], info.inShape, count, 'pads : vec2<i32>, strides : vec2<i32>, filt : vec2<i32>, count : i32,', code);
  return backend.runWebGPUProgram(prog, [dy, filterT], 'float32', convUniforms(info, count));
}

/** The filter gradient's register block: Q input channels (4, else 1) × C vec4 groups of output channels (2, else 1). */
const filterGradBlock = (ci: number, co: number) => ({ Q: ci % 4 === 0 ? 4 : 1, C: co % 8 === 0 ? 2 : 1 });

/**
 * Images per chunk of the filter gradient: each invocation's loop (images × output pixels)
 * stays within {@link DIRECT_MAX_LOOP}, and there are enough invocations (~1,024) to keep the
 * lanes busy when the filter is small.
 */
export function directFilterGradChunk(info: ConvInfo): number {
  const pixels = info.outHeight * info.outWidth;
  const { inChannels: ci, outChannels: co } = info;
  // invocations per chunk: taps × input-channel groups (Q = 4 or 1) × output groups (C = 2 or 1 vec4s)
  const { Q, C } = filterGradBlock(ci, co);
  const perChunk = info.filterHeight * info.filterWidth * (ci / Q) * (co / 4 / C);
  const byLoop = Math.max(1, Math.floor(DIRECT_MAX_LOOP / pixels));
  const wanted = Math.ceil(1024 / perChunk);
  return Math.max(1, Math.min(info.batchSize, byLoop, Math.ceil(info.batchSize / wanted)));
}

/**
 * dW[kh,kw,ci,co] = Σ_{n,oy,ox} x[n, oy·sh+kh−top, ox·sw+kw−left, ci] · dy[n,oy,ox,co]: one
 * invocation per (chunk of images, tap, Q input channels, C groups of 4 output channels); the
 * chunks' partial sums come out as [chunks, kh·kw·ci·co] and are added here.
 */
export function directConvFilterGrad(backend: WebgpuBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, info: ConvInfo): tf.Tensor4D {
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const { Q, C } = filterGradBlock(ci, co);
  const chunk = directFilterGradChunk(info);
  const chunks = Math.ceil(info.batchSize / chunk);
  const count = chunks * kh * kw * (ci / Q) * (co / 4 / C);
  const acc = range(Q).flatMap((q) => range(C).map((c) => `var a${q}_${c} = vec4<f32>(0.0);`));
  const body = [
    ...range(C).map((c) => `let d${c} = dy[db + ${c}];`),
    ...range(Q).flatMap((q) => [`let v${q} = vec4<f32>(x[xb + ${q}]);`, ...range(C).map((c) => `a${q}_${c} = fma(v${q}, d${c}, a${q}_${c});`)]),
  ];
  const write = range(Q).flatMap((q) => range(C).map((c) => `result[ob + ${q} * CO4 + ${c}] = a${q}_${c};`));
  const code = `
    fn main(index : i32) {
      if (index >= uniforms.count) { return; }
      let XH = uniforms.xShape[1]; let XW = uniforms.xShape[2]; let CI = uniforms.xShape[3];
      let N = uniforms.dyShape[0]; let OH = uniforms.dyShape[1]; let OW = uniforms.dyShape[2]; let CO4 = uniforms.dyShape[3] / 4;
      let KW = uniforms.filt.y; let TAPS = uniforms.filt.x * KW;
      let NB = CO4 / ${C}; let NQ = CI / ${Q};
      let cb = index % NB; var t = index / NB;
      let cq = t % NQ; t = t / NQ;
      let tap = t % TAPS; let chunk = t / TAPS;
      let kh = tap / KW; let kw = tap % KW;
      let n0 = chunk * uniforms.chunk; let n1 = min(n0 + uniforms.chunk, N);
      ${acc.join('\n      ')}
      for (var n = n0; n < n1; n++) {
        for (var oy = 0; oy < OH; oy++) {
          let iy = oy * uniforms.strides.x + kh - uniforms.pads.x;
          if (iy < 0 || iy >= XH) { continue; }
          for (var ox = 0; ox < OW; ox++) {
            let ix = ox * uniforms.strides.y + kw - uniforms.pads.y;
            if (ix < 0 || ix >= XW) { continue; }
            let xb = ((n * XH + iy) * XW + ix) * CI + cq * ${Q};
            let db = ((n * OH + oy) * OW + ox) * CO4 + cb * ${C};
            ${body.join('\n            ')}
          }
        }
      }
      let ob = chunk * TAPS * CI * CO4 + (tap * CI + cq * ${Q}) * CO4 + cb * ${C};
      ${write.join('\n      ')}
    }`;
  const outShape = [chunks, kh * kw * ci * co];
  const prog = program(`convDw_${Q}_${C}`, ['x', 'dy'], [1, 4], outShape, count, 'pads : vec2<i32>, strides : vec2<i32>, filt : vec2<i32>, count : i32, chunk : i32,', code);
  const parts = backend.runWebGPUProgram(prog, [x, dy], 'float32', [...convUniforms(info, count), { type: 'int32', data: [chunk] }]);
  return tf.tidy(() => {
    const p = tf.engine().makeTensorFromTensorInfo(parts) as tf.Tensor2D;
    return (chunks === 1 ? p.reshape([kh, kw, ci, co]) : p.sum(0).reshape([kh, kw, ci, co])) as tf.Tensor4D;
  });
}

/**
 * Rows per chunk of {@link directChannelSum}: enough chunks for ~512 invocations (C/4 per chunk),
 * but 64 rows at least (so that each pass over the partial sums shrinks them 64-fold) and
 * {@link DIRECT_MAX_LOOP} at most.
 */
export function directChannelSumChunk(rows: number, channels: number): number {
  const wanted = Math.ceil(512 / (channels / 4));
  return Math.min(DIRECT_MAX_LOOP, Math.max(Math.min(rows, 64), Math.ceil(rows / wanted)));
}

/**
 * Σ over all axes but the last of x, as [channels] (channels a multiple of 4): what batch norm's
 * moments and its gradient reduce. tfjs-webgpu's reduction transposes x to [channels, rows] first
 * and then gives each output one workgroup: on llvmpipe that is the transpose of every
 * activation plus a few long workgroups. Here each invocation sums a chunk of rows for 4
 * channels (vec4, reading x in place) into [chunks, channels], and the same program sums those
 * partial sums until one row is left.
 */
export function directChannelSum(backend: WebgpuBackendLike, x: tf.TensorInfo): tf.Tensor1D {
  const channels = x.shape[x.shape.length - 1];
  const code = `
    fn main(index : i32) {
      if (index >= uniforms.count) { return; }
      let C4 = uniforms.outShape[1] / 4;
      let c4 = index % C4; let chunk = index / C4;
      let r0 = chunk * uniforms.chunk; let r1 = min(r0 + uniforms.chunk, uniforms.rows);
      var acc = vec4<f32>(0.0);
      for (var r = r0; r < r1; r++) {
        acc = acc + x[r * C4 + c4];
      }
      result[index] = acc;
    }`;
  return tf.tidy(() => {
    let cur: tf.TensorInfo = x;
    for (;;) {
      const rows = tf.util.sizeFromShape(cur.shape) / channels;
      const chunk = directChannelSumChunk(rows, channels);
      const chunks = Math.ceil(rows / chunk);
      const count = chunks * (channels / 4);
      const prog = program('channelSum', ['x'], [4], [chunks, channels], count, 'count : i32, chunk : i32, rows : i32,', code);
      const out = backend.runWebGPUProgram(prog, [cur], 'float32', [
        { type: 'int32', data: [count] },
        { type: 'int32', data: [chunk] },
        { type: 'int32', data: [rows] },
      ]);
      cur = tf.engine().makeTensorFromTensorInfo(out); // tidy disposes the partial sums
      if (chunks === 1) return (cur as tf.Tensor).reshape([channels]) as tf.Tensor1D;
    }
  });
}
