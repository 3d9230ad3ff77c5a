import { Rng } from '../util/rng';
import type { BatchOptions } from './types';

/** Checks BatchOptions and returns them with defaults filled in. */
export function resolveBatchOptions(opts: BatchOptions, datasetName: string): Required<BatchOptions> {
  const where = `batch options for dataset "${datasetName}"`;
  const intAtLeast = (key: keyof BatchOptions, v: unknown, min: number): void => {
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min)) {
      throw new Error(`${where}: ${key} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    }
  };
  if (opts === null || typeof opts !== 'object') throw new Error(`${where}: expected an object with batchSize, got ${JSON.stringify(opts)}`);
  if (opts.batchSize === undefined) throw new Error(`${where}: batchSize is required`);
  intAtLeast('batchSize', opts.batchSize, 1);
  intAtLeast('seed', opts.seed, 0);
  intAtLeast('epoch', opts.epoch, 0);
  intAtLeast('skipBatches', opts.skipBatches, 0);
  intAtLeast('limit', opts.limit, 1);
  return {
    batchSize: opts.batchSize,
    shuffle: opts.shuffle ?? false,
    seed: opts.seed ?? 0,
    epoch: opts.epoch ?? 0,
    skipBatches: opts.skipBatches ?? 0,
    dropRemainder: opts.dropRemainder ?? false,
    limit: opts.limit ?? Number.MAX_SAFE_INTEGER,
  };
}

/** Batches in one full epoch (skipBatches not subtracted). */
export function countBatches(size: number, opts: Required<BatchOptions>): number {
  const n = Math.min(size, opts.limit);
  return opts.dropRemainder ? Math.floor(n / opts.batchSize) : Math.ceil(n / opts.batchSize);
}

/**
 * A 32-bit seed for one epoch's shuffle. Mixing (seed, epoch) through a hash rather than
 * drawing epochs from one stream makes epoch E's order computable without replaying 0..E-1,
 * which is what a resumed run needs.
 */
export function epochSeed(seed: number, epoch: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (epoch >>> 0) ^ (h >>> 15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Dataset indices of every batch of one epoch, after skipBatches. */
export function epochBatches(size: number, opts: Required<BatchOptions>): Int32Array[] {
  const n = Math.min(size, opts.limit);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (opts.shuffle) new Rng(epochSeed(opts.seed, opts.epoch)).shuffle(order);
  const total = countBatches(size, opts);
  const out: Int32Array[] = [];
  for (let b = opts.skipBatches; b < total; b++) {
    out.push(order.subarray(b * opts.batchSize, Math.min(n, (b + 1) * opts.batchSize)));
  }
  return out;
}
