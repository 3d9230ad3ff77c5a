// The webgpu backend against tfjs's cpu backend: forward values and gradients of what a BYOL
// step runs, a whole step's parameter update, EMA, LARS and flat memory (issue 11, item 2).
// One list of checks for two callers: test/webgpu-parity.test.ts (the software adapter in CI)
// and `npm run gpu-check` (whatever adapter a GPU machine has). Each check returns numbers;
// the caller decides: the test asserts them, gpu-check reports them.
//
// Relative error ‖webgpu − cpu‖ / ‖cpu‖ ≤ PARITY_TOLERANCE (float32). Small shapes: a software
// adapter is slow. Reads are async (data()): a synchronous read of a GPU tensor needs
// OffscreenCanvas.
import * as tf from '@tensorflow/tfjs';
import { batchNormTraining, DIRECT_MAX_LOOP, Rng, setWebgpuDirectConv, stockWebgpuKernel, WEBGPU_IM2COL_MIN_WEIGHTS, WEBGPU_MAX_PIXELS_PER_CALL, WEBGPU_TRAINING_KERNELS, webgpuFilterGradientInstalled } from '@selfsup/core';
import { EmaUpdateCallback, TargetInitCallback, weightedKnn } from '@selfsup/callbacks';
import { AugmentationPipeline, byolSmallGrayViewT, byolViewT, byolViewTPrime, LARS } from '@selfsup/ssl';
import { BYOL_MODELS, ByolExperiment, symmetricByolLoss } from '@selfsup/byol';

export const PARITY_TOLERANCE = 1e-3;

export interface ParityContext {
  /** Makes `backend` the tfjs backend (the caller's selectBackend, with its adapter choice); throws when it cannot. */
  use(backend: 'cpu' | 'webgpu'): Promise<void>;
}

export interface ParityOutcome {
  /** Relative error of each output, webgpu against cpu. */
  errors: Record<string, number>;
  /** What else disagreed (missing kernels, other predictions, memory that grows); empty when nothing. */
  problems: string[];
}

export interface ParityCheck {
  name: string;
  run(ctx: ParityContext): Promise<ParityOutcome>;
}

/** Why `outcome` fails: an error above the tolerance (or not a number), or a problem; empty when it passes. */
export function parityFailures(outcome: ParityOutcome, tol = PARITY_TOLERANCE): string[] {
  const over = Object.entries(outcome.errors)
    .filter(([, e]) => !(e <= tol))
    .map(([name, e]) => `${name}: relative error ${e} > ${tol}`);
  return [...over, ...outcome.problems];
}

/** ‖got − want‖ / ‖want‖ (the norm of the difference when want is all zeros); Infinity on a length mismatch. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let d = 0;
  let n = 0;
  for (let i = 0; i < want.length; i++) {
    d += (got[i] - want[i]) ** 2;
    n += want[i] ** 2;
  }
  return n === 0 ? Math.sqrt(d) : Math.sqrt(d / n);
}

// WebGPU reports invalid commands (a validation error drops the whole command buffer) to the
// device's uncapturederror event, not as exceptions: a check that caused one fails on it.
const gpuErrors: string[] = [];
const watched = new WeakSet<object>();
function watchDevice(): void {
  const device = (tf.backend() as unknown as { device?: { addEventListener?(type: string, fn: (e: { error?: { message?: string } }) => void): void } }).device;
  if (!device?.addEventListener || watched.has(device)) return;
  watched.add(device);
  device.addEventListener('uncapturederror', (e) => gpuErrors.push((e.error?.message ?? String(e)).split('\n')[0]));
}

async function on<T>(ctx: ParityContext, backend: 'cpu' | 'webgpu', fn: () => Promise<T>): Promise<T> {
  await ctx.use(backend);
  if (tf.getBackend() !== backend) throw new Error(`asked for the ${backend} backend, tfjs is on ${tf.getBackend()}`);
  if (backend === 'webgpu') watchDevice();
  return fn();
}

/**
 * Runs `fn` on the current webgpu device and returns the WebGPU errors it caused (validation
 * errors drop whole command buffers without an exception: the results are then not computed).
 */
export async function withGpuErrors<T>(fn: () => Promise<T>): Promise<{ result: T; gpuErrors: string[] }> {
  watchDevice();
  gpuErrors.length = 0;
  const result = await fn();
  await new Promise((resolve) => setTimeout(resolve, 10));
  return { result, gpuErrors: [...new Set(gpuErrors.splice(0))] };
}

