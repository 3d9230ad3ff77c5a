import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { WebgpuAdapterInfo, WebgpuAdapterPreference } from './types';
import { setWebgpuDirectConv } from './kernels/webgpu-direct-conv';
import {
  adapterForTfjs,
  adapterLabel,
  askAdapter,
  describeAdapter,
  errText,
  registerWebgpuFactory,
  startWebgpu,
  type AdapterAnswer,
  type GpuAdapterLike,
  type TfjsWebgpuModule,
  type WebgpuInitResult,
} from './webgpu-adapter';

export { adapterLabel, isSoftwareAdapter, type WebgpuInitResult } from './webgpu-adapter';

const fsModule: typeof import('fs') = require('fs');
const osModule: typeof import('os') = require('os');
const pathModule: typeof import('path') = require('path');
const urlModule: typeof import('url') = require('url');

/*
 * WebGPU in Node: Dawn's binding (npm `webgpu`, an ES module holding a prebuilt dawn.node)
 * under @tensorflow/tfjs-backend-webgpu 4.22. Both are optional dependencies, loaded lazily.
 * Nothing in node_modules is patched: the WebGPU globals and a `navigator.gpu` that hands out
 * the adapter chosen here are set on globalThis before the backend module is loaded (it
 * registers the 'webgpu' backend at import only when `navigator.gpu` exists), and the adapter
 * it receives flattens the nested `requiredFeatures` tfjs 4.22 passes to `requestDevice`.
 */

/** Dawn's `GPUAdapter`, as far as it is used here. */
type DawnAdapter = GpuAdapterLike;
interface DawnGpu {
  requestAdapter(opts?: Record<string, unknown>): Promise<DawnAdapter | null>;
}
interface DawnModule {
  create(flags: string[]): DawnGpu;
  globals: Record<string, unknown>;
}

/** One way of asking Dawn for an adapter. */
interface AdapterRequest {
  kind: 'hardware' | 'software';
  flags: string[];
  options: Record<string, unknown>;
}

const HARDWARE_REQUEST: AdapterRequest = { kind: 'hardware', flags: [], options: { powerPreference: 'high-performance' } };
/**
 * A software adapter that works on a headless Linux machine: Dawn's OpenGL ES backend on
 * Mesa's llvmpipe (Debian: libegl1 libgles2 libgl1-mesa-dri, with libvulkan1 present), in
 * WebGPU's compatibility mode. Mesa's Vulkan software driver (lavapipe) is refused by Dawn.
 */
const SOFTWARE_REQUEST: AdapterRequest = { kind: 'software', flags: ['backend=opengles'], options: { featureLevel: 'compatibility' } };

interface WebgpuState {
  dawn: DawnModule | null;
  loadError: string | null;
  instances: Map<string, DawnGpu>;
  /** The adapter the tfjs backend gets (navigator.gpu.requestAdapter returns it). */
  chosen: DawnAdapter | null;
  info: WebgpuAdapterInfo | null;
  registered: boolean;
}
const STATE_KEY = Symbol.for('selfsup.backend.webgpu');
function state(): WebgpuState {
  const g = globalThis as unknown as Record<symbol, WebgpuState | undefined>;
  let s = g[STATE_KEY];
  if (!s) {
    s = { dawn: null, loadError: null, instances: new Map(), chosen: null, info: null, registered: false };
    g[STATE_KEY] = s;
  }
  return s;
}

/** The `webgpu` package, or why it cannot be loaded. */
async function loadDawn(): Promise<DawnModule> {
  const st = state();
  if (st.dawn) return st.dawn;
  if (st.loadError) throw new Error(st.loadError);
  try {
    // A dawn.node of one's own (gpu-check's self-contained folder carries one): its exports
    // are the package's create/globals.
    const own = process.env.SELFSUP_DAWN_NODE;
    if (own) {
      if (!fsModule.existsSync(own)) throw new Error(`SELFSUP_DAWN_NODE=${own}: no such file`);
      const mod = require(own) as DawnModule;
      if (typeof mod.create !== 'function' || mod.globals == null) throw new Error(`SELFSUP_DAWN_NODE=${own} exports no create/globals`);
      st.dawn = mod;
      return mod;
    }
    let entry: string;
    try {
      entry = require.resolve('webgpu');
    } catch {
      throw new Error('not installed: npm install webgpu@0.6 @tensorflow/tfjs-backend-webgpu@4.22.0');
    }
    // An ES module without top-level await: require() loads it on Node ≥ 20.19 / 22.12
    // (require(esm)); older Nodes take a real dynamic import (tsc would turn `import()` into
    // require under commonjs, hence the Function).
    let mod: DawnModule;
    try {
      mod = require(entry) as DawnModule;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw e;
      const dynamicImport = new Function('u', 'return import(u)') as (u: string) => Promise<DawnModule>;
      mod = await dynamicImport(urlModule.pathToFileURL(entry).href);
    }
    if (typeof mod.create !== 'function' || mod.globals == null) throw new Error('the webgpu package exports no create/globals');
    st.dawn = mod;
    return mod;
  } catch (e) {
    st.loadError = `webgpu binding unavailable (${errText(e)})`;
    throw new Error(st.loadError);
  }
}

