import * as tf from '@tensorflow/tfjs';
import type { WebgpuAdapterInfo, WebgpuAdapterPreference } from './types';
import {
  adapterForTfjs,
  askAdapter,
  describeAdapter,
  errText,
  registerWebgpuFactory,
  startWebgpu,
  type AdapterAnswer,
  type GpuAdapterLike,
  type GpuLike,
  type TfjsWebgpuModule,
  type WebgpuInitResult,
} from './webgpu-adapter';

/*
 * WebGPU in a browser: the browser's own `navigator.gpu` under @tensorflow/tfjs-backend-webgpu
 * 4.22 — the same tfjs backend as in Node (./webgpu.ts), without Dawn's npm binding or any
 * Node module. The backend module is imported on first use (it registers 'webgpu' at import,
 * which would change tfjs's default backend for anyone importing @selfsup/core); its own
 * factory is replaced by one on the adapter chosen here.
 */

interface BrowserWebgpuState {
  chosen: GpuAdapterLike | null;
  info: WebgpuAdapterInfo | null;
}
const STATE_KEY = Symbol.for('selfsup.backend.webgpu-browser');
function state(): BrowserWebgpuState {
  const g = globalThis as unknown as Record<symbol, BrowserWebgpuState | undefined>;
  let s = g[STATE_KEY];
  if (!s) {
    s = { chosen: null, info: null };
    g[STATE_KEY] = s;
  }
  return s;
}

/** `navigator.gpu`, or null where this environment has no WebGPU. */
export function browserGpu(): GpuLike | null {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu ?? null;
}

/** The adapter and what was said about it. */
export type BrowserWebgpuInitResult = WebgpuInitResult;

function ask(gpu: GpuLike, options: Record<string, unknown>): Promise<AdapterAnswer> {
  return askAdapter(() => gpu.requestAdapter(options), (adapter) => {
    const info = describeAdapter(adapter, 'browser WebGPU', 'core');
    if (options.forceFallbackAdapter) Object.assign(info, { software: true, fallback: true });
    return info;
  });
}

/** Loads tfjs-backend-webgpu and has its 'webgpu' backend run on `adapter`. */
async function register(adapter: GpuAdapterLike, log: (line: string) => void): Promise<void> {
  const st = state();
  let mod: TfjsWebgpuModule;
  try {
    mod = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as TfjsWebgpuModule;
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu unavailable (${errText(e)}); npm install @tensorflow/tfjs-backend-webgpu@4.22.0`);
  }
  st.chosen = adapterForTfjs(adapter, log);
  // The module registered its own factory at import (it asks navigator.gpu for an adapter of
  // its choosing); the backend is not initialised yet, so replacing the factory costs nothing.
  if (tf.engine().registryFactory['webgpu'] != null && tf.engine().registry['webgpu'] == null) tf.removeBackend('webgpu');
  if (tf.engine().registryFactory['webgpu'] == null) registerWebgpuFactory(mod, () => st.chosen as GpuAdapterLike);
}

/**
 * Finds an adapter through `navigator.gpu` and makes 'webgpu' the tfjs backend, as
 * `initWebgpu` does in Node: `hardware` = only a GPU (what `auto` asks for), `software` = only
 * a software or fallback adapter, `any` = a GPU, else a software one (said in the note).
 * Throws one line saying why when none can be used.
 */
export function initBrowserWebgpu(pref: WebgpuAdapterPreference, log: (line: string) => void): Promise<BrowserWebgpuInitResult> {
  return startWebgpu(pref, log, state(), '', async () => {
    const gpu = browserGpu();
    if (!gpu) throw new Error('no WebGPU here (navigator.gpu is missing: an older browser, or a page that is not a secure context)');
    return {
      hardware: () => ask(gpu, { powerPreference: 'high-performance' }),
      async software(want, seen) {
        const r = await ask(gpu, { forceFallbackAdapter: true });
        if (typeof r !== 'string') return r;
        // the software adapter the hardware request returned
        if (seen) return seen;
        // `software` asked directly: a software adapter may also come without the fallback flag
        if (want === 'software') {
          const plain = await ask(gpu, {});
          if (typeof plain !== 'string' && plain.info.software) return plain;
        }
        return r;
      },
      register: (adapter) => register(adapter, log),
    };
  });
}

/** The adapter the webgpu backend runs on on this page, if any. */
export function currentWebgpuAdapter(): WebgpuAdapterInfo | null {
  const info = state().info;
  return info ? { ...info } : null;
}
