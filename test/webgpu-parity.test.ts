// The webgpu backend (tfjs-backend-webgpu 4.22 on Dawn) against tfjs's cpu backend: forward
// values and gradients of what a BYOL step runs, a whole step's parameter update, EMA, LARS
// and flat memory (issue 11, item 2). Relative error ‖webgpu − cpu‖ / ‖cpu‖ ≤ 1e-3.
//
// Runs on whatever adapter `--backend webgpu` takes: a hardware GPU, else the software one
// (Dawn's OpenGL ES backend on Mesa llvmpipe; .ci/run installs libegl1 libgles2
// libgl1-mesa-dri libvulkan1). The software-adapter environment is set here, in the test
// setup (applySoftwareAdapterEnv: EGL_PLATFORM=surfaceless, XDG_RUNTIME_DIR). The tests skip,
// saying why, only where no adapter can be created. Small shapes: a software adapter is slow.
// Reads are async (data()/array()): a synchronous read of a GPU tensor needs OffscreenCanvas.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applySoftwareAdapterEnv, batchNormTraining, Rng, selectBackend, WEBGPU_TRAINING_KERNELS } from '@selfsup/core';
import { EmaUpdateCallback, TargetInitCallback, weightedKnn } from '@selfsup/callbacks';
import { AugmentationPipeline, byolSmallGrayViewT, byolViewT, byolViewTPrime, LARS } from '@selfsup/ssl';
import { BYOL_MODELS, ByolExperiment, symmetricByolLoss } from '@selfsup/byol';

const TOL = 1e-3;
const quiet = () => undefined;

/** Why the webgpu tests cannot run here, or null when an adapter was created. */
let unavailable: string | null = null;
beforeAll(async () => {
  applySoftwareAdapterEnv();
  try {
    const info = await selectBackend('webgpu', { webgpuAdapter: 'any', log: quiet });
    const a = info.adapter;
    console.log(`webgpu parity tests on ${a?.device || a?.description} (${a?.backendType}${a?.software ? ', software' : ''})`);
  } catch (e) {
    unavailable = (e as Error).message;
    console.log(`webgpu parity tests skipped: ${unavailable}`);
  } finally {
    await selectBackend('cpu', { log: quiet });
  }
});
beforeEach((ctx) => {
  if (unavailable) ctx.skip(unavailable);
});

async function on<T>(backend: 'cpu' | 'webgpu', fn: () => Promise<T>): Promise<T> {
  await selectBackend(backend, { webgpuAdapter: 'any', log: quiet });
  expect(tf.getBackend()).toBe(backend);
  return fn();
}

/** Runs `fn` on cpu and on webgpu; fn returns tensors, read back as flat arrays. */
async function both(fn: () => tf.Tensor[]): Promise<{ cpu: Float32Array[]; gpu: Float32Array[] }> {
  const run = async () => {
    const ts = fn();
    const out = await Promise.all(ts.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(ts);
    return out;
  };
  return { cpu: await on('cpu', run), gpu: await on('webgpu', run) };
}

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let d = 0;
  let n = 0;
  for (let i = 0; i < want.length; i++) {
    d += (got[i] - want[i]) ** 2;
    n += want[i] ** 2;
  }
  return n === 0 ? Math.sqrt(d) : Math.sqrt(d / n);
}

function expectParity(r: { cpu: ArrayLike<number>[]; gpu: ArrayLike<number>[] }, names: string[]): void {
  const errs = Object.fromEntries(names.map((name, i) => [name, relErr(r.gpu[i], r.cpu[i])]));
  for (const [name, e] of Object.entries(errs)) expect(e, `${name}: relative error ${e}`).toBeLessThanOrEqual(TOL);
}

/** Same values on every backend: drawn in JS from a seed. */
const rand = <T extends tf.Tensor = tf.Tensor4D>(shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed) as unknown as T;