/** The check, failing on any WebGPU error it caused (delivered after the check's last read). */
function failOnGpuErrors(check: ParityCheck): ParityCheck {
  return {
    name: check.name,
    async run(ctx) {
      gpuErrors.length = 0;
      const outcome = await check.run(ctx);
      await new Promise((resolve) => setTimeout(resolve, 10));
      const errs = gpuErrors.splice(0);
      return errs.length ? { ...outcome, problems: [...outcome.problems, `WebGPU errors: ${[...new Set(errs)].join('; ')}`] } : outcome;
    },
  };
}

/** Runs `fn` on cpu and on webgpu and compares the tensors it returns, by name. */
async function compare(ctx: ParityContext, names: string[], fn: () => tf.Tensor[]): Promise<ParityOutcome> {
  const run = async () => {
    const ts = fn();
    const out = await Promise.all(ts.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(ts);
    return out;
  };
  const cpu = await on(ctx, 'cpu', run);
  const gpu = await on(ctx, 'webgpu', run);
  const problems = cpu.length === names.length && gpu.length === names.length ? [] : [`expected ${names.length} outputs, got cpu ${cpu.length} / webgpu ${gpu.length}`];
  return { errors: Object.fromEntries(names.map((name, i) => [name, relErr(gpu[i] ?? [], cpu[i] ?? [])])), problems };
}

/** Same values on every backend: drawn in JS from a seed. */
const rand = <T extends tf.Tensor = tf.Tensor4D>(shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed) as unknown as T;

const tinyByol = () =>
  new ByolExperiment({
    inputShape: [8, 8, 1],
    batchSize: 4,
    seed: 3,
    model: { backbone: 'resnet18', stem: 'cifar', width: 1 / 16, projectorHiddenDim: 16, projectorDim: 8, predictorHiddenDim: 16 },
    optimizer: { name: 'lars', lr: 0.2, scaleLr: false, eta: 0.02, clipTrustRatio: true, weightDecay: 1e-5 },
  });
const batches = (steps: number) =>
  function* () {
    for (let i = 0; i < steps; i++) yield tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 100 + i) as tf.Tensor4D;
  };
const read = (vs: tf.Tensor[]) => Promise.all(vs.map((v) => v.data() as Promise<Float32Array>));
const flat = (xs: Float32Array[]) => Float32Array.from(xs.flatMap((x) => Array.from(x)));

/** Two BYOL steps (augment, forward, loss, backward, LARS, EMA): the online weights' update and the target weights. */
async function byolSteps(): Promise<{ delta: Float32Array[]; target: Float32Array[] }> {
  const exp = tinyByol();
  await exp.setup();
  const before = await read(exp.trainableVariables());
  exp.addCallback(new TargetInitCallback(), new EmaUpdateCallback({ tauBase: 0.9, schedule: 'constant' }));
  await exp.fit(batches(2), { epochs: 1 });
  const after = await read(exp.trainableVariables());
  const target = await read(exp.models.get(BYOL_MODELS.targetEncoder)!.weights.map((w) => w.read()));
  exp.dispose();
  return { delta: after.map((w, i) => w.map((v, j) => v - before[i][j])), target };
}

const convGrid = [1, 3].flatMap((k) => [1, 2].flatMap((s) => (['same', 'valid'] as const).map((pad) => ({ k, s, pad }))));

const augmentations = [
  ['byol T (crop, flip, colour jitter, grayscale, blur)', () => byolViewT(12, 3), 3],
  ["byol T' (adds solarize)", () => byolViewTPrime(12, 3), 3],
  ['byol-small-gray T (the main job)', () => byolSmallGrayViewT(12), 1],
] as const;

/** Conv2DBackpropFilter (NHWC, stride 1, 'same'), checked to leave exactly one tensor behind: its result. */
function filterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number]): tf.Tensor {
  const before = tf.memory().numTensors;
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape }) as tf.Tensor;
  const left = tf.memory().numTensors - before;
  if (left !== 1) throw new Error(`Conv2DBackpropFilter on ${tf.getBackend()} left ${left} tensors, not 1 (its result)`);
  return dw;
}

/**
 * The check with selfsup's direct convolution programs (webgpu-direct-conv.ts) forced on or off
 * whatever the adapter, so that each path is checked on every adapter (by default they run on
 * software adapters only).
 */
