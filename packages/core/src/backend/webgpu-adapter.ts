import * as tf from '@tensorflow/tfjs';
import type { WebgpuAdapterInfo, WebgpuAdapterPreference } from './types';
import { registerWebgpuTrainingKernels } from './kernels/webgpu';

/*
 * What the two ways to a WebGPU adapter share — Dawn's Node binding (./webgpu.ts) and a
 * browser's `navigator.gpu` (./webgpu-browser.ts): asking for an adapter and reading its info,
 * telling software adapters apart, picking one for a preference (hardware / software / any),
 * and making tfjs's 'webgpu' backend run on it. Each side says only how it reaches adapters
 * (an `AdapterSource`). No Node module is imported here: @selfsup/core's browser entry bundles
 * this file.
 */

/** The subset of WebGPU's `GPUAdapter` used here (Dawn's and browsers' alike). */
export interface GpuAdapterLike {
  readonly features: ReadonlySet<string>;
  readonly limits: Record<string, number>;
  readonly info?: Record<string, unknown>;
  readonly isFallbackAdapter?: boolean;
  requestDevice(desc?: Record<string, unknown>): Promise<GpuDeviceLike>;
}
export interface GpuDeviceLike {
  readonly lost?: Promise<{ reason?: string; message?: string }>;
  addEventListener?: (type: string, fn: (ev: { error?: { message?: string } }) => void) => void;
  destroy?: () => void;
}
/** The subset of `navigator.gpu` (a `GPU`) used here. */
export interface GpuLike {
  requestAdapter(opts?: Record<string, unknown>): Promise<GpuAdapterLike | null>;
}

/** What @tensorflow/tfjs-backend-webgpu exports that is used here. */
export interface TfjsWebgpuModule {
  WebGPUBackend: new (device: unknown, info: unknown) => tf.KernelBackend;
}

/** Names of software rasterisers / fallback adapters, as drivers report them. */
const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|software|basic render|\bwarp\b/i;

/**
 * A CPU rasteriser or fallback adapter, which `auto` must never take. Dawn reports Mesa's
 * llvmpipe through OpenGL ES as an ordinary adapter (isFallbackAdapter false, no vendor), so
 * the names count too.
 */
export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter) return true;
  return SOFTWARE_NAMES.test([info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' '));
}

/** An adapter's info as selfsup reports it; `backendType` and `featureLevel` are the caller's (how it asked). */
export function describeAdapter(adapter: GpuAdapterLike, backendType: string, featureLevel: 'core' | 'compatibility'): WebgpuAdapterInfo {
  const i = (adapter.info ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof i[k] === 'string' ? (i[k] as string) : '');
  const vendor = str('vendor');
  const architecture = str('architecture');
  const device = str('device');
  const description = str('description');
  const fallback = Boolean(adapter.isFallbackAdapter ?? i.isFallbackAdapter);
  const software = isSoftwareAdapter({ vendor, architecture, device, description, isFallbackAdapter: fallback });
  return { vendor, architecture, device, description, backendType, software, fallback, featureLevel };
}

/** "llvmpipe (OpenGL ES, software)" / "nvidia ampere (Vulkan)". */
export function adapterLabel(a: WebgpuAdapterInfo): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || a.device || a.description || 'unnamed adapter';
  const device = a.vendor && a.device && !name.includes(a.device) ? ` ${a.device}` : '';
  const extra = [a.backendType, a.software ? (a.fallback ? 'fallback' : 'software') : null,
    a.featureLevel === 'compatibility' ? 'compatibility mode' : null].filter(Boolean);
  return `${name}${device} (${extra.join(', ')})`;
}

/**
 * The adapter as tfjs's backend factory sees it: `requiredFeatures` flattened before
 * requestDevice (tfjs 4.22 passes a nested array), device errors and loss logged.
 */
export function adapterForTfjs(adapter: GpuAdapterLike, log: (line: string) => void): GpuAdapterLike {
  return {
    features: adapter.features,
    limits: adapter.limits,
    info: adapter.info,
    isFallbackAdapter: adapter.isFallbackAdapter,
    async requestDevice(desc: Record<string, unknown> = {}) {
      const features = desc.requiredFeatures as unknown[] | undefined;
      const flat = Array.isArray(features) ? [...new Set(features.flat(Infinity as 1) as string[])] : undefined;
      const device = await adapter.requestDevice({ ...desc, ...(flat ? { requiredFeatures: flat } : {}) });
      device.addEventListener?.('uncapturederror', (ev) => log(`selfsup: webgpu error: ${ev.error?.message ?? 'unknown'}`));
      void device.lost?.then((info) => {
        if (info?.reason !== 'destroyed') log(`selfsup: webgpu device lost: ${info?.message ?? info?.reason ?? 'unknown'}`);
      });
      return device;
    },
  };
}

/**
 * Registers tfjs's 'webgpu' backend factory on the adapter `chosen()` returns (read when tfjs
 * initialises the backend): the device gets the features and limits tfjs's own factory asks for.
 */
