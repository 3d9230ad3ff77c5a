/** What `selectBackend` may be asked for. `tensorflow` means a native tfjs-node(-gpu) binding. */
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** The backend the process runs on, as reported by `selectBackend`. */
export interface BackendInfo {
  /** tfjs backend name: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** What the caller asked for. */
  preference: string;
  /** `tf.version.tfjs` (or tfjs-core's version when the union package is absent). */
  tfjsVersion: string;
  /** Compute threads: XNNPACK pool size on wasm, 1 on cpu, the native default on tensorflow. */
  threads: number;
  /** WebAssembly SIMD in use (wasm only). */
  simd: boolean;
  /** npm package that provided a native backend, when one was loaded. */
  native?: string;
}

export interface SelectBackendOptions {
  /** wasm compute threads; defaults to the number of cores (`os.cpus().length`). */
  threads?: number;
  /** Where the one status line (and warnings) go; defaults to `console.error`. */
  log?: (line: string) => void;
}

/** One row of `availableBackends()`: could this backend be used in this process? */
export interface BackendAvailability {
  name: 'tensorflow' | 'wasm' | 'cpu';
  /** npm package providing it. */
  package: string;
  available: boolean;
  /** Why not, and what to do about it. */
  reason?: string;
}
