// BYOL img/s through the real ByolExperiment.fit (target-init + EMA callbacks, LARS), bounded
// by time: one warm-up step (kernels compiled, optimizer slots made), then steps until the
// row's seconds are used up — at least one. Every step ends with its loss read back (fit's
// logEvery 1), so on webgpu the GPU's work is inside the time, not queued behind it.
import * as tf from '@tensorflow/tfjs';
import { byolBenchBatch, byolBenchExperiment, byolStepFlops, median } from '../bench/byol';
import type { ByolBenchConfig } from '../bench/byol_configs';

export interface ThroughputRow {
  /** Which configuration: `main` (examples/configs/byol-fashion-mnist.yaml) or `r18-w1` (ResNet-18 width 1, 32×32×3). */
  config: string;
  name: string;
  backend: 'webgpu' | 'wasm';
  batch: number;
  /** The batch in this many parts (wasm: a bounded 4 GB heap); absent when whole. */
  microBatches?: number;
  /** Median over the measured steps. */
  imgPerSec?: number;
  /** Multiply-add FLOPs ×2 per second (bench's byolStepFlops), at the median step. */
  gflops?: number;
  warmupSeconds?: number;
  stepSeconds?: number[];
  /** Measured steps (after the warm-up). */
  steps?: number;
  /** Why the measurement ended: the row's seconds were used up, the run's time ran out, or the one step --quick asks for. */
  stoppedBy?: 'seconds' | 'deadline' | 'one step';
  /**
   * Set when the run's time ran out before a step after the warm-up could start: img/s then
   * comes from the warm-up step (kernel compilation and allocation included, so it understates).
   */
  fromWarmup?: true;
  /** webgpu: whether selfsup's direct programs (webgpu-direct-conv.ts: convolutions, channel sums) ran. */
  directPrograms?: boolean;
  /** webgpu: the most bytes tfjs held in GPU buffers at a step's end (tf.memory().numBytesInGPU). */
  gpuBytesInUseMax?: number;
  /** webgpu: tfjs's GPU buffer pool after the row (numBytesAllocatedInGPU; pooled buffers are kept, so this includes earlier rows). */
  gpuBytesAllocated?: number;
  /** Set when the row did not run, and why. */
  skipped?: string;
  /** Set when it failed. */
  error?: string;
}

export interface MeasureOptions {
  /** Measured seconds after the warm-up (at least one step runs); 0: exactly one step. */
  seconds: number;
  /** performance.now() after which no further step starts (one step at least still runs). */
  deadline: number;
  log: (line: string) => void;
}

interface WebgpuMemory {
  numBytesInGPU?: number;
  numBytesAllocatedInGPU?: number;
}

/** One throughput row on the backend tfjs is on now. */
export async function measureByol(key: string, backend: 'webgpu' | 'wasm', cfg: ByolBenchConfig, opts: MeasureOptions): Promise<ThroughputRow> {
  const row: ThroughputRow = { config: key, name: cfg.name, backend, batch: cfg.batch, ...(cfg.microBatches ? { microBatches: cfg.microBatches } : {}) };
  if (tf.getBackend() !== backend) throw new Error(`measureByol: tfjs is on ${tf.getBackend()}, not ${backend}`);
  // the bench's experiment and batch (examples/bench/byol.ts), timed here by wall clock and deadline
  const exp = byolBenchExperiment(cfg);
  const images = byolBenchBatch(cfg);
  const steps: number[] = [];
  let t0 = 0;
  let last = 0;
  let inUse = 0;
  exp.events.on('batchStart', ({ step }) => {
    if (step === 0) t0 = performance.now();
  });
  exp.events.on('log', ({ step }) => {
    const now = performance.now();
    if (step === 1) {
      row.warmupSeconds = Number(((now - t0) / 1000).toFixed(3));
      opts.log(`    ${backend} ${key}: warm-up step ${row.warmupSeconds} s`);
    } else {
      steps.push((now - last) / 1000);
      opts.log(`    ${backend} ${key}: step ${step}: ${steps[steps.length - 1].toFixed(3)} s`);
    }
    last = now;
    if (backend === 'webgpu') inUse = Math.max(inUse, (tf.memory() as WebgpuMemory).numBytesInGPU ?? 0);
    if (step === 1 && now + (now - t0) > opts.deadline) {
      // another step as long as the warm-up would overrun the run's time: stop here
      row.stoppedBy = 'deadline';
      row.fromWarmup = true;
      exp.stop('gpu-check: deadline');
    }
    if (step < 2) return;
    const measured = steps.reduce((a, b) => a + b, 0);
    const stepTime = steps[steps.length - 1] * 1000;
    if (opts.seconds === 0) row.stoppedBy = 'one step';
    else if (measured >= opts.seconds) row.stoppedBy = 'seconds';
    else if (now + stepTime > opts.deadline) row.stoppedBy = 'deadline';
    if (row.stoppedBy) exp.stop(`gpu-check: ${row.stoppedBy}`);
  });
  try {
    // one array of the same batch: re-iterated, never disposed by the loop
    const cap = 100_000;
    await exp.fit(Array.from({ length: cap }, () => images), { epochs: 1, stepsPerEpoch: cap, logEvery: 1 });
  } finally {
    exp.dispose();
    images.dispose();
  }
  const med = steps.length ? median(steps) : (row.warmupSeconds ?? NaN);
  row.imgPerSec = Number((cfg.batch / med).toFixed(2));
  row.gflops = Number((byolStepFlops(cfg) / med / 1e9).toFixed(2));
  row.stepSeconds = steps.map((t) => Number(t.toFixed(3)));
  row.steps = steps.length;
  if (backend === 'webgpu') {
    row.gpuBytesInUseMax = inUse;
    row.gpuBytesAllocated = (tf.memory() as WebgpuMemory).numBytesAllocatedInGPU;
  }
  return row;
}

/** How much more efficiently per FLOP a larger model may run than the main job's (leastSeconds). */
export const LEAST_ALLOWANCE = 4;

/**
 * Before a row runs: how long its warm-up and one measured step would take at least, from the
 * GFLOP/s an earlier row reached on the same backend, allowing the larger model to run
 * `allowance` times as efficiently per FLOP (small models leave a GPU, and wasm's GEMMs, idle
 * much of the time). Only a row that cannot fit even so is skipped.
 */
/**
 * Bytes of the largest tensor a BYOL step of `cfg` makes, about: the first stage's activations
 * for both views, padded by one pixel each side (a 3×3 conv's input), float32. WebGPU binds a
 * tensor as one storage buffer, and a device refuses bindings over its
 * maxStorageBufferBindingSize (128 MiB on llvmpipe; the validation error drops the work, silently).
 */
export function largestTensorBytes(cfg: ByolBenchConfig): number {
  const [h, w] = cfg.input;
  const images = (2 * cfg.batch) / (cfg.microBatches ?? 1);
  const channels = Math.round(64 * cfg.width);
  return images * (h + 2) * (w + 2) * channels * 4;
}

export function leastSeconds(cfg: ByolBenchConfig, gflopsSeen: number, allowance = LEAST_ALLOWANCE): number {
  return (2 * byolStepFlops(cfg)) / (gflopsSeen * allowance * 1e9);
}