function withDirectConv(on: boolean, check: ParityCheck): ParityCheck {
  return {
    name: `${check.name} [direct convolutions ${on ? 'on' : 'off'}]`,
    async run(ctx) {
      setWebgpuDirectConv(on);
      try {
        return await check.run(ctx);
      } finally {
        setWebgpuDirectConv(null);
      }
    },
  };
}

/** conv2d's value and both gradients for x of `xShape` and a kh×kw filter to `co` channels. */
const convAndGrads = (xShape: number[], k: [number, number], co: number, s: number | [number, number], pad: 'same' | 'valid' | number, seed: number) => () => {
  const x = rand(xShape, seed);
  const w = rand([k[0], k[1], xShape[3], co], seed + 1);
  const y = tf.conv2d(x, w as tf.Tensor4D, s, pad);
  const dy = rand(y.shape, seed + 2);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), dy)))([x, w]);
  return [y, dx, dw];
};

// the direct programs' variants: 2 or 1 vec4 groups per invocation (8 vs 4 or 12 channels),
// input channels in 4s or 1s (filter gradient), strides 1–3, odd widths (partial pixel blocks)
const directCases: [string, number[], [number, number], number, number | [number, number], 'same' | 'valid' | number][] = [
  ['8 → 8 channels, 3×3, stride 1, same', [2, 7, 5, 8], [3, 3], 8, 1, 'same'],
  ['8 → 16 channels, 3×3, stride 2, same', [2, 9, 7, 8], [3, 3], 16, 2, 'same'],
  ['4 → 12 channels, 3×3, stride 2, valid', [2, 9, 7, 4], [3, 3], 12, 2, 'valid'],
  ['12 → 4 channels, 1×1, stride 2, same', [3, 6, 5, 12], [1, 1], 4, 2, 'same'],
  ['4 → 8 channels, 5×3, strides 3×1, pad 1', [2, 10, 9, 4], [5, 3], 8, [3, 1], 1],
];

