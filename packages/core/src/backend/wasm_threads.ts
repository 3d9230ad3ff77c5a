// Lets @tensorflow/tfjs-backend-wasm 4.22 run its threaded-SIMD build in Node without
// touching node_modules. Three things stand in the way, each fixed only while the wasm
// module initialises (`install()` … `restore()`):
//  1. tfjs turns the multithread flag off in Node (tfjs issue 3830) → we set it.
//  2. The pthread worker script is handed to Emscripten as a Blob URL, which Node's
//     worker_threads cannot load. We record Blob contents as they are built, write the
//     worker script to a temp file and hand out its path. The script normally imports the
//     main module from another Blob (a rollup re-wrap that cannot run on its own), so the
//     written copy imports the package's own Emscripten file instead.
//  3. The C++ side caps its XNNPACK pool at emscripten_num_logical_cores()/2, which in
//     Node is os.cpus().length/2 → 1 thread on 2 cores. We report enough cores during
//     init for the requested count and set it with setThreadsCount().
// Once initialised, every pthread worker has loaded (Emscripten waits for its pool), so
// the temp files are deleted right away; a process 'exit' hook is the backstop.
import * as fs from 'fs';
import * as path from 'path';

// `import * as os` would give a copy of the module object under esModuleInterop; the
// wasm glue calls require('os').cpus(), so the patch must go on the real one.
const osModule: typeof import('os') = require('os');

/** Emscripten preallocates this many pthread workers (PTHREAD_POOL_SIZE of the build). */
export const WASM_PTHREAD_POOL_SIZE = 8;

const WORKER_MARKER = 'importScripts(e.data.urlOrBlob)';
const WORKER_BRANCH = 'if(typeof e.data.urlOrBlob=="string")';

export function threadedWasmScriptPath(): string {
  // a folder holding the file instead of the package (gpu-check's self-contained folder)
  const own = process.env.SELFSUP_TFJS_WASM_DIR;
  if (own) return path.join(own, 'tfjs-backend-wasm-threaded-simd.js');
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  return path.join(dist, '..', 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
}

/** Reasons the threaded build cannot be tried here, or null when it can. */
export function threadedWasmUnsupportedReason(): string | null {
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
  } catch {
    return 'this Node build has no WebAssembly threads (shared memory)';
  }
  try {
    require('worker_threads');
  } catch {
    return 'worker_threads is not available';
  }
  if (typeof Blob !== 'function' || typeof URL.createObjectURL !== 'function') {
    return 'Blob / URL.createObjectURL are missing (Node >= 16 is needed)';
  }
  let script: string;
  try {
    script = threadedWasmScriptPath();
  } catch {
    return '@tensorflow/tfjs-backend-wasm cannot be resolved from here';
  }
  if (!fs.existsSync(script)) return `${script} is missing from the installed tfjs-backend-wasm`;
  return null;
}

export interface ThreadedInitPatch {
  /** Undo every global change; safe to call twice. */
  restore(): void;
  /** Temp directory holding the worker script while init runs. */
  readonly dir: string;
}

const tempDirs = new Set<string>();
let exitHookInstalled = false;

function removeDir(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort: a leftover few-KB file in the OS temp dir is harmless
  }
  tempDirs.delete(dir);
}

function ensureExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const d of [...tempDirs]) removeDir(d);
  });
}

export function rewriteWorkerScript(source: string, mainScript: string): string {
  if (!source.includes(WORKER_MARKER) || !source.includes(WORKER_BRANCH)) {
    throw new Error(
      'selfsup: the tfjs-backend-wasm pthread worker script has an unexpected shape ' +
        '(expected @tensorflow/tfjs-backend-wasm 4.22.0); cannot enable wasm threads.',
    );
  }
  return source.replace(WORKER_BRANCH, 'if(true)').replace(WORKER_MARKER, `importScripts(${JSON.stringify(mainScript)})`);
}

/**
 * Installs the init-time patches for a threaded wasm backend with `threads` threads.
 * Call immediately before `tf.setBackend('wasm')`, and `restore()` once it settled.
 */
export function installThreadedInitPatch(threads: number, setThreadsCount: (n: number) => void): ThreadedInitPatch {
  ensureExitHook();
  const dir = fs.mkdtempSync(path.join(osModule.tmpdir(), 'selfsup-wasm-'));
  tempDirs.add(dir);
  const mainScript = threadedWasmScriptPath();
  const g = globalThis as { Blob: typeof Blob };
  const OrigBlob = g.Blob;
  const origCreateObjectURL = URL.createObjectURL;
  const origCpus = osModule.cpus;
  const parts = new WeakMap<Blob, unknown[]>();
  let n = 0;

  g.Blob = class RecordingBlob extends OrigBlob {
    constructor(blobParts?: BlobPart[], options?: BlobPropertyBag) {
      super(blobParts, options);
      parts.set(this, blobParts ?? []);
    }
  };
  URL.createObjectURL = (obj: Blob) => {
    const p = parts.get(obj);
    if (!p) return origCreateObjectURL.call(URL, obj);
    const source = p.map(String).join('');
    if (!source.includes(WORKER_MARKER)) return origCreateObjectURL.call(URL, obj);
    const file = path.join(dir, `pthread-worker-${n++}.js`);
    fs.writeFileSync(file, rewriteWorkerScript(source, mainScript));
    return file;
  };
  osModule.cpus = () => {
    const real = origCpus();
    const want = Math.max(real.length, 2 * threads);
    return Array.from({ length: want }, (_, i) => real[i % real.length]);
  };
  setThreadsCount(threads);

  let restored = false;
  return {
    dir,
    restore() {
      if (restored) return;
      restored = true;
      g.Blob = OrigBlob;
      URL.createObjectURL = origCreateObjectURL;
      osModule.cpus = origCpus;
      removeDir(dir);
    },
  };
}

interface EmscriptenWorker {
  unref?: () => void;
}
interface PThreadLike {
  runningWorkers?: EmscriptenWorker[];
  unusedWorkers?: EmscriptenWorker[];
}

/**
 * Emscripten keeps the workers that run XNNPACK's pool referenced, so a script using
 * threaded wasm would never exit on its own. The pool lives as long as the process.
 */
export function unrefWasmWorkers(wasmModule: unknown): void {
  const pthread = (wasmModule as { PThread?: PThreadLike } | undefined)?.PThread;
  if (!pthread) return;
  for (const w of [...(pthread.runningWorkers ?? []), ...(pthread.unusedWorkers ?? [])]) w.unref?.();
}

/** Live temp dirs (for tests: the shim must not leave files behind). */
export function pendingTempDirs(): string[] {
  return [...tempDirs];
}
