// BYOL training throughput through the real `ByolExperiment.fit` (target-init + ema
// callbacks), and the framework overhead against a bare tfjs loop doing the same math.
//
// The two loops run interleaved in one process — after each selfsup step an observer on
// `batchEnd` runs one bare step — so both see the same machine load (the CPU here is
// shared, and load drifts by more than the overhead we want to resolve). The selfsup step
// time is the wall time from the end of one bare step to the start of the next: the whole
// loop (iterator, hooks, trainStep, EMA, log bookkeeping), not only trainStep.
import * as tf from '@tensorflow/tfjs';
import { EmaUpdateCallback, TargetInitCallback } from '@selfsup/callbacks';
import { ByolExperiment } from '@selfsup/byol';
import { createBareByol } from './byol_bare';
import { BYOL_CONFIGS, type ByolBenchConfig } from './byol_configs';
import { installKernelProfiler } from './profiler';
import { resnet18Flops } from './resnet';
import type { BenchContext, BenchRow } from './types';

export interface ByolContext extends BenchContext {
  /** Names from BYOL_CONFIGS. */
  configs: string[];
  /** Also run the bare loop (doubles the time). */
  overhead: boolean;
  profile: boolean;
}

export interface ByolRow extends BenchRow {
  config: string;
  stepSeconds: number[];
  bareImgPerSec?: number;
  bareStepSeconds?: number[];
  /** (selfsup step − bare step) / bare step, from the medians; + means selfsup is slower. */
  overhead?: number;
  /** The same from process CPU time per step (all threads). */
  overheadCpu?: number;
  cpuSeconds: number[];
  /** Median process CPU seconds per step. */
  cpuSecPerStep: number;
  bareCpuSeconds?: number[];
  gflops: number;
  tensorsBefore: number;
  tensorsAfter: number;
  rssMBBefore: number;
  rssMBAfter: number;
  /**
   * Median seconds of the step's augmentations alone (both views of the batch, measured after
   * training). PyTorch's reference step (torch_byol.py) takes fixed views, augmenting in
   * DataLoader workers outside the step; `imgPerSecNoAugment` is our step without them.
   */
  augmentSeconds?: number;
  imgPerSecNoAugment?: number;
  /** Size of the wasm heap after the run: its high-water mark (the heap never shrinks); 4096 is the ceiling. */
  wasmHeapMB?: number;
  profile?: { kernel: string; msPerStep: number; share: number; callsPerStep: number }[];
}

const rssMB = () => Math.round(process.memoryUsage().rss / 1e6);
const wasmHeapMB = () => {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? Math.round(heap.length / 2 ** 20) : undefined;
};
/** The middle value (the upper one of an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Multiply-add FLOPs (×2) of one BYOL step: 2 views; target fwd (1×), online fwd+bwd (3×). */
export function byolStepFlops(cfg: ByolBenchConfig): number {
  const [size, , ch] = cfg.input;
  const enc = resnet18Flops(Math.round(64 * cfg.width), size, ch, 0);
  const d = Math.round(512 * cfg.width);
  const [hid, out] = cfg.heads;
  const proj = 2 * (d * hid + hid * out);
  const pred = 2 * (out * hid + hid * out);
  return cfg.batch * 2 * ((enc + proj) * 4 + pred * 3);
}

/**
 * The BYOL experiment a bench configuration describes (ResNet-18 with the CIFAR stem, seed 0),
 * with the target-init and EMA callbacks of a real run. Also timed by examples/gpu-check.
 */
export function byolBenchExperiment(cfg: ByolBenchConfig): ByolExperiment {
  const exp = new ByolExperiment({
    inputShape: cfg.input,
    batchSize: cfg.batch,
    seed: 0,
    model: { backbone: 'resnet18', stem: 'cifar', width: cfg.width, projectorHiddenDim: cfg.heads[0], projectorDim: cfg.heads[1], predictorHiddenDim: cfg.heads[0] },
    optimizer: { ...cfg.optimizer, scaleLr: true, microBatches: cfg.microBatches },
  });
  exp.addCallback(new TargetInitCallback(), new EmaUpdateCallback({ tauBase: 0.99, bnStats: 'ema' }));
  return exp;
}

/** The one batch every timed step trains on (seeded). */
export function byolBenchBatch(cfg: ByolBenchConfig): tf.Tensor4D {
  return tf.randomUniform([cfg.batch, ...cfg.input], 0, 1, 'float32', 7) as tf.Tensor4D;
}

