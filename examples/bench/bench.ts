// `npm run bench` — training-speed benchmark for selfsup on the current machine (not a test).
//   node examples/dist/bench/bench.js [--threads N] [--batch 128] [--steps 3] [--kernel-batch 32]
//        [--only kernels,ceiling,train,byol] [--byol main,r18-w0.5,r18-w0.5-gray,r18-w1,r18-w1-gray] [--no-overhead]
//        [--widths 64,32] [--inputs 32x32x3,28x28x1] [--profile] [--compare-torch] [--json-only]
//        [--baseline]   (stock matmul kernels and tf.layers batch-norm gradient, for A/B runs)
//        [--stock FusedBatchNorm,Pow,GatherV2]   (put back these stock wasm kernels, for A/B runs)
//        [--native-kernels on|off|both]   (oneDNN kernels of @selfsup/native-cpu under wasm; default
//                                          both where the addon loads: every section once per kernel set)
//        [--native-extras on|off|both|off,on|no-relu-pad,on]   (with the native kernels, also batch norm,
//                                          the LARS/EMA updates, ReLU and padding on the addon's loops; both: the
//                                          native set twice, `native` then `native-conv-only`, the set before those
//                                          kernels; no-relu-pad: `native-no-relu-pad`, all but ReLU and PadV2)
//        [--native-optimizer off]   (the native sets without the LARS/EMA kernels, for attribution)
// Default (about a minute on 2 cores): conv kernels, the GEMM/conv ceiling, and the BYOL
// main-job step with its framework overhead. `--only byol` runs just the BYOL part;
// `--byol r18-w0.5,r18-w0.5-gray,r18-w1,r18-w1-gray` adds the ResNet-18 configurations (20+ s per step at
// width 1, in 4 micro-batches); `--only train` runs the supervised step; `--compare-torch`
// adds PyTorch's figures for the ceiling and BYOL rows. Prints a table per section and, last, one JSON document with every figure.
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { defaultNativeCpuLoader, selectBackend, setOneDnnKernels, type BackendInfo } from '@selfsup/core';
import { benchKernels } from './kernels';
import { benchCeiling } from './ceiling';
import { benchTrainStep, type TrainRow } from './train';
import { byolSection } from './byol';
import { useBaselineKernels, useStockKernels } from './baseline';
import { torchAvailable, torchByolStep, torchTrainStep, type TorchRow } from './torch';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const VALUE_FLAGS = ['threads', 'batch', 'steps', 'kernel-batch', 'only', 'byol', 'widths', 'inputs', 'stock', 'native-kernels', 'native-extras', 'native-optimizer'];
const BARE_FLAGS = ['no-overhead', 'profile', 'compare-torch', 'json-only', 'baseline'];
const USAGE = `usage: node examples/dist/bench/bench.js [--only kernels,ceiling,train,byol] [--byol main,r18-w0.5,r18-w0.5-gray,r18-w1,r18-w1-gray]
         [--compare-torch] [--native-kernels on|off|both] [--native-extras on|off|both|off,on|no-relu-pad,on] [--native-optimizer off]
         [--threads N] [--batch 128] [--steps 3] [--kernel-batch 32] [--widths 64,32] [--inputs 32x32x3,28x28x1]
         [--profile] [--no-overhead] [--json-only] [--baseline] [--stock FusedBatchNorm,Pow,GatherV2]
(the options are described at the top of examples/bench/bench.ts)`;

