/**
 * For the tests of the oneDNN kernels (test/native-cpu*.test.ts): the addon, or why these
 * tests skip. They skip only where the addon cannot be built (no compiler, no libdnnl-dev):
 * where it can, an addon that is missing or does not load is a failure, not a skip.
 */
import * as path from 'node:path';
import { defaultNativeCpuLoader, type NativeCpuLoad } from '@selfsup/core';

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
