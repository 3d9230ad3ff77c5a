// Where a BYOL step's time goes on the webgpu backend, and what the convolution filter gradient
// would cost built from other kernels (issue 11):
//
//   node examples/dist/bench/webgpu_profile.js [--adapter software|hardware] [--batch 32]
//        [--shapes Conv2DBackpropFilter,FusedConv2D] [--conv-grads] [--compare-stock] [--compare-direct]
//        [--direct-shapes]
//
// Kernel time: every kernel's command buffer is submitted on its own
// (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE = 1), and the bench's wall-clock profiler wraps the
// kernels. That is exact on Mesa's llvmpipe, whose compute dispatches run inside the submit; on a
// hardware GPU the submit returns early, so there it measures encoding, not execution.
// --conv-grads: tfjs-backend-webgpu's Conv2DBackpropFilter (one invocation per filter weight,
// each looping over batch × output pixels) against two formulations from other kernels —
// im2col with one matMul (transposed A), and a forward conv with the batch as channels (the
// one selfsup's wasm kernels use) — on the main job's 3×3 convolutions, each checked
// against the stock kernel's values.
// --compare-stock: whole steps with selfsup's filter gradient and with tfjs-webgpu's, alternating.
// --compare-direct: whole steps with the direct programs (webgpu-direct-conv.ts: convolutions,
// channel sums) on and off, alternating. --direct-shapes: the main job's convolutions and batch
// norm statistics one by one, off and on, with the direct results' relative error.
import * as tf from '@tensorflow/tfjs';
import { adapterLabel, setWebgpuDirectConv, stockWebgpuKernel, conv2dBackpropFilterImpl, im2colFilterGradient, selectBackend, webgpuFilterGradientInstalled } from '@selfsup/core';
import { BYOL_CONFIGS } from './byol_configs';
import { installKernelProfiler } from './profiler';
import { relErr } from '../gpu-check/parity';
import { measureByol } from '../gpu-check/throughput';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function msPerCall(f: () => tf.Tensor, reps = 3): Promise<number> {
  const warm = f();
  await warm.data();
  warm.dispose();
  const t0 = performance.now();
  for (let k = 0; k < reps; k++) {
    const r = f();
    await r.data();
    r.dispose();
  }
  return (performance.now() - t0) / reps;
}

async function convGrads(batch: number, say: (l: string) => void): Promise<void> {
  // the main job's 3×3 convolutions: [input size, ci, co, stride]; both views, so 2 × batch images
  const shapes: [number, number, number, number][] = [[28, 1, 8, 1], [28, 8, 8, 1], [28, 8, 16, 2], [14, 16, 16, 1], [14, 16, 32, 2], [7, 32, 32, 1], [7, 32, 64, 2], [4, 64, 64, 1]];
  const n = 2 * batch;
  say(`conv filter gradient, ms per call (x [${n},H,W,ci]); relative error against the stock kernel in brackets`);
  say('| input | filter | stride | tfjs-webgpu (naive) | im2col + matMul | forward conv, batch as channels |');
  say('|---|---|--:|--:|--:|--:|');
  for (const [hw, ci, co, s] of shapes) {
    const oh = Math.ceil(hw / s);
    const x = tf.randomNormal([n, hw, hw, ci]) as tf.Tensor4D;
    const dy = tf.randomNormal([n, oh, oh, co]) as tf.Tensor4D;
    const fs: [number, number, number, number] = [3, 3, ci, co];
    const stock = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [s, s], pad: 'same', dataFormat: 'NHWC', filterShape: fs }) as tf.Tensor;
    const im2col = () => im2colFilterGradient(x, dy, { strides: s, pad: 'same', filterShape: fs });
    const fwd = () => conv2dBackpropFilterImpl(x, dy, fs, s, 'same');
    const ref = stock();
    const want = await ref.data();
    const errs: string[] = [];
    for (const f of [im2col, fwd]) {
      const r = f();
      errs.push(relErr(await r.data(), want).toExponential(1));
      r.dispose();
    }
    ref.dispose();
    const [a, b, c] = [await msPerCall(stock), await msPerCall(im2col), await msPerCall(fwd)];
    say(`| ${hw}×${hw}×${ci} | 3×3×${ci}×${co} | ${s} | ${a.toFixed(0)} | ${b.toFixed(0)} (${errs[0]}) | ${c.toFixed(0)} (${errs[1]}) |`);
    tf.dispose([x, dy]);
  }
}