/** `globals` (GPUBufferUsage, GPUMapMode, ...) onto globalThis where absent. */
function installGlobals(dawn: DawnModule): void {
  const g = globalThis as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
}

/**
 * The environment Dawn's OpenGL ES backend needs without a display: EGL on Mesa's surfaceless
 * platform and a runtime directory. Set only where unset, and only for a software adapter.
 */
export function applySoftwareAdapterEnv(env: NodeJS.ProcessEnv = process.env): void {
  if (!env.EGL_PLATFORM) env.EGL_PLATFORM = 'surfaceless';
  if (!env.XDG_RUNTIME_DIR || !fsModule.existsSync(env.XDG_RUNTIME_DIR)) {
    const dir = pathModule.join(osModule.tmpdir(), `selfsup-xdg-${process.getuid?.() ?? 'user'}`);
    fsModule.mkdirSync(dir, { recursive: true, mode: 0o700 });
    env.XDG_RUNTIME_DIR = dir;
  }
}

function instance(dawn: DawnModule, flags: string[]): DawnGpu {
  const st = state();
  const key = flags.join(' ');
  let gpu = st.instances.get(key);
  if (!gpu) {
    gpu = dawn.create(flags);
    st.instances.set(key, gpu);
  }
  return gpu;
}

function platformBackendType(): string {
  if (process.platform === 'darwin') return 'Metal';
  if (process.platform === 'win32') return 'D3D12';
  return 'Vulkan';
}

function backendTypeOf(request: AdapterRequest, description: string): string {
  const flag = request.flags.find((f) => f.startsWith('backend='))?.slice('backend='.length);
  if (flag === 'opengles' || /OpenGL ES/i.test(description)) return 'OpenGL ES';
  if (flag === 'opengl' || /^OpenGL/i.test(description)) return 'OpenGL';
  if (flag === 'vulkan') return 'Vulkan';
  if (flag === 'metal') return 'Metal';
  if (flag === 'd3d12') return 'D3D12';
  if (flag === 'd3d11') return 'D3D11';
  return platformBackendType();
}

function describe(adapter: DawnAdapter, request: AdapterRequest): WebgpuAdapterInfo {
  const description = typeof adapter.info?.description === 'string' ? adapter.info.description : '';
  return describeAdapter(adapter, backendTypeOf(request, description), request.options.featureLevel === 'compatibility' ? 'compatibility' : 'core');
}

/**
 * Where a hardware GPU could be reached from this process: on Linux a GPU driver exposes
 * device nodes (`/dev/dri/renderD*` for Mesa/AMD/Intel/nouveau and NVIDIA's DRM, `/dev/nvidia0`
 * for NVIDIA's proprietary driver, `/dev/dxg` in WSL2); without any, Dawn can only find a
 * software adapter. `auto` checks this before loading Dawn, because Dawn and the Vulkan loader
 * print native warnings (XDG_RUNTIME_DIR, refused drivers) on stderr that no JS code can hold
 * back. Other platforms (Metal, D3D12) are always worth the probe: null.
 */
export function gpuDeviceNodeMissing(
  platform: NodeJS.Platform = process.platform,
  fsys: { existsSync(p: string): boolean; readdirSync(p: string): string[] } = fs,
): string | null {
  if (platform !== 'linux') return null;
  if (fsys.existsSync('/dev/nvidia0') || fsys.existsSync('/dev/dxg')) return null;
  try {
    if (fsys.readdirSync('/dev/dri').some((n) => n.startsWith('renderD') || n.startsWith('card'))) return null;
  } catch {
    // no /dev/dri
  }
  return 'no GPU device on this machine (/dev/dri/renderD*, /dev/nvidia0, /dev/dxg)';
}

