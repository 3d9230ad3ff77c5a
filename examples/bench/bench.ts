// `npm run bench` — training-speed benchmark for selfsup on the current machine (not a test).
//   node examples/dist/bench/bench.js [--threads N] [--batch 128] [--steps 3] [--kernel-batch 32]
//        [--only kernels,train,byol] [--widths 64,32] [--inputs 32x32x3,28x28x1] [--profile]
//        [--compare-torch] [--json-only]
// Prints a table per section and, last, one JSON document with every figure.
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@selfsup/core';
import { benchKernels } from './kernels';
import { benchTrainStep, type TrainRow } from './train';
import { byolSection } from './byol';
import { torchAvailable, torchTrainStep, type TorchRow } from './torch';
import type { BenchRow } from './types';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

function table(rows: Record<string, unknown>[], cols: string[]): string {
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i])).join('  ');
  return [line(cols), ...rows.map((r) => line(cols.map((c) => fmt(r[c]))))].join('\n');
}

async function main(): Promise<void> {
  const threads = Number(arg('threads', String(os.cpus().length)));
  const batch = Number(arg('batch', '128'));
  const steps = Number(arg('steps', '3'));
  const kernelBatch = Number(arg('kernel-batch', '32'));
  const only = arg('only', 'kernels,train,byol').split(',');
  const widths = arg('widths', '64,32').split(',').map(Number);
  const inputs = arg('inputs', '32x32x3,28x28x1').split(',').map((s) => s.split('x').map(Number) as [number, number, number]);
  const quiet = flag('json-only');
  const say = (s: string) => {
    if (!quiet) console.log(s);
  };

  const info = await selectBackend('auto', { threads });
  const result: Record<string, unknown> = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() },
    backend: info,
    settings: { batch, steps, kernelBatch, widths, inputs },
    startTensors: tf.memory().numTensors,
    startRssMB: Math.round(process.memoryUsage().rss / 1e6),
  };

  if (only.includes('kernels')) {
    const rows = benchKernels(kernelBatch, 3);
    result.kernels = rows;
    say(`\nconv kernels, GFLOP/s (batch ${kernelBatch}, ${info.name}, ${info.threads} threads)`);
    say(table(rows as unknown as Record<string, unknown>[], ['layer', 'gflop', 'fwd', 'dx', 'dW']));
  }

  const train: TrainRow[] = [];
  const torch: TorchRow[] = [];
  const compareTorch = flag('compare-torch');
  if (compareTorch && !torchAvailable()) {
    say("\n--compare-torch: python3 cannot import torch; skipping (Debian: apt-get install python3-torch libopenblas0-pthread)");
  }
  if (only.includes('train')) {
    for (const input of inputs) {
      for (const width of widths) {
        const row = benchTrainStep({ width, input, batch, steps, profile: flag('profile') });
        train.push(row);
        say(`  ${row.name}: ${row.imgPerSec.toFixed(1)} img/s (steps ${row.stepSeconds.join(' ')} s)`);
        if (compareTorch && torchAvailable()) torch.push(torchTrainStep(info.threads, batch, width, input, steps));
      }
    }
    result.train = train;
    say(`\nsupervised training step (bare tfjs LayersModel, ${info.name}, ${info.threads} threads)`);
    say(table(train.map((r, i) => ({
      ...r,
      torchImgPerSec: torch[i]?.imgPerSec ?? '-',
      ratio: torch[i] ? r.imgPerSec / torch[i].imgPerSec : '-',
    })) as unknown as Record<string, unknown>[],
    ['name', 'imgPerSec', 'gflops', 'torchImgPerSec', 'ratio', 'tensorsBefore', 'tensorsAfter', 'rssMBBefore', 'rssMBAfter']));
    for (const r of train) {
      if (r.profile) {
        say(`\nkernel time per step, ${r.name}`);
        say(table(r.profile as unknown as Record<string, unknown>[], ['kernel', 'msPerStep', 'share', 'callsPerStep']));
      }
    }
    if (torch.length) result.torch = torch;
  }

  if (only.includes('byol')) {
    const rows: BenchRow[] = await byolSection({ threads: info.threads, batch, steps, log: say });
    result.byol = rows;
    if (rows.length) say(`\nBYOL step\n${table(rows as unknown as Record<string, unknown>[], ['name', 'imgPerSec'])}`);
    else say('\nBYOL step: not measured yet (examples/bench/byol.ts is a placeholder until ByolExperiment lands)');
  }

  result.endTensors = tf.memory().numTensors;
  result.endRssMB = Math.round(process.memoryUsage().rss / 1e6);
  console.log(JSON.stringify(result, null, quiet ? 0 : 2));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