/** Swaps the registered webgpu Conv2DBackpropFilter: selfsup's (im2col from 1,024 weights) or tfjs-webgpu's own. */
function useFilterGradient(which: 'selfsup' | 'stock', ours: tf.KernelConfig): void {
  const stock = stockWebgpuKernel('Conv2DBackpropFilter');
  if (!stock) throw new Error('webgpu_profile: the stock Conv2DBackpropFilter was not recorded');
  tf.unregisterKernel('Conv2DBackpropFilter', 'webgpu');
  tf.registerKernel(which === 'selfsup' ? ours : { ...ours, kernelFunc: stock });
}

async function compareStock(batch: number, say: (l: string) => void, log: (l: string) => void): Promise<void> {
  const ours = tf.getKernel('Conv2DBackpropFilter', 'webgpu');
  if (!ours || !webgpuFilterGradientInstalled()) throw new Error("webgpu_profile: selfsup's Conv2DBackpropFilter is not registered");
  const cfg = BYOL_CONFIGS.main(batch);
  const forever = performance.now() + 1e9;
  const times: Record<string, number[]> = { selfsup: [], stock: [] };
  for (const round of [0, 1, 2]) {
    for (const which of ['selfsup', 'stock'] as const) {
      useFilterGradient(which, ours);
      const row = await measureByol('main', 'webgpu', cfg, { seconds: 0, deadline: forever, log });
      if (round > 0) times[which].push(...(row.stepSeconds ?? [])); // round 0 compiles the shaders
    }
  }
  useFilterGradient('selfsup', ours);
  say(`main job's BYOL step, batch ${batch}, s per step (rounds alternate): selfsup's filter gradient ${times.selfsup.join(', ')}; tfjs-webgpu's ${times.stock.join(', ')}`);
}

/**
 * The main job's convolutions (forward and both gradients) and batch norm's channel sums, per
 * call at 2 × batch images, with the direct programs (webgpu-direct-conv.ts) off and on; the
 * relative error of the direct results against the others.
 */
async function directShapes(batch: number, say: (l: string) => void): Promise<void> {
  // [input size, ci, co, stride, kernel]: the 3×3 convs and the 1×1 shortcut
  const shapes: [number, number, number, number, number][] = [[28, 1, 8, 1, 3], [28, 8, 8, 1, 3], [28, 8, 16, 2, 3], [28, 8, 16, 2, 1], [14, 16, 16, 1, 3], [14, 16, 32, 2, 3], [7, 32, 32, 1, 3], [7, 32, 64, 2, 3], [4, 64, 64, 1, 3]];
  const n = 2 * batch;
  const timed = async (f: () => tf.Tensor[], reps = 2) => {
    const first = f();
    const out = await Promise.all(first.map((t) => t.data()));
    tf.dispose(first);
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) {
      const ts = f();
      await Promise.all(ts.map((t) => t.data()));
      tf.dispose(ts);
    }
    return { out, ms: (performance.now() - t0) / reps };
  };
  const both = async (f: () => tf.Tensor[]) => {
    setWebgpuDirectConv(false);
    const off = await timed(f);
    setWebgpuDirectConv(true);
    const on = await timed(f);
    setWebgpuDirectConv(null);
    return { off, on, errs: on.out.map((v, i) => relErr(v as Float32Array, off.out[i] as Float32Array).toExponential(1)) };
  };
  say(`conv forward + input gradient + filter gradient, ms per call of the three (x [${n},H,W,ci]), direct programs off → on; relative error of y / dx / dw`);
  say('| input | filter | stride | off | on | error y / dx / dw |');
  say('|---|---|--:|--:|--:|---|');
  for (const [hw, ci, co, s, k] of shapes) {
    const x = tf.randomNormal([n, hw, hw, ci], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([k, k, ci, co], 0, 1, 'float32', 2) as tf.Tensor4D;
    const dy = tf.randomNormal(tf.conv2d(x, w, s, 'same').shape, 0, 1, 'float32', 3);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, 'same'), dy)));
    const r = await both(() => [tf.conv2d(x, w, s, 'same'), ...g([x, w])]);
    say(`| ${hw}×${hw}×${ci} | ${k}×${k}×${ci}×${co} | ${s} | ${r.off.ms.toFixed(0)} | ${r.on.ms.toFixed(0)} | ${r.errs.join(' / ')} |`);
    tf.dispose([x, w, dy]);
  }
  say(`batch norm's statistics (tf.moments over N, H, W: two channel means), ms per call, off → on; relative error of mean / variance`);
  say('| activation | off | on | error |');
  say('|---|--:|--:|---|');
  for (const [hw, c] of [[28, 8], [14, 16], [7, 32], [4, 64]]) {
    const x = tf.randomNormal([n, hw, hw, c], 1, 2, 'float32', 4);
    const r = await both(() => {
      const m = tf.moments(x, [0, 1, 2]);
      return [m.mean, m.variance];
    });
    say(`| ${n}×${hw}×${hw}×${c} | ${r.off.ms.toFixed(1)} | ${r.on.ms.toFixed(1)} | ${r.errs.join(' / ')} |`);
    x.dispose();
  }
}

