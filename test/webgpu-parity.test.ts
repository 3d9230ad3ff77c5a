// The webgpu backend (tfjs-backend-webgpu 4.22 on Dawn) against tfjs's cpu backend: forward
// values and gradients of what a BYOL step runs, a whole step's parameter update, EMA, LARS
// and flat memory (issue 11, item 2). Relative error ‖webgpu − cpu‖ / ‖cpu‖ ≤ 1e-3. The checks
// live in examples/gpu-check/parity.ts, which `npm run gpu-check` runs on a GPU machine's adapter.
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
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { applySoftwareAdapterEnv, currentWebgpuAdapter, registerWebgpuTrainingKernels, selectBackend, setWebgpuDirectConv, stockWebgpuKernel, webgpuDirectConvActive } from '@selfsup/core';
import { PARITY_CHECKS, PARITY_TOLERANCE, parityFailures } from '../examples/gpu-check/parity';

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

const use = async (backend: 'cpu' | 'webgpu') => {
  await selectBackend(backend, { webgpuAdapter: 'any', log: quiet });
};

describe('webgpu parity with cpu', () => {
  // the checks themselves are shared with `npm run gpu-check` (examples/gpu-check/parity.ts)
  it.each(PARITY_CHECKS.map((c) => [c.name, c] as const))('%s', async (_name, check) => {
    const outcome = await check.run({ use });
    for (const [name, e] of Object.entries(outcome.errors)) {
      expect(e, `${name}: relative error ${e}`).toBeLessThanOrEqual(PARITY_TOLERANCE);
    }
    expect(outcome.problems).toEqual([]);
    expect(parityFailures(outcome)).toEqual([]);
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

  it('the direct convolution and channel-sum programs run on a software adapter (on a GPU only when forced); SELFSUP_WEBGPU_DIRECT_CONV=0 turns them off', async () => {
    await use('webgpu');
    const be = tf.backend() as unknown as { runWebGPUProgram(p: { shaderKey: string }, ...rest: unknown[]): unknown };
    const run = be.runWebGPUProgram;
    const keys: string[] = [];
    be.runWebGPUProgram = function (p, ...rest) {
      keys.push(p.shaderKey);
      return run.call(this, p, ...rest);
    };
    const programs = async () => {
      keys.length = 0;
      const x = tf.randomNormal([2, 6, 6, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 8, 8], 0, 1, 'float32', 2) as tf.Tensor4D;
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')))([x, w]);
      const m = tf.moments(x, [0, 1, 2]); // batch norm's statistics: two channel means
      await dx.data();
      await dw.data();
      await m.variance.data();
      tf.dispose([x, w, dx, dw, m.mean, m.variance]);
      return keys.filter((k) => k.startsWith('selfsup_')).map((k) => k.slice('selfsup_'.length));
    };
    try {
      const software = currentWebgpuAdapter()?.software ?? false;
      expect(webgpuDirectConvActive()).toBe(software);
      // the filter gradient's partial sums (a chunk of 1 image each) are added by one channel sum;
      // each of the moments' two means (72 rows) takes two passes: 2 chunks of 64 rows, then 1
      // (the loss's sum over all axes is tfjs-webgpu's reduction)
      const direct = ['convFwd_4_2', 'convDx_4_2', 'convDw_4_2', 'channelSum', 'channelSum', 'channelSum', 'channelSum', 'channelSum'];
      expect(await programs()).toEqual(software ? direct : []);
      setWebgpuDirectConv(false);
      expect(await programs()).toEqual([]);
      setWebgpuDirectConv(true);
      expect(await programs()).toEqual(direct);
    } finally {
      setWebgpuDirectConv(null);
      be.runWebGPUProgram = run;
    }
    // registering again (another selectBackend, another copy of the module) keeps tfjs's kernels as
    // the stock ones: a sum the direct program does not take (5 channels) still reaches tfjs's own
    registerWebgpuTrainingKernels(currentWebgpuAdapter()?.software ?? false);
    registerWebgpuTrainingKernels(currentWebgpuAdapter()?.software ?? false);
    for (const k of ['Sum', 'Mean', 'Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']) {
      expect(stockWebgpuKernel(k), k).not.toBe(tf.getKernel(k, 'webgpu')?.kernelFunc);
    }
    const t = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 5]);
    expect(Array.from(await tf.sum(t, [0, 1]).data())).toEqual([7, 9, 11, 13, 15]);
    expect(Array.from(await tf.mean(tf.tile(t, [1, 1, 4]).reshape([2, 20]), 0).data()).slice(0, 5)).toEqual([3.5, 4.5, 5.5, 6.5, 7.5]);
    t.dispose();
    // the environment variable, read when the backend starts (the CLI's training run)
    const root = path.resolve(__dirname, '..');
    const script = `const core = require('@selfsup/core'); core.selectBackend('webgpu', { webgpuAdapter: 'any', log: () => {} }).then(() => { console.log(JSON.stringify(core.webgpuDirectConvActive())); process.exit(0); });`;
    for (const [value, want] of [['0', false], ['1', true]] as const) {
      const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, SELFSUP_WEBGPU_DIRECT_CONV: value } });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n').pop()).toBe(String(want));
    }
    // another value is named and ignored: the adapter decides
    const script2 = script.replace("log: () => {}", 'log: (l) => console.error(l)');
    const bad = spawnSync(process.execPath, ['-e', script2], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, SELFSUP_WEBGPU_DIRECT_CONV: 'yes' } });
    expect(bad.status, bad.stderr).toBe(0);
    expect(bad.stderr).toContain('SELFSUP_WEBGPU_DIRECT_CONV=yes is neither 1 nor 0; ignored');
    expect(bad.stdout.trim().split('\n').pop()).toBe(String(currentWebgpuAdapter()?.software ?? false));
  });
});