describe('webgpu parity with cpu', () => {
  it('every kernel a training run dispatches is registered for webgpu', async () => {
    await on('webgpu', async () => undefined);
    expect(WEBGPU_TRAINING_KERNELS.filter((k) => tf.getKernel(k, 'webgpu') == null)).toEqual([]);
  });

  const grid = [1, 3].flatMap((k) => [1, 2].flatMap((s) => (['same', 'valid'] as const).map((pad) => ({ k, s, pad }))));
  it.each(grid)('conv2d forward, dx and dw: kernel $k, stride $s, $pad, odd sizes', async ({ k, s, pad }) => {
    const r = await both(() => {
      const x = rand([2, 7, 5, 3], 1);
      const w = rand([k, k, 3, 4], 2);
      const y = tf.conv2d(x, w, s, pad);
      const dy = rand(y.shape, 3);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), dy)))([x, w]);
      return [y, dx, dw];
    });
    expectParity(r, ['y', 'dx', 'dw']);
  });

  it('fused conv2d + bias + relu (the models\' conv) forward and gradients', async () => {
    const r = await both(() => {
      const x = rand([2, 9, 9, 3], 4);
      const w = rand([3, 3, 3, 5], 5);
      const b = rand([5], 6);
      const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        tf.fused.conv2d({ x: a as tf.Tensor4D, filter: c as tf.Tensor4D, bias: d, strides: 2, pad: 'same', activation: 'relu' });
      const y = f(x, w, b);
      const dy = rand(y.shape, 7);
      return [y, ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, c, d), dy)))([x, w, b])];
    });
    expectParity(r, ['y', 'dx', 'dw', 'db']);
  });

  it('batch norm, training mode: forward and backward (x, γ, β)', async () => {
    const r = await both(() => {
      const x = tf.add(tf.mul(rand([4, 5, 3, 6], 8), 3), 1);
      const g = rand([6], 9) as tf.Tensor1D;
      const b = rand([6], 10) as tf.Tensor1D;
      const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => batchNormTraining(a, c as tf.Tensor1D, d as tf.Tensor1D, 1e-3);
      const res = f(x, g, b);
      const dy = rand(x.shape, 11);
      const grads = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, c, d).y, dy)))([x, g, b]);
      return [res.y, res.mean, res.variance, ...grads];
    });
    expectParity(r, ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta']);
  });

  it('dense (fused matMul + bias + relu): forward and gradients', async () => {
    const r = await both(() => {
      const x = rand([6, 17], 12);
      const w = rand([17, 9], 13);
      const b = rand([9], 14);
      const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.fused.matMul({ a: a as tf.Tensor2D, b: c as tf.Tensor2D, bias: d, activation: 'relu' });
      const y = f(x, w, b);
      const dy = rand(y.shape, 15);
      return [y, ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, c, d), dy)))([x, w, b])];
    });
    expectParity(r, ['y', 'dx', 'dw', 'db']);
  });

  it('the BYOL loss and its gradients w.r.t. the predictions', async () => {
    const r = await both(() => {
      const [p1, z2, p2, z1] = [16, 17, 18, 19].map((s) => rand([8, 16], s) as tf.Tensor2D);
      const f = (a: tf.Tensor, b: tf.Tensor) => symmetricByolLoss(a as tf.Tensor2D, z2, b as tf.Tensor2D, z1);
      return [f(p1, p2), ...tf.grads(f)([p1, p2])];
    });
    expectParity(r, ['loss', 'dp1', 'dp2']);
  });

  it('LARS (momentum, weight decay, clipped trust ratio): three updates', async () => {
    const r = await both(() => {
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
    });
    expectParity(r, ['kernel', 'bias']);
  });

  it.each([
    ['byol T (crop, flip, colour jitter, grayscale, blur)', byolViewT(12, 3), 3],
    ["byol T' (adds solarize)", byolViewTPrime(12, 3), 3],
    ['byol-small-gray T (the main job)', byolSmallGrayViewT(12), 1],
  ] as const)('augmentations, %s: the same views', async (_name, config, channels) => {
    const pipeline = new AugmentationPipeline(structuredClone(config));
    const r = await both(() => [pipeline.apply(tf.clipByValue(tf.add(tf.mul(rand([3, 15, 13, channels], 60), 0.25), 0.5), 0, 1) as tf.Tensor4D, new Rng(7))]);
    expectParity(r, ['views']);
  });

  it('weighted kNN (matMul, topK, one-hot votes): the same predictions and accuracies', async () => {
    const [bank, query] = await on('cpu', async () => [[60, 12, 50], [25, 12, 51]].map(([r, c, seed]) => Array.from(tf.tidy(() => rand([r, c], seed)).dataSync())));
    const bankLabels = Array.from({ length: 60 }, (_, i) => (i * 7) % 10);
    const queryLabels = Array.from({ length: 25 }, (_, i) => (i * 3) % 10);
    const knn = () => {
      const [b, q] = [tf.tensor2d(bank, [60, 12]), tf.tensor2d(query, [25, 12])];
      return weightedKnn({ bankFeatures: b, bankLabels, queryFeatures: q, queryLabels, numClasses: 10, k: 5, chunkSize: 10 })
        .finally(() => tf.dispose([b, q]));
    };
    const cpu = await on('cpu', knn);
    const web = await on('webgpu', knn);
    expect(Array.from(web.predictions)).toEqual(Array.from(cpu.predictions));
    expect([web.top1, web.top5]).toEqual([cpu.top1, cpu.top5]);
  });

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

  /** Two BYOL steps (augment, forward, loss, backward, LARS, EMA): online update and target weights. */
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

  it('a whole BYOL step: the parameter update (LARS) and the EMA target agree with cpu', async () => {
    const cpu = await on('cpu', byolSteps);
    const web = await on('webgpu', byolSteps);
    expect(web.delta.length).toBeGreaterThan(10);
    const all = (xs: Float32Array[]) => Float32Array.from(xs.flatMap((x) => Array.from(x)));
    const dErr = relErr(all(web.delta), all(cpu.delta));
    const tErr = relErr(all(web.target), all(cpu.target));
    expect(dErr, `online update: relative error ${dErr}`).toBeLessThanOrEqual(TOL);
    expect(tErr, `EMA target: relative error ${tErr}`).toBeLessThanOrEqual(TOL);
  });

  it('tf.memory() is flat across steps on webgpu (tensors and GPU bytes)', async () => {
    const exp = tinyByol();
    const tensors: number[] = [];
    const gpuBytes: number[] = [];
    exp.addCallback(new TargetInitCallback(), new EmaUpdateCallback({ tauBase: 0.9, schedule: 'constant' }));
    exp.events.on('batchEnd', () => {
      const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      tensors.push(m.numTensors);
      gpuBytes.push(m.numBytesInGPU ?? 0);
    });
    await on('webgpu', () => exp.fit(batches(4), { epochs: 1 }));
    exp.dispose();
    expect(tensors).toHaveLength(4);
    expect(new Set(tensors.slice(1)).size, `tensors per step: ${tensors}`).toBe(1);
    // GPU bytes may only shrink (small results the loop reads move to the CPU side), never grow
    expect(gpuBytes[1]).toBeGreaterThan(0);
    for (const b of gpuBytes.slice(2)) expect(b, `GPU bytes per step: ${gpuBytes}`).toBeLessThanOrEqual(gpuBytes[1]);
  });

  it('selfsup train --backend webgpu: trains tiny.yaml 2 steps, names the adapter, exits by itself', () => {
    const root = path.resolve(__dirname, '..');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-webgpu-cli-'));
    try {
      const r = spawnSync(process.execPath, [path.join(root, 'packages/cli/dist/bin.js'), 'train', path.join(root, 'examples/configs/tiny.yaml'),
        '--backend', 'webgpu', '--max-steps', '2', '--set', 'val.limit=32', '--out', out], { cwd: root, encoding: 'utf8', timeout: 240_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/selfsup: backend webgpu \(tfjs 4\.22\.0, adapter .+\((Vulkan|Metal|D3D12|OpenGL ES)/);
      expect(r.stdout + r.stderr).toMatch(/done: 2 steps/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
