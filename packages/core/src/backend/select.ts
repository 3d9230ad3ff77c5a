import * as tf from '@tensorflow/tfjs';
import {
  NATIVE_KERNELS_PREFERENCES,
  type BackendAvailability,
  type BackendInfo,
  type BackendPreference,
  type NativeKernelsPreference,
  type SelectBackendOptions,
} from './types';
import { currentBackend, queueSelection, selectWebgpu, selectionState, tfjsVersion } from './selection';
import { adapterLabel, gpuDeviceNodeMissing, initWebgpu } from './webgpu';
import {
  NATIVE_PACKAGES,
  defaultLoader,
  isResolvable,
  loadNativeBinding,
  nativeInstallHelp,
  nativeSupportedOnNode,
  nodeMajor,
  nodeTooNewMessage,
  type ModuleLoader,
} from './native';
import {
  WASM_PTHREAD_POOL_SIZE,
  installThreadedInitPatch,
  threadedWasmUnsupportedReason,
  unrefWasmWorkers,
} from './wasm_threads';
import { registerWasmTrainingKernels } from './kernels/register';
import { setOneDnnKernels } from './kernels/onednn';
import { defaultNativeCpuLoader, describeNativeCpu, nativeCpuLabel, type NativeCpuLoad, type NativeCpuLoader } from './native_cpu';
import { UserError } from '../config/errors';

const osModule: typeof import('os') = require('os');

type WasmPackage = typeof import('@tensorflow/tfjs-backend-wasm');

export { currentBackend } from './selection';

function defaultThreads(): number {
  return Math.max(1, osModule.cpus().length);
}

function checkThreads(threads: number | undefined): number | undefined {
  if (threads === undefined) return undefined;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`selectBackend: threads must be a positive integer, got ${String(threads)}`);
  }
  return threads;
}

function loadWasmPackage(): WasmPackage {
  // Required lazily: importing it registers the wasm backend (priority 2), which would
  // change tfjs's default backend for anyone who merely imports @selfsup/core.
  return require('@tensorflow/tfjs-backend-wasm') as WasmPackage;
}

function wasmInitialised(): boolean {
  return tf.engine().registry['wasm'] != null;
}

interface WasmResult {
  threads: number;
  simd: boolean;
}

async function initWasm(requested: number | undefined, log: (line: string) => void): Promise<WasmResult> {
  const wasm = loadWasmPackage();
  const wanted = requested ?? defaultThreads();
  if (wasmInitialised()) {
    if (!(await tf.setBackend('wasm'))) throw new Error('selectBackend: switching back to the wasm backend failed');
    const actual = wasm.getThreadsCount();
    if (requested !== undefined && requested !== actual) {
      log(
        `selfsup: warning: wasm is already initialised with ${actual} thread(s) in this process; ` +
          `keeping ${actual} (threads=${requested} only takes effect before the first wasm init).`,
      );
    }
  } else {
    let threads = Math.min(wanted, WASM_PTHREAD_POOL_SIZE);
    if (threads < wanted) {
      log(`selfsup: warning: wasm threads capped at ${WASM_PTHREAD_POOL_SIZE} (asked for ${wanted}).`);
    }
    let patch = null;
    if (threads > 1) {
      const reason = threadedWasmUnsupportedReason();
      if (reason) {
        log(`selfsup: wasm threads unavailable (${reason}); running single-threaded.`);
        threads = 1;
      } else {
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
        patch = installThreadedInitPatch(threads, wasm.setThreadsCount);
      }
    }
    let ok: boolean;
    try {
      ok = await tf.setBackend('wasm');
    } catch {
      ok = false;
    } finally {
      patch?.restore();
    }
    if (!ok && patch) {
      log('selfsup: threaded wasm failed to initialise; falling back to a single thread.');
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      ok = await tf.setBackend('wasm');
    }
    if (!ok) {
      throw new Error(
        'selectBackend: the wasm backend failed to initialise (see the tfjs warning above). ' +
          "Check that @tensorflow/tfjs-backend-wasm 4.22.0 is installed, or use backend 'cpu'.",
      );
    }
    if (patch) unrefWasmWorkers((tf.backend() as unknown as { wasm?: unknown }).wasm);
  }
  registerWasmTrainingKernels();
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return { threads: wasm.getThreadsCount(), simd };
}

async function initNative(loader: ModuleLoader): Promise<string> {
  const res = loadNativeBinding(loader);
  if (!res.loaded) {
    throw new Error(
      `selectBackend('tensorflow'): no native TensorFlow binding could be loaded ` +
        `(${res.failures.join('; ')}).\n${nativeInstallHelp()}`,
    );
  }
  if (!(await tf.setBackend('tensorflow'))) {
    throw new Error(
      `selectBackend('tensorflow'): ${res.loaded} loaded but its backend failed to initialise ` +
        `(for tfjs-node-gpu: check CUDA 11.2 / cuDNN 8.1 and LD_LIBRARY_PATH). ${nativeInstallHelp()}`,
    );
  }
  return res.loaded;
}