async function compareDirect(batch: number, say: (l: string) => void, log: (l: string) => void): Promise<void> {
  const cfg = BYOL_CONFIGS.main(batch);
  const forever = performance.now() + 1e9;
  const times: Record<string, number[]> = { direct: [], stock: [] };
  for (const round of [0, 1, 2]) {
    for (const which of ['direct', 'stock'] as const) {
      setWebgpuDirectConv(which === 'direct');
      const row = await measureByol('main', 'webgpu', cfg, { seconds: 0, deadline: forever, log });
      if (round > 0) times[which].push(...(row.stepSeconds ?? [])); // round 0 compiles the shaders
    }
  }
  setWebgpuDirectConv(null);
  say(`main job's BYOL step, batch ${batch}, s per step (rounds alternate): direct convolutions ${times.direct.join(', ')}; tfjs-webgpu's (and selfsup's filter gradient) ${times.stock.join(', ')}`);
}

async function main(): Promise<void> {
  const say = (l: string) => process.stdout.write(`${l}\n`);
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const adapter = option('adapter', 'software') as 'software' | 'hardware';
  const batch = Number(option('batch', '32'));
  const info = await selectBackend('webgpu', { webgpuAdapter: adapter, log });
  if (info.name !== 'webgpu') throw new Error(`webgpu_profile: got ${info.name}, not webgpu`);
  // the profiler (and --conv-grads, as measured before) submit every kernel on its own; the whole-step
  // comparisons keep tfjs's default batching of submits, as training has
  const perKernelSubmit = () => tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 1);
  if (process.argv.includes('--conv-grads')) {
    perKernelSubmit();
    await convGrads(batch, say);
    return;
  }
  if (process.argv.includes('--direct-shapes')) {
    await directShapes(batch, say);
    return;
  }
  if (process.argv.includes('--compare-direct')) {
    await compareDirect(batch, say, log);
    return;
  }
  if (process.argv.includes('--compare-stock')) {
    perKernelSubmit();
    await compareStock(batch, say, log);
    return;
  }
  perKernelSubmit();
  const shapes = option('shapes', '');
  if (shapes) process.env.SELFSUP_PROFILE_SHAPES = shapes;
  const cfg = BYOL_CONFIGS.main(batch);
  const forever = performance.now() + 1e9;
  // the first step compiles the shaders: not profiled
  await measureByol('main', 'webgpu', cfg, { seconds: 0, deadline: forever, log });
  const prof = installKernelProfiler('webgpu');
  const row = await measureByol('main', 'webgpu', cfg, { seconds: 0, deadline: forever, log });
  prof.uninstall();
  const steps = 2; // measureByol's warm-up step and its one measured step
  const rows = prof.rows(steps);
  const total = rows.reduce((a, r) => a + r.msPerStep, 0);
  say(`main job's BYOL step, batch ${batch} (${2 * batch} images per view pair), ${info.adapter ? adapterLabel(info.adapter) : 'adapter unknown'}`);
  say(`step ${row.stepSeconds?.[0] ?? row.warmupSeconds} s; kernels ${(total / 1000).toFixed(2)} s per step`);
  say('| kernel | ms per step | share | calls |');
  say('|---|--:|--:|--:|');
  for (const r of rows.slice(0, 25)) say(`| ${r.kernel} | ${r.msPerStep.toFixed(1)} | ${(100 * r.share).toFixed(1)} % | ${r.callsPerStep} |`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`webgpu_profile: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