export function registerWebgpuFactory(mod: TfjsWebgpuModule, chosen: () => GpuAdapterLike): void {
  tf.registerBackend('webgpu', async () => {
    const a = chosen();
    const device = await a.requestDevice({
      requiredFeatures: ['timestamp-query', 'bgra8unorm-storage'].filter((f) => a.features.has(f)),
      requiredLimits: Object.fromEntries(
        ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize',
          'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'].map((k) => [k, a.limits[k]])),
    });
    return new mod.WebGPUBackend(device, a.info);
  }, 3);
}

/** An adapter found, with selfsup's description of it. */
export interface FoundAdapter {
  adapter: GpuAdapterLike;
  info: WebgpuAdapterInfo;
}
/** An adapter found, or why none was (one line). */
export type AdapterAnswer = FoundAdapter | string;

/** The adapter `requestAdapter()` gives, described by `describe`; a failure or no adapter as a reason. */
export async function askAdapter(
  requestAdapter: () => Promise<GpuAdapterLike | null>,
  describe: (adapter: GpuAdapterLike) => WebgpuAdapterInfo,
): Promise<AdapterAnswer> {
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await requestAdapter();
  } catch (e) {
    return `requestAdapter failed (${errText(e)})`;
  }
  if (!adapter) return 'none found';
  return { adapter, info: describe(adapter) };
}

/** How one environment (Node with Dawn, a browser) reaches its adapters. */
export interface AdapterSource {
  /** The high-performance adapter, whatever it turns out to be. */
  hardware(): Promise<AdapterAnswer>;
  /**
   * A software or fallback adapter, for `software` and `any`. `seen`: the software adapter the
   * hardware request returned, if it did (not asked for `software`).
   */
  software(pref: WebgpuAdapterPreference, seen: FoundAdapter | null): Promise<AdapterAnswer>;
  /** Said after "no software adapter" when software() finds none, e.g. what it needs. */
  softwareHint?: string;
  /** Makes tfjs's 'webgpu' backend (not initialised yet) run on `adapter`. */
  register(adapter: GpuAdapterLike): Promise<void>;
}

/** The adapter the webgpu backend runs on, kept by each side (one per process or page). */
export interface WebgpuAdapterState {
  info: WebgpuAdapterInfo | null;
}

/** The adapter chosen and what was said about it. */
export interface WebgpuInitResult {
  adapter: WebgpuAdapterInfo;
  /** Said when `any` took a software or fallback adapter. */
  note?: string;
}

/**
 * Finds an adapter and makes 'webgpu' the tfjs backend: `hardware` = only a GPU (what `auto`
 * asks for), `software` = only a software or fallback adapter, `any` = a GPU, else a software
 * one (said in the note). Once running, the backend stays on its adapter: a later call only
 * checks that the adapter fits. `open` reaches the environment's adapters (called only when no
 * adapter runs yet); `where` ends "webgpu is already running on …" (" in this process").
 * Throws one line saying why when none can be used.
 */
export async function startWebgpu(
  pref: WebgpuAdapterPreference,
  log: (line: string) => void,
  st: WebgpuAdapterState,
  where: string,
  open: () => Promise<AdapterSource>,
): Promise<WebgpuInitResult> {
  if (st.info && tf.engine().registry['webgpu'] != null) {
    const ok = pref === 'any' || (pref === 'software') === st.info.software;
    if (!ok) throw new Error(`webgpu is already running on ${adapterLabel(st.info)}${where}; cannot switch to a ${pref} adapter`);
    if (!(await tf.setBackend('webgpu'))) throw new Error('switching back to the webgpu backend failed');
    return { adapter: { ...st.info } };
  }
  const source = await open();
  const reasons: string[] = [];
  let found: FoundAdapter | null = null;
  let seen: FoundAdapter | null = null;
  if (pref !== 'software') {
    const r = await source.hardware();
    if (typeof r === 'string') reasons.push(`no hardware adapter: ${r}`);
    else if (r.info.software) {
      reasons.push(`no hardware adapter: only ${adapterLabel(r.info)}`);
      seen = r;
    } else found = r;
  }
  if (!found && pref !== 'hardware') {
    const r = await source.software(pref, seen);
    if (typeof r === 'string') reasons.push(`no software adapter${source.softwareHint ?? ''}: ${r}`);
    else found = r;
  }
  if (!found) throw new Error(reasons.join('; '));
  await source.register(found.adapter);
  let ok: boolean;
  try {
    ok = await tf.setBackend('webgpu');
  } catch (e) {
    throw new Error(`the webgpu backend failed to initialise on ${adapterLabel(found.info)} (${errText(e)})`);
  }
  if (!ok) throw new Error(`the webgpu backend failed to initialise on ${adapterLabel(found.info)}`);
  const missing = registerWebgpuTrainingKernels(found.info.software);
  if (missing.length) log(`selfsup: warning: this tfjs-backend-webgpu lacks kernels training uses: ${missing.join(', ')} (4.22.0 has them all)`);
  st.info = found.info;
  const note = pref === 'any' && found.info.software ? `${reasons.join('; ')}: using the software adapter (slow)` : undefined;
  return { adapter: { ...found.info }, note };
}

/** First line of an error's message. */
export function errText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