function statusLine(info: BackendInfo, note?: string): string {
  const parts = [`tfjs ${info.tfjsVersion}`];
  if (info.name !== 'webgpu') parts.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  if (info.name === 'wasm') parts.push(info.simd ? 'SIMD' : 'no SIMD');
  if (info.native) parts.push(info.native);
  if (info.adapter) parts.push(`adapter ${adapterLabel(info.adapter)}`);
  if (info.nativeKernels) parts.push(`native kernels: ${info.nativeKernels}`);
  return `selfsup: backend ${info.name} (${parts.join(', ')})${note ? ` — ${note}` : ''}`;
}

/** Internal knobs for tests: a fake module loader and Node major version. */
export interface SelectBackendInternals {
  loader?: ModuleLoader;
  nodeMajor?: number;
  /** Loads @selfsup/native-cpu (tests: one that fails, as where the addon is not built). */
  nativeCpuLoader?: NativeCpuLoader;
}

/**
 * Puts the oneDNN kernels in (or takes them out of) the wasm backend, which is initialised.
 * Returns their label when they are in use.
 */
function applyNativeKernels(want: NativeKernelsPreference, loaded: NativeCpuLoad | undefined, loader: NativeCpuLoader, threads: number): string | undefined {
  if (want === 'off') {
    setOneDnnKernels(null);
    return undefined;
  }
  const r = loaded ?? loader();
  if (!r.ok) {
    setOneDnnKernels(null);
    if (want === 'on') throw new UserError(`nativeKernels is on (trainer.nativeKernels, --native-kernels) but ${r.reason}`);
    return undefined;
  }
  // The wasm pool idles while the addon runs: oneDNN gets as many threads as wasm has, unless
  // OMP_NUM_THREADS says otherwise. (Its idle threads sleep at once, OMP_WAIT_POLICY=passive, set
  // by @selfsup/native-cpu: spinning ones took the cores from wasm's next ops, 2× slower steps.)
  setOneDnnKernels(r.addon, { threads: process.env.OMP_NUM_THREADS ? undefined : threads });
  return nativeCpuLabel(r.info);
}