const CHECKS: ParityCheck[] = [
  {
    name: 'every kernel a training run dispatches is registered for webgpu',
    async run(ctx) {
      await on(ctx, 'webgpu', async () => undefined);
      const missing = WEBGPU_TRAINING_KERNELS.filter((k) => tf.getKernel(k, 'webgpu') == null);
      const problems = missing.length ? [`kernels missing on webgpu: ${missing.join(', ')}`] : [];
      if (!webgpuFilterGradientInstalled()) problems.push("selfsup's Conv2DBackpropFilter (im2col) is not the registered webgpu kernel");
      for (const k of ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Sum', 'Mean']) if (!stockWebgpuKernel(k)) problems.push(`selfsup's ${k} (direct programs) is not the registered webgpu kernel`);
      return { errors: {}, problems };
    },
  },
  // tfjs-webgpu's convolutions (what a GPU runs by default)
  ...convGrid.map(({ k, s, pad }) => withDirectConv(false, { name: `conv2d forward, dx and dw: kernel ${k}, stride ${s}, ${pad}, odd sizes`, run: (ctx) => compare(ctx, ['y', 'dx', 'dw'], convAndGrads([2, 7, 5, 3], [k, k], 4, s, pad, 1)) })),
  // filters of ≥ WEBGPU_IM2COL_MIN_WEIGHTS weights take selfsup's im2col filter gradient (the grid above: the stock one)
  ...([[1, 'same'], [2, 'valid']] as const).map(([s, pad]): ParityCheck => withDirectConv(false, {
    name: `conv2d dw, im2col path (3×3×16×8 = ${3 * 3 * 16 * 8} ≥ ${WEBGPU_IM2COL_MIN_WEIGHTS} weights): stride ${s}, ${pad}, odd sizes`,
    run: (ctx) =>
      compare(ctx, ['dw'], () => {
        const x = rand([2, 7, 5, 16], 21);
        const w = rand([3, 3, 16, 8], 22);
        const dy = rand(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad).shape, 23);
        return [tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, b as tf.Tensor4D, s, pad), dy)))(w)];
      }),
  })),
  // the stock kernel loops over batch × output pixels in each invocation; llvmpipe cuts shader loops
  // after 65,535 iterations, so selfsup calls it in batch chunks, and im2col takes images too large
  // for one call (before: 80 images of 28×28 were wrong by a relative 0.17, the main job's 256 by 0.94)
  withDirectConv(false, {
    name: `conv2d dw, stock path in batch chunks: 80 images of 28×28 (${80 * 28 * 28} iterations > ${WEBGPU_MAX_PIXELS_PER_CALL})`,
    run: (ctx) =>
      compare(ctx, ['dw'], () => {
        const x = rand([80, 28, 28, 1], 24);
        const dy = rand([80, 28, 28, 8], 25);
        return [filterGradient(x, dy, [3, 3, 1, 8])];
      }),
  }),
  withDirectConv(false, {
    name: `conv2d dw, a small filter on images of more than ${WEBGPU_MAX_PIXELS_PER_CALL} output pixels: im2col path`,
    run: (ctx) =>
      compare(ctx, ['dw'], () => {
        const x = rand([2, 184, 184, 1], 26);
        const dy = rand([2, 184, 184, 4], 27);
        return [filterGradient(x, dy, [3, 3, 1, 4])];
      }),
  }),
  withDirectConv(false, {
    // (small enough to stay quick, so it checks the split, not the failure: that needs K ≥ 65,536 and a larger output)
    name: `conv2d dw, im2col path whose matMul sums over more than ${WEBGPU_MAX_PIXELS_PER_CALL} rows, in blocks: 44 images of 28×28, 3×3×8×16`,
    run: (ctx) =>
      compare(ctx, ['dw'], () => {
        const x = rand([44, 28, 28, 8], 28);
        const dy = rand([44, 28, 28, 16], 29);
        return [filterGradient(x, dy, [3, 3, 8, 16])];
      }),
  }),
  // selfsup's direct programs (forced on: a GPU runs tfjs-webgpu's by default)
  ...convGrid.map(({ k, s, pad }) => withDirectConv(true, { name: `conv2d forward, dx and dw: kernel ${k}, stride ${s}, ${pad}, 8 channels`, run: (ctx) => compare(ctx, ['y', 'dx', 'dw'], convAndGrads([2, 7, 5, 8], [k, k], 8, s, pad, 40)) })),
  ...directCases.map(([label, xs, k, co, s, pad]) => withDirectConv(true, { name: `conv2d forward, dx and dw: ${label}`, run: (ctx) => compare(ctx, ['y', 'dx', 'dw'], convAndGrads(xs, k, co, s, pad, 50)) })),
  withDirectConv(true, {
    name: `conv2d dw in image chunks (≤ ${DIRECT_MAX_LOOP} pixels per invocation): 80 images of 28×28, 3×3×1×8 (1 per chunk) and 30 images, 3×3×8×16 (2 per chunk)`,
    run: (ctx) =>
      compare(ctx, ['dw 1→8', 'dw 8→16'], () => [
        filterGradient(rand([80, 28, 28, 1], 60), rand([80, 28, 28, 8], 61), [3, 3, 1, 8]),
        filterGradient(rand([30, 28, 28, 8], 62), rand([30, 28, 28, 16], 63), [3, 3, 8, 16]),
      ]),
  }),
  withDirectConv(true, {
    name: 'sum and mean over all axes but the last (batch norm\'s reductions; the direct channel sum in up to three passes), keepDims or not',
    run: (ctx) =>
      compare(ctx, ['sum 64×28×28×8', 'mean, keepDims', 'sum 3×5×12', 'mean 300×1024 axis 0', 'sum over [1, 2] (stock)'], () => {
        const big = rand([64, 28, 28, 8], 70);
        const small = rand([3, 5, 12], 71) as tf.Tensor;
        return [tf.sum(big, [0, 1, 2]), tf.mean(big, [2, 0, 1], true), tf.sum(small, [0, 1]), tf.mean(rand([300, 1024], 72), 0), tf.sum(big, [1, 2])];
      }),
  }),
  {
    name: "fused conv2d + bias + relu (the models' conv) forward and gradients",
    run: (ctx) =>
      compare(ctx, ['y', 'dx', 'dw', 'db'], () => {
        const x = rand([2, 9, 9, 3], 4);
        const w = rand([3, 3, 3, 5], 5);
        const b = rand([5], 6);
        const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
          tf.fused.conv2d({ x: a as tf.Tensor4D, filter: c as tf.Tensor4D, bias: d, strides: 2, pad: 'same', activation: 'relu' });
        const y = f(x, w, b);
        const dy = rand(y.shape, 7);
        return [y, ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, c, d), dy)))([x, w, b])];
      }),
  },
  {
    name: 'batch norm, training mode: forward and backward (x, γ, β)',
    run: (ctx) =>
      compare(ctx, ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'], () => {
        const x = tf.add(tf.mul(rand([4, 5, 3, 6], 8), 3), 1);
        const g = rand([6], 9) as tf.Tensor1D;
        const b = rand([6], 10) as tf.Tensor1D;
        const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => batchNormTraining(a, c as tf.Tensor1D, d as tf.Tensor1D, 1e-3);
        const res = f(x, g, b);
        const dy = rand(x.shape, 11);
        const grads = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, c, d).y, dy)))([x, g, b]);
        return [res.y, res.mean, res.variance, ...grads];
      }),
  },
  {
    name: 'dense (fused matMul + bias + relu): forward and gradients',
    run: (ctx) =>
      compare(ctx, ['y', 'dx', 'dw', 'db'], () => {
        const x = rand([6, 17], 12);
        const w = rand([17, 9], 13);
        const b = rand([9], 14);
        const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.fused.matMul({ a: a as tf.Tensor2D, b: c as tf.Tensor2D, bias: d, activation: 'relu' });
        const y = f(x, w, b);
        const dy = rand(y.shape, 15);
        return [y, ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, c, d), dy)))([x, w, b])];
      }),
  },
  {
    name: 'the BYOL loss and its gradients w.r.t. the predictions',
    run: (ctx) =>
      compare(ctx, ['loss', 'dp1', 'dp2'], () => {
        const [p1, z2, p2, z1] = [16, 17, 18, 19].map((s) => rand([8, 16], s) as tf.Tensor2D);
        const f = (a: tf.Tensor, b: tf.Tensor) => symmetricByolLoss(a as tf.Tensor2D, z2, b as tf.Tensor2D, z1);
        return [f(p1, p2), ...tf.grads(f)([p1, p2])];
      }),
  },
  {
    name: 'LARS (momentum, weight decay, clipped trust ratio): three updates',
    run: (ctx) =>
      compare(ctx, ['kernel', 'bias'], () => {
        const w = tf.variable(rand([5, 7], 20), true, 'lars/dense/kernel');
        const bias = tf.variable(rand([7], 21), true, 'lars/dense/bias');
        const opt = new LARS({ lr: 0.5, momentum: 0.9, eta: 0.02, weightDecay: 1e-4, clipTrustRatio: true });
        for (let i = 0; i < 3; i++) {
          const gs = [{ name: w.name, tensor: rand([5, 7], 30 + i) }, { name: bias.name, tensor: rand([7], 40 + i) }];
          opt.applyGradients(gs);
          tf.dispose(gs.map((g) => g.tensor));
        }
        const out = [w.clone(), bias.clone()];
        opt.dispose();
        tf.dispose([w, bias]);
        return out;
      }),
  },
  ...augmentations.map(([label, config, channels]): ParityCheck => ({
    name: `augmentations, ${label}: the same views`,
    run(ctx) {
      const pipeline = new AugmentationPipeline(config());
      return compare(ctx, ['views'], () => [pipeline.apply(tf.clipByValue(tf.add(tf.mul(rand([3, 15, 13, channels], 60), 0.25), 0.5), 0, 1) as tf.Tensor4D, new Rng(7))]);
    },
  })),
  {
    name: 'weighted kNN (matMul, topK, one-hot votes): the same predictions and accuracies',
    async run(ctx) {
      const [bank, query] = await on(ctx, 'cpu', async () => [[60, 12, 50], [25, 12, 51]].map(([r, c, seed]) => Array.from(tf.tidy(() => rand([r, c], seed)).dataSync())));
      const bankLabels = Array.from({ length: 60 }, (_, i) => (i * 7) % 10);
      const queryLabels = Array.from({ length: 25 }, (_, i) => (i * 3) % 10);
      const knn = () => {
        const [b, q] = [tf.tensor2d(bank, [60, 12]), tf.tensor2d(query, [25, 12])];
        return weightedKnn({ bankFeatures: b, bankLabels, queryFeatures: q, queryLabels, numClasses: 10, k: 5, chunkSize: 10 })
          .finally(() => tf.dispose([b, q]));
      };
      const cpu = await on(ctx, 'cpu', knn);
      const web = await on(ctx, 'webgpu', knn);
      const differ = Array.from(web.predictions).filter((p, i) => p !== cpu.predictions[i]).length;
      const problems = [
        ...(differ ? [`${differ} of ${cpu.predictions.length} predictions differ from cpu`] : []),
        ...(web.top1 !== cpu.top1 || web.top5 !== cpu.top5 ? [`top1/top5 ${web.top1}/${web.top5} on webgpu, ${cpu.top1}/${cpu.top5} on cpu`] : []),
      ];
      return { errors: {}, problems };
    },
  },
  {
    name: 'a whole BYOL step: the parameter update (LARS) and the EMA target agree with cpu',
    async run(ctx) {
      const cpu = await on(ctx, 'cpu', byolSteps);
      const web = await on(ctx, 'webgpu', byolSteps);
      const problems = web.delta.length > 10 ? [] : [`only ${web.delta.length} trainable variables`];
      return { errors: { 'online update': relErr(flat(web.delta), flat(cpu.delta)), 'EMA target': relErr(flat(web.target), flat(cpu.target)) }, problems };
    },
  },
  {
    name: 'tf.memory() is flat across steps on webgpu (tensors and GPU bytes)',
    async run(ctx) {
      const exp = tinyByol();
      const tensors: number[] = [];
      const gpuBytes: number[] = [];
      exp.addCallback(new TargetInitCallback(), new EmaUpdateCallback({ tauBase: 0.9, schedule: 'constant' }));
      exp.events.on('batchEnd', () => {
        // buffers of disposed tensors are released when tfjs submits its queued commands, and
        // where that falls within a step depends on the kernel count: submit first, then count
        // (as tfjs-backend-webgpu's own reads do: end the open compute pass, then submit)
        const be = tf.backend() as unknown as { ensureCommandEncoderReady?(): void; endComputePassEncoder?(): void; submitQueue?(): void };
        if (be.ensureCommandEncoderReady && be.endComputePassEncoder && be.submitQueue) {
          be.ensureCommandEncoderReady();
          be.endComputePassEncoder();
          be.submitQueue();
        }
        const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
        tensors.push(m.numTensors);
        gpuBytes.push(m.numBytesInGPU ?? 0);
      });
      await on(ctx, 'webgpu', () => exp.fit(batches(4), { epochs: 1 }));
      exp.dispose();
      const problems: string[] = [];
      if (tensors.length !== 4) problems.push(`${tensors.length} steps recorded, expected 4`);
      if (new Set(tensors.slice(1)).size !== 1) problems.push(`tensors per step: ${tensors.join(' ')}`);
      // GPU bytes may only shrink (small results the loop reads move to the CPU side), never grow
      if (!(gpuBytes[1] > 0)) problems.push(`no GPU bytes in use after step 2 (${gpuBytes.join(' ')}): is this webgpu?`);
      if (gpuBytes.slice(2).some((b) => b > gpuBytes[1])) problems.push(`GPU bytes per step grow: ${gpuBytes.join(' ')}`);
      return { errors: {}, problems };
    },
  },
];

export const PARITY_CHECKS: ParityCheck[] = CHECKS.map(failOnGpuErrors);

export interface ParityRow {
  name: string;
  ok: boolean;
  /** The largest relative error (0 when the check compares no tensors). */
  maxRelErr: number;
  errors: Record<string, number>;
  /** parityFailures of the check: errors above the tolerance and other problems. */
  failures: string[];
  seconds: number;
}

/** Runs every check, one after another; a check that throws fails with its message (gpu-check's report). */
export async function runParityChecks(ctx: ParityContext, log: (line: string) => void = () => {}): Promise<ParityRow[]> {
  const rows: ParityRow[] = [];
  for (const check of PARITY_CHECKS) {
    const t0 = performance.now();
    let outcome: ParityOutcome;
    try {
      outcome = await check.run(ctx);
    } catch (e) {
      outcome = { errors: {}, problems: [`threw: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`] };
    }
    const failures = parityFailures(outcome);
    const errs = Object.values(outcome.errors);
    rows.push({
      name: check.name,
      ok: failures.length === 0,
      maxRelErr: errs.length ? Math.max(...errs.map((e) => (Number.isNaN(e) ? Infinity : e))) : 0,
      errors: outcome.errors,
      failures,
      seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    });
    log(`  parity: ${failures.length ? 'FAIL' : 'ok  '} ${check.name}${failures.length ? ` — ${failures.join('; ')}` : ''}`);
  }
  return rows;
}
