import * as tf from '@tensorflow/tfjs';
import type { WebgpuAdapterInfo, WebgpuAdapterPreference } from './types';
import { registerWebgpuTrainingKernels } from './kernels/webgpu';
import {
  adapterForTfjs,
  adapterLabel,
  describeAdapter,
  errText,
  registerWebgpuFactory,
  type GpuAdapterLike,
  type GpuLike,
  type TfjsWebgpuModule,
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
export interface BrowserWebgpuInitResult {
  adapter: WebgpuAdapterInfo;
  /** Said when `any` took a software or fallback adapter. */
  note?: string;
}

async function ask(gpu: GpuLike, options: Record<string, unknown>): Promise<{ adapter: GpuAdapterLike; info: WebgpuAdapterInfo } | string> {
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter(options);
  } catch (e) {
    return `requestAdapter failed (${errText(e)})`;
  }
  if (!adapter) return 'none found';
  const info = describeAdapter(adapter, 'browser WebGPU', 'core');
  if (options.forceFallbackAdapter) Object.assign(info, { software: true, fallback: true });
  return { adapter, info };
}

/**
 * Finds an adapter through `navigator.gpu` and makes 'webgpu' the tfjs backend, as
 * `initWebgpu` does in Node: `hardware` = only a GPU (what `auto` asks for), `software` = only
 * a software or fallback adapter, `any` = a GPU, else a software one (said in the note).
 * Throws one line saying why when none can be used.
 */
export async function initBrowserWebgpu(pref: WebgpuAdapterPreference, log: (line: string) => void): Promise<BrowserWebgpuInitResult> {
  const st = state();
  if (st.info && tf.engine().registry['webgpu'] != null) {
    const ok = pref === 'any' || (pref === 'software') === st.info.software;
    if (!ok) throw new Error(`webgpu is already running on ${adapterLabel(st.info)}; cannot switch to a ${pref} adapter`);
    if (!(await tf.setBackend('webgpu'))) throw new Error('switching back to the webgpu backend failed');
    return { adapter: { ...st.info } };
  }
  const gpu = browserGpu();
  if (!gpu) throw new Error('no WebGPU here (navigator.gpu is missing: an older browser, or a page that is not a secure context)');
  const reasons: string[] = [];
  let found: { adapter: GpuAdapterLike; info: WebgpuAdapterInfo } | null = null;
  let softwareSeen: { adapter: GpuAdapterLike; info: WebgpuAdapterInfo } | null = null;
  if (pref !== 'software') {
    const r = await ask(gpu, { powerPreference: 'high-performance' });
    if (typeof r === 'string') reasons.push(`no hardware adapter: ${r}`);
    else if (r.info.software) {
      reasons.push(`no hardware adapter: only ${adapterLabel(r.info)}`);
      softwareSeen = r;
    } else found = r;
  }
  if (!found && pref !== 'hardware') {
    const r = await ask(gpu, { forceFallbackAdapter: true });
    if (typeof r !== 'string') found = r;
    else if (softwareSeen) found = softwareSeen;
    else {
      // `software` asked directly: a software adapter may also come without the fallback flag
      const plain = pref === 'software' ? await ask(gpu, {}) : 'none found';
      if (typeof plain !== 'string' && plain.info.software) found = plain;
      else reasons.push(`no software adapter: ${r}`);
    }
  }
  if (!found) throw new Error(reasons.join('; '));
  let mod: TfjsWebgpuModule;
  try {
    mod = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as TfjsWebgpuModule;
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu unavailable (${errText(e)}); npm install @tensorflow/tfjs-backend-webgpu@4.22.0`);
  }
  st.chosen = adapterForTfjs(found.adapter, log);
  // The module registered its own factory at import (it asks navigator.gpu for an adapter of
  // its choosing); the backend is not initialised yet, so replacing the factory costs nothing.
  if (tf.engine().registryFactory['webgpu'] != null && tf.engine().registry['webgpu'] == null) tf.removeBackend('webgpu');
  if (tf.engine().registryFactory['webgpu'] == null) registerWebgpuFactory(mod, () => st.chosen as GpuAdapterLike);
  let ok: boolean;
  try {
    ok = await tf.setBackend('webgpu');
  } catch (e) {
    throw new Error(`the webgpu backend failed to initialise on ${adapterLabel(found.info)} (${errText(e)})`);
  }
  if (!ok) throw new Error(`the webgpu backend failed to initialise on ${adapterLabel(found.info)}`);
  const missing = registerWebgpuTrainingKernels();
  if (missing.length) log(`selfsup: warning: this tfjs-backend-webgpu lacks kernels training uses: ${missing.join(', ')} (4.22.0 has them all)`);
  st.info = found.info;
  const note = pref === 'any' && found.info.software ? `${reasons.join('; ')}: using the software adapter (slow)` : undefined;
  return { adapter: { ...found.info }, note };
}

/** The adapter the webgpu backend runs on on this page, if any. */
export function currentWebgpuAdapter(): WebgpuAdapterInfo | null {
  const info = state().info;
  return info ? { ...info } : null;
}