async function doSelect(
  preference: BackendPreference,
  opts: SelectBackendOptions,
  internals: SelectBackendInternals,
): Promise<BackendInfo> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const requested = checkThreads(opts.threads);
  const nativeKernels = opts.nativeKernels ?? 'auto';
  if (!NATIVE_KERNELS_PREFERENCES.includes(nativeKernels)) {
    throw new Error(`selectBackend: unknown nativeKernels '${String(nativeKernels)}'; use one of ${NATIVE_KERNELS_PREFERENCES.join(', ')}`);
  }
  const nativeCpuLoader = internals.nativeCpuLoader ?? defaultNativeCpuLoader;
  let nativeCpu: NativeCpuLoad | undefined;
  if (nativeKernels === 'on') {
    // checked before any backend starts: a user error, said in one line
    if (preference !== 'wasm' && preference !== 'auto') {
      throw new UserError(`nativeKernels is on (trainer.nativeKernels, --native-kernels), but the native kernels run under the wasm backend and backend is ${preference}; use backend wasm or auto, or nativeKernels auto`);
    }
    nativeCpu = nativeCpuLoader();
    if (!nativeCpu.ok) throw new UserError(`nativeKernels is on (trainer.nativeKernels, --native-kernels) but ${nativeCpu.reason}`);
  }
  const st = selectionState();
  const cur = st.info;
  // (webgpu goes through initWebgpu again: it checks that the adapter kind still fits)
  if (cur && cur.preference === preference && tf.getBackend() === cur.name && preference !== 'webgpu' && st.nativeKernels === nativeKernels && !internals.nativeCpuLoader) {
    if (cur.name === 'wasm' && requested !== undefined && requested !== cur.threads) {
      log(
        `selfsup: warning: wasm is already running with ${cur.threads} thread(s); keeping ${cur.threads} ` +
          `(threads=${requested} only takes effect before the first wasm init in a process).`,
      );
    }
    return { ...cur };
  }
  const loader = internals.loader ?? defaultLoader;
  const major = internals.nodeMajor ?? nodeMajor();
  const base = { preference, tfjsVersion: tfjsVersion() };
  let info: BackendInfo;
  let note: string | undefined;

  if (preference === 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new Error("selectBackend('cpu'): the cpu backend failed to initialise");
    info = { ...base, name: 'cpu', threads: 1, simd: false };
  } else if (preference === 'wasm') {
    info = { ...base, name: 'wasm', ...(await initWasm(requested, log)) };
    info.nativeKernels = applyNativeKernels(nativeKernels, nativeCpu, nativeCpuLoader, info.threads);
  } else if (preference === 'webgpu') {
    ({ info, note } = await selectWebgpu(base, opts, log, initWebgpu));
  } else if (preference === 'tensorflow') {
    if (!nativeSupportedOnNode(major)) {
      throw new Error(`selectBackend('tensorflow'): ${nodeTooNewMessage(major)}`);
    }
    const native = await initNative(loader);
    info = { ...base, name: 'tensorflow', threads: defaultThreads(), simd: false, native };
  } else {
    let native: string | undefined;
    if (!nativeSupportedOnNode(major)) {
      note = `native tfjs-node skipped: ${nodeTooNewMessage(major)}`;
    } else {
      const res = loadNativeBinding(loader);
      if (res.loaded && (await tf.setBackend('tensorflow'))) native = res.loaded;
      else note = `auto: no native binding (${NATIVE_PACKAGES.join(', ')} not loadable)`;
    }
    let gpu: BackendInfo['adapter'];
    if (!native) {
      // Only a hardware GPU: a software or fallback adapter is slower than wasm.
      const noDevice = gpuDeviceNodeMissing();
      try {
        if (noDevice) throw new Error(noDevice);
        gpu = (await initWebgpu('hardware', log)).adapter;
      } catch (e) {
        note = `${note ? `${note}; ` : ''}webgpu skipped: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    if (native) {
      info = { ...base, name: 'tensorflow', threads: defaultThreads(), simd: false, native };
    } else if (gpu) {
      info = { ...base, name: 'webgpu', threads: 1, simd: false, adapter: gpu };
    } else {
      try {
        info = { ...base, name: 'wasm', ...(await initWasm(requested, log)) };
        info.nativeKernels = applyNativeKernels(nativeKernels, nativeCpu, nativeCpuLoader, info.threads);
      } catch (e) {
        if (e instanceof UserError) throw e;
        note = `wasm unavailable (${e instanceof Error ? e.message : String(e)})`;
        await tf.setBackend('cpu');
        info = { ...base, name: 'cpu', threads: 1, simd: false };
      }
    }
  }
  if (!info.nativeKernels) delete info.nativeKernels;
  st.info = info;
  st.nativeKernels = nativeKernels;
  log(statusLine(info, note));
  return { ...info };
}

/**
 * Picks and initialises the tfjs backend for this process and prints one status line.
 * `auto` tries @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node (loading at most one),
 * then webgpu on a hardware GPU (never a software or fallback adapter), then wasm (threaded, with selfsup's training kernels), then cpu. Safe to call repeatedly:
 * the same preference again is a no-op returning the same info.
 */
export function selectBackend(
  preference: BackendPreference = 'auto',
  opts: SelectBackendOptions = {},
  internals: SelectBackendInternals = {},
): Promise<BackendInfo> {
  // Serialised: two overlapping calls must not both start a wasm init.
  return queueSelection(preference, () => doSelect(preference, opts, internals));
}

/** Which backends this process could use, without loading any of them. */
export function availableBackends(major: number = nodeMajor()): BackendAvailability[] {
  const rows: BackendAvailability[] = [];
  const nativeLoaded = tf.engine().registryFactory['tensorflow'] != null;
  for (const pkg of NATIVE_PACKAGES) {
    if (!nativeSupportedOnNode(major)) {
      rows.push({ name: 'tensorflow', package: pkg, available: false, reason: nodeTooNewMessage(major) });
    } else if (nativeLoaded || isResolvable(pkg)) {
      rows.push({ name: 'tensorflow', package: pkg, available: true });
    } else {
      rows.push({ name: 'tensorflow', package: pkg, available: false, reason: `not installed: npm install ${pkg}@4.22.0` });
    }
  }
  const webgpuOk = isResolvable('webgpu') && isResolvable('@tensorflow/tfjs-backend-webgpu');
  rows.push({
    name: 'webgpu',
    package: 'webgpu + @tensorflow/tfjs-backend-webgpu',
    available: webgpuOk,
    reason: webgpuOk ? undefined : 'not installed: npm install webgpu@0.6 @tensorflow/tfjs-backend-webgpu@4.22.0',
  });
  const wasmOk = typeof WebAssembly === 'object' && isResolvable('@tensorflow/tfjs-backend-wasm');
  rows.push({
    name: 'wasm',
    package: '@tensorflow/tfjs-backend-wasm',
    available: wasmOk,
    reason: wasmOk ? undefined : 'not installed: npm install @tensorflow/tfjs-backend-wasm@4.22.0',
  });
  rows.push({ name: 'cpu', package: '@tensorflow/tfjs', available: true });
  return rows;
}

/** Human-readable report for `selfsup info`: current backend, candidates, threads. */
export function describeBackends(): string {
  const lines: string[] = [];
  const cur = currentBackend();
  lines.push(`node ${process.version}, tfjs ${tfjsVersion()}, ${osModule.cpus().length} cores`);
  lines.push(cur ? `current: ${statusLine(cur).replace(/^selfsup: /, '')}` : 'current: none selected yet');
  for (const row of availableBackends()) {
    lines.push(`  ${row.name.padEnd(10)} ${row.package.padEnd(42)} ${row.available ? 'available' : `unavailable: ${row.reason}`}`);
  }
  const why = threadedWasmUnsupportedReason();
  lines.push(`  wasm threads: ${why ? `unavailable (${why})` : `supported (default ${defaultThreads()})`}`);
  for (const l of describeNativeCpu()) lines.push(`  ${l}`);
  return lines.join('\n');
}
