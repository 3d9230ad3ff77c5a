import * as tf from '@tensorflow/tfjs';
import { selectBackend, WASM_TRAINING_KERNELS, type BackendInfo } from '@selfsup/core';

/**
 * Which tfjs backend a test runs on — the one place that says so.
 *
 * - `useBackend('wasm')`: the project's default backend, reached the way production reaches
 *   it (`selectBackend('wasm')`), so selfsup's wasm training kernels
 *   (packages/core/src/backend/kernels: conv gradients, batch norm, matmul, views, …) are
 *   registered and are what the test exercises. A bare `tf.setBackend('wasm')` in a fresh
 *   process would run stock tfjs-wasm instead, which no user runs: don't. One wasm thread:
 *   the suite runs two test files at once on two cores, and a second pthread per file made
 *   the small tensors here 3–5× slower (same kernels; threaded wasm has its own tests in
 *   packages/core/test/backend.test.ts and kernels*.test.ts, at threads: 2).
 * - `useBackend('cpu')`: tfjs's pure-JS reference backend, for tests that need exact or
 *   reference values, or that are about something other than kernels (data, models' shapes).
 *
 * Which files use which: `grep -rn "useBackend(" test packages`. The exceptions call
 * selectBackend themselves: the kernel tests (packages/core/test/kernels*.test.ts, threads: 2,
 * comparing with the stock kernels on purpose), backend*.test.ts (selectBackend's own tests),
 * and the slow end-to-end ones (test/quality, byol-fashion-mnist, examples: wasm, default
 * threads). CLI tests train in child processes with --backend; cli-encoder-choice reads the
 * exported models in-process on cpu.
 *
 * Switching back and forth in one file is cheap: wasm initialises once per process and
 * the kernels stay registered; selectBackend re-registers them (idempotently) each time.
 */
export async function useBackend(name: 'wasm' | 'cpu'): Promise<BackendInfo> {
  // nativeKernels off: the wasm kernels are what these tests check; the oneDNN ones
  // (@selfsup/native-cpu) have their own tests, test/native-cpu*.test.ts
  const info = await selectBackend(name, { threads: 1, nativeKernels: 'off', log: () => {} });
  if (tf.getBackend() !== name) throw new Error(`useBackend: asked for ${name}, tfjs is on ${tf.getBackend()}`);
  if (name === 'wasm') {
    for (const [kernel, fn] of Object.entries(WASM_TRAINING_KERNELS)) {
      if (tf.getKernel(kernel, 'wasm')?.kernelFunc !== fn) {
        throw new Error(`useBackend: selfsup's wasm kernel ${kernel} is not the registered one`);
      }
    }
  }
  return info;
}
