/**
 * For the tests of the oneDNN kernels (test/native-cpu*.test.ts): the addon, or why these
 * tests skip. They skip only where the addon cannot be built (no compiler, no libdnnl-dev):
 * where it can, an addon that is missing or does not load is a failure, not a skip.
 */
import * as path from 'node:path';
import { defaultNativeCpuLoader, selectBackend, type NativeCpuAddon, type NativeCpuLoad } from '@selfsup/core';

const buildScript = path.resolve(__dirname, '..', '..', 'packages', 'native-cpu', 'build.cjs');

export interface NativeCpuForTests {
  load: NativeCpuLoad;
  /** Set when the tests should skip: the addon cannot be built on this machine. */
  skipReason?: string;
}

export function nativeCpuForTests(): NativeCpuForTests {
  const load = defaultNativeCpuLoader();
  if (load.ok) return { load };
  const pre = (require(buildScript) as { prerequisites(): { missing?: string } }).prerequisites();
  if (pre.missing) {
    const skipReason = `@selfsup/native-cpu cannot be built here (${pre.missing}): its tests skip`;
    console.log(skipReason);
    return { load, skipReason };
  }
  // buildable but not loadable: let the tests run and fail on it
  return { load };
}

/**
 * The wasm backend with the native kernels on, their loops on 2 threads so that the larger
 * shapes exercise the threaded paths too. Fails (not skips) when the addon can be built but
 * does not load.
 */
export async function selectNativeWasm(native: NativeCpuForTests): Promise<void> {
  if (!native.load.ok) throw new Error(`@selfsup/native-cpu can be built here but does not load: ${native.load.reason}`);
  await selectBackend('wasm', { threads: 1, nativeKernels: 'on', log: () => undefined });
  (native.load.addon as NativeCpuAddon).setThreads(2);
}