async function benchOne(cfg: ByolBenchConfig, key: string, ctx: ByolContext): Promise<ByolRow> {
  const { steps } = ctx;
  const exp = byolBenchExperiment(cfg);
  // the bare loop does not split batches: no overhead figure for micro-batched rows
  const bare = ctx.overhead && !cfg.microBatches ? await createBareByol(cfg) : undefined;
  const images = byolBenchBatch(cfg);
  const total = steps + 1; // step 0 warms up kernels, optimizer slots and the bare loop
  const prof = ctx.profile ? installKernelProfiler() : undefined;
  prof?.pause();

  const sel: number[] = [];
  const bareTimes: number[] = [];
  const selCpu: number[] = [];
  const bareCpu: number[] = [];
  // process CPU seconds (all threads): less sensitive than wall time to other processes' load
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  let tBareEnd = 0;
  let cBareEnd = 0;
  let tensorsBefore = 0;
  let rssMBBefore = 0;
  let tensorsAfter = 0;
  let rssMBAfter = 0;
  exp.events.on('batchEnd', ({ step }) => {
    const tA = performance.now();
    const cA = cpuNow();
    if (step > 1) {
      sel.push((tA - tBareEnd) / 1000);
      selCpu.push(cA - cBareEnd);
    }
    prof?.pause();
    ctx.log(`    ${key} step ${step}/${total}${step > 1 ? `: ${sel[sel.length - 1].toFixed(2)} s` : ' (warm-up)'}`);
    if (bare) {
      const t0 = performance.now();
      const c0 = cpuNow();
      bare.step(images, 0.99);
      if (step > 1) {
        bareTimes.push((performance.now() - t0) / 1000);
        bareCpu.push(cpuNow() - c0);
      }
    }
    // counted at the same point of every step, with both loops' state alive
    if (step === 1) {
      tensorsBefore = tf.memory().numTensors;
      rssMBBefore = rssMB();
    }
    if (step === total) {
      tensorsAfter = tf.memory().numTensors;
      rssMBAfter = rssMB();
    }
    if (step < total) prof?.resume();
    tBareEnd = performance.now();
    cBareEnd = cpuNow();
  });
  try {
    await exp.fit([images], { epochs: total, stepsPerEpoch: 1, logEvery: 0 });
  } catch (err) {
    prof?.uninstall();
    bare?.dispose();
    images.dispose();
    exp.dispose();
    throw err;
  }
  const profile = prof?.rows(steps).slice(0, 25);
  prof?.uninstall();
  const augment: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    tf.tidy(() => exp.views(images)).dispose(); // wasm ops run synchronously
    augment.push((performance.now() - t0) / 1000);
  }

  const med = median(sel);
  const row: ByolRow = {
    name: cfg.name,
    config: key,
    imgPerSec: cfg.batch / med,
    stepSeconds: sel.map((t) => Number(t.toFixed(3))),
    cpuSeconds: selCpu.map((t) => Number(t.toFixed(3))),
    cpuSecPerStep: median(selCpu),
    gflops: byolStepFlops(cfg) / med / 1e9,
    tensorsBefore,
    tensorsAfter,
    rssMBBefore,
    rssMBAfter,
    augmentSeconds: median(augment),
    imgPerSecNoAugment: cfg.batch / (med - median(augment)),
    wasmHeapMB: wasmHeapMB(),
    profile,
  };
  if (bare) {
    const bmed = median(bareTimes);
    row.bareImgPerSec = cfg.batch / bmed;
    row.bareStepSeconds = bareTimes.map((t) => Number(t.toFixed(3)));
    row.overhead = (med - bmed) / bmed;
    row.bareCpuSeconds = bareCpu.map((t) => Number(t.toFixed(3)));
    row.overheadCpu = (median(selCpu) - median(bareCpu)) / median(bareCpu);
    bare.dispose();
  }
  images.dispose();
  exp.dispose();
  return row;
}

export async function byolSection(ctx: ByolContext): Promise<ByolRow[]> {
  const rows: ByolRow[] = [];
  for (const key of ctx.configs) {
    const make = BYOL_CONFIGS[key];
    if (!make) throw new Error(`--byol: unknown configuration "${key}"; known: ${Object.keys(BYOL_CONFIGS).join(', ')}`);
    const cfg = make(ctx.batch);
    ctx.log(`  BYOL ${cfg.name}: ${ctx.steps} steps after a warm-up${ctx.overhead ? ', interleaved with the bare loop' : ''}`);
    try {
      rows.push(await benchOne(cfg, key, ctx));
    } catch (err) {
      // typically the 4 GB wasm heap ("XNN status 6", "out of memory"): report it, go on
      const error = err instanceof Error ? err.message.split('\n')[0] : String(err);
      ctx.log(`    ${key} failed: ${error}`);
      rows.push({ name: cfg.name, config: key, imgPerSec: NaN, error } as unknown as ByolRow);
    }
  }
  return rows;
}