/** --help prints the usage; an unknown flag, or one missing its value, is refused (exit 2) before anything runs. */
function checkFlags(argv: readonly string[]): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (name !== undefined && VALUE_FLAGS.includes(name)) {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) {
        console.error(`bench: --${name} needs a value\n${USAGE}`);
        process.exit(2);
      }
      i++;
    } else if (name === undefined || !BARE_FLAGS.includes(name)) {
      console.error(`bench: unknown argument ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
}

const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function table(rows: Record<string, unknown>[], cols: string[]): string {
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i])).join('  ');
  return [line(cols), ...rows.map((r) => line(cols.map((c) => fmt(r[c]))))].join('\n');
}

async function main(): Promise<void> {
  checkFlags(process.argv.slice(2));
  const threads = Number(arg('threads', String(os.cpus().length)));
  const batch = Number(arg('batch', '128'));
  const steps = Number(arg('steps', '3'));
  const kernelBatch = Number(arg('kernel-batch', '32'));
  const only = arg('only', 'kernels,ceiling,byol').split(',');
  const byolConfigs = arg('byol', 'main').split(',');
  const widths = arg('widths', '64,32').split(',').map(Number);
  const inputs = arg('inputs', '32x32x3,28x28x1').split(',').map((s) => s.split('x').map(Number) as [number, number, number]);
  const quiet = flag('json-only');
  const say = (s: string) => {
    if (!quiet) console.log(s);
  };

  // The kernel sets to measure: oneDNN's (@selfsup/native-cpu) and/or the wasm ones.
  const nativeArg = arg('native-kernels', 'both');
  if (!['on', 'off', 'both'].includes(nativeArg)) throw new Error(`--native-kernels must be on, off or both, got "${nativeArg}"`);
  const addon = defaultNativeCpuLoader();
  const extrasArg = arg('native-extras', 'on');
  const extrasList = (extrasArg === 'both' ? 'on,off' : extrasArg).split(',');
  if (!extrasList.every((v) => v === 'on' || v === 'off' || v === 'no-relu-pad') || new Set(extrasList).size !== extrasList.length) {
    throw new Error(`--native-extras must be a list of on, no-relu-pad and off (or both = on,off), got "${extrasArg}"`);
  }
  const nativeOptimizer = arg('native-optimizer', 'on') !== 'off';
  type KernelSet = 'on' | 'on-no-relu-pad' | 'on-conv-only' | 'off';
  // the native set with and/or without its batch-norm, optimizer, ReLU and pad kernels, in that order
  const nativeSets: KernelSet[] = extrasList.map((v) => (v === 'on' ? 'on' : v === 'no-relu-pad' ? 'on-no-relu-pad' : 'on-conv-only'));
  let sets: KernelSet[] = nativeArg === 'both' ? [...nativeSets, 'off'] : nativeArg === 'on' ? nativeSets : ['off'];
  if (nativeArg === 'both' && !addon.ok) {
    say(`--native-kernels both: ${addon.reason}; measuring the wasm kernels only`);
    sets = ['off'];
  }
  let baseline: string[] = [];
  const setLabel = new Map<BackendInfo, string>();
  /** Selects the backend with this kernel set (then the --baseline / --stock kernels, which a re-selection undoes). */
  const use = async (set: KernelSet): Promise<BackendInfo> => {
    const selected = await selectBackend('auto', { threads, nativeKernels: set === 'off' ? 'off' : 'on', log: say });
    // (selectBackend keeps a selection that did not change: the extras are applied here each time)
    const extras = set === 'on' || set === 'on-no-relu-pad';
    if (set !== 'off' && addon.ok) setOneDnnKernels(addon.addon, { batchNorm: extras, optimizer: extras && nativeOptimizer, elementwise: set === 'on' });
    setLabel.set(selected, set === 'on-conv-only' ? 'native-conv-only' : set === 'on-no-relu-pad' ? 'native-no-relu-pad' : selected.nativeKernels ? 'native' : selected.name);
    baseline = flag('baseline') ? useBaselineKernels() : [];
    const stockNames = arg('stock', '');
    if (stockNames) baseline.push(...useStockKernels(stockNames.split(',')));
    return selected;
  };
  const info = await use(sets[0]);
  if (info.name !== 'wasm') sets = sets.slice(0, 1);
  const label = (i: BackendInfo) => setLabel.get(i) ?? (i.nativeKernels ? 'native' : i.name);
  /** Runs `fn` once per kernel set (the first one is selected already). */
  const perSet = async <T>(fn: (i: BackendInfo, set: string) => Promise<T> | T): Promise<T[]> => {
    const out: T[] = [];
    for (const [k, set] of sets.entries()) {
      const i = k === 0 ? info : await use(set);
      out.push(await fn(i, label(i)));
    }
    if (sets.length > 1) await use(sets[0]);
    return out;
  };
  if (baseline.length) say(`--baseline: stock ${baseline.join(', ')}`);
  const result: Record<string, unknown> = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() },
    backend: info,
    settings: { batch, steps, kernelBatch, widths, inputs, byol: byolConfigs, baseline, kernelSets: sets },
    startTensors: tf.memory().numTensors,
    startRssMB: Math.round(process.memoryUsage().rss / 1e6),
  };

  if (only.includes('kernels')) {
    const rows = (await perSet((_, kernels) => benchKernels(kernelBatch, 3).map((r) => ({ kernels, ...r })))).flat();
    result.kernels = rows;
    say(`\nconv kernels, GFLOP/s (batch ${kernelBatch}, ${info.name}, ${info.threads} threads)`);
    say(table(rows as unknown as Record<string, unknown>[], ['kernels', 'layer', 'gflop', 'fwd', 'dx', 'dW']));
  }

  if (only.includes('ceiling')) {
    // PyTorch's figures once (the first set's call), copied to the other set's rows
    const bySet = await perSet((_, kernels) => benchCeiling(info.threads, 5, flag('compare-torch') && kernels === label(info)).map((r) => ({ kernels, ...r })));
    for (const rows of bySet.slice(1)) {
      for (const r of rows) {
        const t = bySet[0].find((x) => x.name === r.name)?.torchGflops;
        if (t) Object.assign(r, { torchGflops: t, ratio: r.gflops / t });
      }
    }
    const rows = bySet.flat();
    result.ceiling = rows;
    say(`\nceiling: GEMM and forward 3×3 conv, GFLOP/s (${info.name}, ${info.threads} threads; PyTorch with --compare-torch)`);
    say(table(rows.map((r) => ({ ...r, torchGflops: r.torchGflops ?? '-', ratio: r.ratio ?? '-' })) as unknown as Record<string, unknown>[],
      ['kernels', 'name', 'gflops', 'torchGflops', 'ratio']));
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
    // each configuration on each kernel set, next to each other
    const rows = [];
    for (const config of byolConfigs) {
      rows.push(...(await perSet(async (_, kernels) => (await byolSection({
        threads: info.threads, batch, steps, log: say, configs: [config], overhead: !flag('no-overhead'), profile: flag('profile'),
      })).map((r) => ({ ...r, kernels })))).flat());
    }
    const torchRows: (TorchRow | undefined)[] = [];
    if (compareTorch && torchAvailable()) {
      const byConfig = new Map<string, TorchRow>();
      for (const r of rows) {
        if (!byConfig.has(r.config)) {
          say(`  PyTorch: ${r.name}`);
          byConfig.set(r.config, torchByolStep(info.threads, r.config, batch, steps));
        }
        torchRows.push(byConfig.get(r.config));
      }
      result.torchByol = [...byConfig.values()];
    }
    result.byol = rows;
    say(`\nBYOL step through ByolExperiment.fit (${info.name}, ${info.threads} threads; overhead = selfsup vs bare tfjs loop, interleaved)`);
    say(table(rows.map((r, i) => ({
      ...r,
      bareImgPerSec: r.bareImgPerSec ?? '-',
      overheadPct: r.overhead === undefined ? '-' : `${(100 * r.overhead).toFixed(1)}%`,
      overheadCpuPct: r.overheadCpu === undefined ? '-' : `${(100 * r.overheadCpu).toFixed(1)}%`,
      torchImgPerSec: torchRows[i]?.imgPerSec ?? '-',
      ratio: torchRows[i] ? r.imgPerSec / torchRows[i]!.imgPerSec : '-',
      // the same work as PyTorch's reference step, whose views are made outside the step
      ratioNoAug: torchRows[i] && r.imgPerSecNoAugment ? r.imgPerSecNoAugment / torchRows[i]!.imgPerSec : '-',
      // the same ratio from CPU time per step, which other processes' load disturbs less
      cpuRatio: torchRows[i]?.cpuSeconds ? medianOf(torchRows[i]!.cpuSeconds!) / r.cpuSecPerStep : '-',
    })) as unknown as Record<string, unknown>[],
    ['kernels', 'name', 'imgPerSec', 'cpuSecPerStep', 'gflops', 'bareImgPerSec', 'overheadPct', 'overheadCpuPct', 'augmentSeconds', 'torchImgPerSec', 'ratio', 'ratioNoAug', 'cpuRatio', 'tensorsBefore', 'tensorsAfter', 'rssMBBefore', 'rssMBAfter', 'wasmHeapMB']));
    for (const r of rows) {
      if (r.profile) {
        say(`\nkernel time per BYOL step, ${r.name} (${r.kernels} kernels)`);
        say(table(r.profile as unknown as Record<string, unknown>[], ['kernel', 'msPerStep', 'share', 'callsPerStep']));
      }
    }
  }

  result.endTensors = tf.memory().numTensors;
  result.endRssMB = Math.round(process.memoryUsage().rss / 1e6);
  console.log(JSON.stringify(result, null, quiet ? 0 : 2));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
