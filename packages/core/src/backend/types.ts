/** What `selectBackend` may be asked for. `tensorflow` means a native tfjs-node(-gpu) binding. */
export type BackendPreference = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/**
 * Which WebGPU adapter an explicit `webgpu` takes: `any` = a hardware GPU, else the software
 * one (said in the status line); `hardware` = only a GPU; `software` = only the software
 * adapter (Dawn's OpenGL ES backend on Mesa llvmpipe, headless). `auto` only ever takes hardware.
 */
export type WebgpuAdapterPreference = 'any' | 'hardware' | 'software';
export const WEBGPU_ADAPTER_PREFERENCES: readonly WebgpuAdapterPreference[] = ['any', 'hardware', 'software'];

/**
 * oneDNN kernels under the wasm backend (@selfsup/native-cpu): `auto` = when the addon loads,
 * `on` = required (an error when it does not load), `off` = the wasm kernels only.
 */
export type NativeKernelsPreference = 'auto' | 'on' | 'off';
export const NATIVE_KERNELS_PREFERENCES: readonly NativeKernelsPreference[] = ['auto', 'on', 'off'];

/** The WebGPU adapter a webgpu backend runs on. */
export interface WebgpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Vulkan, Metal, D3D12, OpenGL ES, ... */
  backendType: string;
  /** A CPU rasteriser (llvmpipe, SwiftShader, WARP, ...) or a fallback adapter: never picked by `auto`. */
  software: boolean;
  fallback: boolean;
  featureLevel: 'core' | 'compatibility';
}

/** The backend the process runs on, as reported by `selectBackend`. */
export interface BackendInfo {
  /** tfjs backend name: 'tensorflow' | 'webgpu' | 'wasm' | 'cpu'. */
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
  /** The adapter, on webgpu. */
  adapter?: WebgpuAdapterInfo;
  /** On wasm with the oneDNN kernels (@selfsup/native-cpu): what runs them, e.g. "oneDNN 2.6.3 avx512_core_amx". */
  nativeKernels?: string;
}

export interface SelectBackendOptions {
  /** wasm compute threads; defaults to the number of cores (`os.cpus().length`). */
  threads?: number;
  /** Where the one status line (and warnings) go; defaults to `console.error`. */
  log?: (line: string) => void;
  /** Which adapter an explicit `webgpu` takes (default `any`); ignored by other preferences. */
  webgpuAdapter?: WebgpuAdapterPreference;
  /** oneDNN conv/matmul kernels under wasm (default `auto`: used when @selfsup/native-cpu loads). */
  nativeKernels?: NativeKernelsPreference;
}

/** One row of `availableBackends()`: could this backend be used in this process? */
export interface BackendAvailability {
  name: 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  /** npm package providing it. */
  package: string;
  available: boolean;
  /** Why not, and what to do about it. */
  reason?: string;
}
