// The webgpu setup of @selfsup/core's browser entry (packages/core/src/backend/select-browser.ts
// and webgpu-browser.ts): navigator.gpu, no Dawn binding of its own. There is no browser here,
// so Dawn stands in for the browser's navigator.gpu — its software adapter (OpenGL ES on Mesa
// llvmpipe, compatibility mode), as test/webgpu-parity.test.ts uses it — and the parity checks
// run through the browser's selectBackend. Skips, saying why, where no adapter can be created.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applySoftwareAdapterEnv, WASM_TRAINING_KERNELS } from '@selfsup/core';
import { currentBackend, currentWebgpuAdapter, selectBackend } from '../packages/core/src/browser';
import { PARITY_CHECKS, PARITY_TOLERANCE, parityFailures } from '../examples/gpu-check/parity';

let unavailable: string | null = null;
const lines: string[] = [];
const log = (line: string) => lines.push(line);

beforeAll(async () => {
  applySoftwareAdapterEnv();
  try {
    const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): { requestAdapter(o?: object): Promise<unknown> }; globals: object };
    for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    const gpu = dawn.create(['backend=opengles']);
    // what a browser would hand out on this machine
    const navigatorGpu = { requestAdapter: (o: object = {}) => gpu.requestAdapter({ ...o, featureLevel: 'compatibility' }) };
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: navigatorGpu }, configurable: true, writable: true });
    if (!(await navigatorGpu.requestAdapter())) unavailable = 'Dawn found no OpenGL ES adapter (Debian: libegl1 libgles2 libgl1-mesa-dri libvulkan1)';
  } catch (e) {
    unavailable = `Dawn's binding unavailable: ${(e as Error).message.split('\n')[0]}`;
  }
  if (unavailable) console.log(`browser webgpu tests skipped: ${unavailable}`);
});
beforeEach((ctx) => {
  if (unavailable) ctx.skip(unavailable);
});

describe("the browser entry's selectBackend, on navigator.gpu", () => {
  it('hardware only: refuses the software adapter, saying which', async () => {
    await expect(selectBackend('webgpu', { webgpuAdapter: 'hardware', log })).rejects.toThrow(/no hardware adapter: only llvmpipe.*software/);
  });

  it('auto never takes the software adapter: wasm, with selfsup\'s wasm training kernels', async () => {
    lines.length = 0;
    const info = await selectBackend('auto', { log });
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(lines.at(-1)).toMatch(/^selfsup: backend wasm \(tfjs 4\.22\.0, \d+ threads?, (no )?SIMD\) — webgpu skipped: no hardware adapter: only llvmpipe/);
    for (const [kernel, fn] of Object.entries(WASM_TRAINING_KERNELS)) expect(tf.getKernel(kernel, 'wasm')?.kernelFunc, kernel).toBe(fn);
  });

  it('webgpu (any adapter): the software adapter, said so in the status line', async () => {
    lines.length = 0;
    const info = await selectBackend('webgpu', { log });
    expect(info.name).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(info.adapter).toMatchObject({ software: true, backendType: 'browser WebGPU' });
    expect(currentWebgpuAdapter()).toEqual(info.adapter);
    expect(currentBackend()).toEqual(info);
    expect(lines.at(-1)).toMatch(/^selfsup: backend webgpu \(tfjs 4\.22\.0, adapter llvmpipe.*\(browser WebGPU, software\)\) — .*using the software adapter \(slow\)/);
  });

  it('tensorflow (tfjs-node) is Node-only', async () => {
    await expect(selectBackend('tensorflow', { log })).rejects.toThrow(/Node only/);
  });

  const use = async (backend: 'cpu' | 'webgpu') => {
    await selectBackend(backend, { log: () => {} });
  };
  it.each(PARITY_CHECKS.map((c) => [c.name, c] as const))('parity with cpu through the browser setup: %s', async (_name, check) => {
    const outcome = await check.run({ use });
    for (const [name, e] of Object.entries(outcome.errors)) expect(e, `${name}: relative error ${e}`).toBeLessThanOrEqual(PARITY_TOLERANCE);
    expect(parityFailures(outcome)).toEqual([]);
  });
});
