// Node-only: loads @selfsup/native-cpu, the optional oneDNN addon whose kernels run under the
// wasm backend (kernels/onednn.ts). Resolved lazily, like the tfjs-node bindings in native.ts,
// so that importing @selfsup/core never touches it.
import type { OneDnnOps } from './kernels/onednn';

export const NATIVE_CPU_PACKAGE = '@selfsup/native-cpu';

/** What the addon says about itself (`info()`). */
export interface NativeCpuInfo {
  dnnlVersion: string;
  cpuRuntime: string;
  /** The instruction set oneDNN runs on here, e.g. avx512_core_amx. */
  isa: string;
  threads: number;
  cachedPrimitives: number;
}

export interface NativeCpuAddon extends OneDnnOps {
  info(): NativeCpuInfo;
  implInfo(kind: 0 | 1 | 2 | 3, params: Int32Array, alpha?: number): string;
  clearCache(): void;
}

export type NativeCpuLoad =
  | { ok: true; addon: NativeCpuAddon; path: string; info: NativeCpuInfo }
  | { ok: false; reason: string };

export type NativeCpuLoader = () => NativeCpuLoad;

export const defaultNativeCpuLoader: NativeCpuLoader = () => {
  let pkg: { load(): NativeCpuLoad & { path?: string } };
  try {
    pkg = require(NATIVE_CPU_PACKAGE);
  } catch {
    return { ok: false, reason: `${NATIVE_CPU_PACKAGE} is not installed (it builds at install with g++ and libdnnl-dev)` };
  }
  const r = pkg.load();
  return r.ok ? r : { ok: false, reason: r.reason };
};

/** "oneDNN 2.6.3 avx512_core_amx" */
export function nativeCpuLabel(info: NativeCpuInfo): string {
  return `oneDNN ${info.dnnlVersion} ${info.isa}`;
}

/** Lines for `selfsup info`. */
export function describeNativeCpu(loader: NativeCpuLoader = defaultNativeCpuLoader): string[] {
  const r = loader();
  if (!r.ok) return [`native kernels (${NATIVE_CPU_PACKAGE}): unavailable: ${r.reason}`];
  const i = r.info;
  return [
    `native kernels (${NATIVE_CPU_PACKAGE}): available: oneDNN ${i.dnnlVersion}, ISA ${i.isa}, ${i.cpuRuntime} runtime`,
    `  addon ${r.path}`,
  ];
}
