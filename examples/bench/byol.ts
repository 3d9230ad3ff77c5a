// Hook for the BYOL-step benchmark (issue 3: "BYOL training images/s for the default
// config ... framework overhead = selfsup BYOL step vs a bare tfjs loop doing the same
// math"). It is filled in once @selfsup/byol's ByolExperiment exists: return one row per
// configuration measured; bench.ts prints and records whatever this returns.
import type { BenchContext, BenchRow } from './types';

export async function byolSection(_ctx: BenchContext): Promise<BenchRow[]> {
  return [];
}
