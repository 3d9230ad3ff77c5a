import * as tf from '@tensorflow/tfjs';
import type { BackendInfo, BackendPreference, SelectBackendOptions } from './types';
import { queueSelection, selectWebgpu, selectionState, tfjsVersion } from './selection';
import { adapterLabel, errText } from './webgpu-adapter';
import { browserGpu, initBrowserWebgpu } from './webgpu-browser';
import { registerWasmTrainingKernels } from './kernels/register';

/*
 * `selectBackend` in a browser (@selfsup/core's browser entry, src/browser.ts): webgpu through
 * the browser's navigator.gpu, wasm, cpu. Same signature, preferences and status line as the
 * Node version (./select.ts), without what only Node has: Dawn's npm binding, the native
 * tfjs-node bindings, the wasm thread shim (a browser runs threaded wasm itself when the page
 * is cross-origin isolated), os. The backend packages are imported on first use. The state,
 * the queue and the explicit webgpu preference are the Node version's (./selection.ts), and so
 * is the choice of an adapter (./webgpu-adapter.ts).
 */

// The same selection state as the Node version (one tfjs engine per process or page).
export { currentBackend } from './selection';

type WasmPackage = typeof import('@tensorflow/tfjs-backend-wasm');

async function initWasm(threads: number | undefined): Promise<{ threads: number; simd: boolean }> {
  let wasm: WasmPackage;
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-wasm unavailable (${errText(e)})`);
  }
  if (threads !== undefined) wasm.setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) {
    throw new Error(
      "the wasm backend failed to initialise (see tfjs's warning): serve tfjs-backend-wasm's .wasm files " +
        "and point setWasmPaths (from '@tensorflow/tfjs-backend-wasm') at them, or use backend 'cpu'",
    );
  }
  registerWasmTrainingKernels();
  return { threads: wasm.getThreadsCount(), simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) };
}

function statusLine(info: BackendInfo, note?: string): string {
  const parts = [`tfjs ${info.tfjsVersion}`];
  if (info.name === 'wasm') parts.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`, info.simd ? 'SIMD' : 'no SIMD');
  if (info.adapter) parts.push(`adapter ${adapterLabel(info.adapter)}`);
  return `selfsup: backend ${info.name} (${parts.join(', ')})${note ? ` — ${note}` : ''}`;
}

async function doSelect(preference: BackendPreference, opts: SelectBackendOptions): Promise<BackendInfo> {
  const log = opts.log ?? ((line: string) => console.error(line));
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new Error(`selectBackend: threads must be a positive integer, got ${String(opts.threads)}`);
  }
  const st = selectionState();
  const cur = st.info;
  if (cur && cur.preference === preference && tf.getBackend() === cur.name && preference !== 'webgpu') return { ...cur };
  const base = { preference, tfjsVersion: tfjsVersion() };
  let info: BackendInfo;
  let note: string | undefined;
  if (preference === 'tensorflow') {
    throw new Error("selectBackend('tensorflow'): the native tfjs-node bindings run in Node only; in a browser use webgpu, wasm or cpu");
  } else if (preference === 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new Error("selectBackend('cpu'): the cpu backend failed to initialise");
    info = { ...base, name: 'cpu', threads: 1, simd: false };
  } else if (preference === 'wasm') {
    try {
      info = { ...base, name: 'wasm', ...(await initWasm(opts.threads)) };
    } catch (e) {
      throw new Error(`selectBackend('wasm'): ${errText(e)}`);
    }
  } else if (preference === 'webgpu') {
    ({ info, note } = await selectWebgpu(base, opts, log, initBrowserWebgpu));
  } else {
    // auto: a hardware GPU, else wasm, else cpu
    let gpu: BackendInfo['adapter'];
    try {
      if (!browserGpu()) throw new Error('navigator.gpu is missing');
      gpu = (await initBrowserWebgpu('hardware', log)).adapter;
    } catch (e) {
      note = `webgpu skipped: ${errText(e)}`;
    }
    if (gpu) {
      info = { ...base, name: 'webgpu', threads: 1, simd: false, adapter: gpu };
    } else {
      try {
        info = { ...base, name: 'wasm', ...(await initWasm(opts.threads)) };
      } catch (e) {
        note = `${note}; wasm unavailable (${errText(e)})`;
        await tf.setBackend('cpu');
        info = { ...base, name: 'cpu', threads: 1, simd: false };
      }
    }
  }
  st.info = info;
  log(statusLine(info, note));
  return { ...info };
}

/**
 * Picks and initialises the tfjs backend on this page and prints one status line. `auto`
 * takes webgpu on a hardware GPU (never a software or fallback adapter), then wasm (with
 * selfsup's training kernels), then cpu; `tensorflow` (tfjs-node) is Node-only. Safe to call
 * repeatedly: the same preference again is a no-op returning the same info.
 */
export function selectBackend(preference: BackendPreference = 'auto', opts: SelectBackendOptions = {}): Promise<BackendInfo> {
  return queueSelection(preference, () => doSelect(preference, opts));
}
