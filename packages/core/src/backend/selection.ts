import * as tf from '@tensorflow/tfjs';
import {
  BACKEND_PREFERENCES,
  WEBGPU_ADAPTER_PREFERENCES,
  type BackendInfo,
  type BackendPreference,
  type NativeKernelsPreference,
  type SelectBackendOptions,
  type WebgpuAdapterPreference,
} from './types';
import type { WebgpuInitResult } from './webgpu-adapter';

/*
 * What `selectBackend` in Node (./select.ts) and in a browser (./select-browser.ts) share:
 * the one selection state of a process or page, the preference check and the queue that runs
 * one selection at a time, and the explicit `webgpu` preference. No Node module is imported
 * here: @selfsup/core's browser entry bundles this file.
 */

// Kept on globalThis, not in module scope: tfjs's engine is a process-wide singleton, and
// this module may be loaded twice (built dist/ and, under vitest, the TS sources).
export interface SelectionState {
  info: BackendInfo | null;
  /** The nativeKernels setting `info` was made with (Node). */
  nativeKernels?: NativeKernelsPreference;
  queue: Promise<unknown>;
}
const STATE_KEY = Symbol.for('selfsup.backend.selection');
export function selectionState(): SelectionState {
  const g = globalThis as unknown as Record<symbol, SelectionState | undefined>;
  let s = g[STATE_KEY];
  if (!s) {
    s = { info: null, queue: Promise.resolve() };
    g[STATE_KEY] = s;
  }
  return s;
}

/** The backend chosen by the last `selectBackend` call in this process (or on this page), if any. */
export function currentBackend(): BackendInfo | null {
  const info = selectionState().info;
  return info ? { ...info } : null;
}

export function tfjsVersion(): string {
  return tf.version.tfjs ?? tf.version_core;
}

/**
 * Checks `preference` and runs `select` after the selections asked for before it: two
 * overlapping calls must not both start a backend's initialisation.
 */
export function queueSelection(preference: BackendPreference, select: () => Promise<BackendInfo>): Promise<BackendInfo> {
  if (!BACKEND_PREFERENCES.includes(preference)) {
    return Promise.reject(
      new Error(`selectBackend: unknown backend '${String(preference)}'; use one of ${BACKEND_PREFERENCES.join(', ')}`),
    );
  }
  const st = selectionState();
  const run = st.queue.then(select);
  st.queue = run.catch(() => undefined);
  return run;
}

/** `selectBackend('webgpu')`: the adapter `opts.webgpuAdapter` asks for, through `init` (Node's or the browser's). */
export async function selectWebgpu(
  base: Pick<BackendInfo, 'preference' | 'tfjsVersion'>,
  opts: SelectBackendOptions,
  log: (line: string) => void,
  init: (want: WebgpuAdapterPreference, log: (line: string) => void) => Promise<WebgpuInitResult>,
): Promise<{ info: BackendInfo; note?: string }> {
  const want = opts.webgpuAdapter ?? 'any';
  if (!WEBGPU_ADAPTER_PREFERENCES.includes(want)) {
    throw new Error(`selectBackend: unknown webgpu adapter '${String(want)}'; use one of ${WEBGPU_ADAPTER_PREFERENCES.join(', ')}`);
  }
  let res: WebgpuInitResult;
  try {
    res = await init(want, log);
  } catch (e) {
    throw new Error(`selectBackend('webgpu'): ${e instanceof Error ? e.message : String(e)}`);
  }
  return { info: { ...base, name: 'webgpu', threads: 1, simd: false, adapter: res.adapter }, note: res.note };
}