async function request(dawn: DawnModule, req: AdapterRequest): Promise<AdapterAnswer> {
  if (req.kind === 'software') applySoftwareAdapterEnv();
  return askAdapter(() => instance(dawn, req.flags).requestAdapter(req.options), (adapter) => describe(adapter, req));
}

/**
 * Loads @tensorflow/tfjs-backend-webgpu with `navigator.gpu` handing out `adapter`. The backend
 * module registers 'webgpu' at import when it sees navigator.gpu; loaded earlier without it
 * (by someone else), it registered nothing, and the factory is registered here the same way.
 */
function registerTfjsBackend(adapter: DawnAdapter, log: (line: string) => void): void {
  const st = state();
  st.chosen = adapterForTfjs(adapter, log);
  const gpu = { requestAdapter: async () => st.chosen };
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  const nav = g.navigator;
  if (nav == null) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (nav.gpu !== gpu) {
    try {
      Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
    } catch {
      Object.defineProperty(globalThis, 'navigator', { value: { ...nav, gpu }, configurable: true, writable: true });
    }
  }
  if (st.registered) return;
  let mod: TfjsWebgpuModule;
  try {
    mod = require('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu unavailable (${errText(e)}); npm install @tensorflow/tfjs-backend-webgpu@4.22.0`);
  }
  if (tf.engine().registryFactory['webgpu'] == null) registerWebgpuFactory(mod, () => st.chosen as DawnAdapter);
  st.registered = true;
}

/**
 * Finds an adapter through Dawn and makes 'webgpu' the tfjs backend. `hardware`: only a
 * hardware GPU (what `auto` asks for); `software`: only the software adapter; `any`: hardware,
 * else software. Throws one line saying why when none can be used.
 */
export function initWebgpu(pref: WebgpuAdapterPreference, log: (line: string) => void): Promise<WebgpuInitResult> {
  // SELFSUP_WEBGPU_DIRECT_CONV=1 / 0: the direct convolution programs on / off whatever the adapter
  const direct = process.env.SELFSUP_WEBGPU_DIRECT_CONV;
  if (direct === '1' || direct === '0') setWebgpuDirectConv(direct === '1');
  else if (direct) log(`selfsup: warning: SELFSUP_WEBGPU_DIRECT_CONV=${direct} is neither 1 nor 0; ignored (the adapter decides)`);
  return startWebgpu(pref, log, state(), ' in this process', async () => {
    const dawn = await loadDawn();
    installGlobals(dawn);
    return {
      hardware: () => request(dawn, HARDWARE_REQUEST),
      software: () => request(dawn, SOFTWARE_REQUEST),
      softwareHint: ' (OpenGL ES via EGL; Debian: libegl1 libgles2 libgl1-mesa-dri libvulkan1)',
      register: async (adapter) => registerTfjsBackend(adapter, log),
    };
  });
}

/** The adapter the webgpu backend runs on in this process, if any. */
export function currentWebgpuAdapter(): WebgpuAdapterInfo | null {
  const info = state().info;
  return info ? { ...info } : null;
}

/** Lines for `selfsup info`: the adapters Dawn offers here (hardware, then software). */
export async function describeWebgpuAdapters(): Promise<string[]> {
  let dawn: DawnModule;
  try {
    dawn = await loadDawn();
  } catch (e) {
    return [`webgpu: ${errText(e)}`];
  }
  const lines: string[] = [];
  for (const req of [HARDWARE_REQUEST, { ...HARDWARE_REQUEST, options: { powerPreference: 'low-power' } }, SOFTWARE_REQUEST]) {
    const r = await request(dawn, req);
    const what = req === SOFTWARE_REQUEST ? 'software' : `hardware, ${String(req.options.powerPreference)}`;
    if (typeof r === 'string') lines.push(`webgpu adapter (${what}): ${r}`);
    else {
      const usable = r.info.software ? (req.kind === 'software' ? 'explicit webgpu only' : 'not used by auto') : 'usable by auto';
      lines.push(`webgpu adapter (${what}): ${adapterLabel(r.info)}${r.info.description ? ` — ${r.info.description}` : ''} [${usable}]`);
    }
  }
  return [...new Set(lines)];
}
