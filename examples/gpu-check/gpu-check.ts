// `npm run gpu-check` — for a machine with a GPU (issue 11, item 4). Prints one JSON document
// on stdout (progress on stderr): the WebGPU adapter, the webgpu-vs-cpu parity checks on it
// (examples/gpu-check/parity.ts, the same checks as test/webgpu-parity.test.ts), BYOL img/s
// for the main job (examples/configs/byol-fashion-mnist.yaml: ResNet-18 cifar stem, width
// 0.125, 28×28×1, batch 128) and for ResNet-18 width 1 at 32×32×3, batch 256, each next to
// wasm on the same machine, and the GPU memory high-water.
//
//   node examples/dist/gpu-check/gpu-check.js [--adapter any|hardware|software] [--seconds 20]
//        [--quick] [--threads N] [--max-seconds 540]
//   node examples/dist/gpu-check/gpu-check.js --pack DIR [--target linux-x64|...]
//
// --adapter any (the default) takes a GPU, else a software adapter, and then says so in the
// JSON (adapter.software, warning) and on stderr; --adapter hardware fails without a GPU. It
// never falls back to another backend: no adapter, a failed parity check or a failed
// measurement is exit code 1 (after the JSON); a bad argument is one line and exit code 2.
// Time: each throughput row is one warm-up step, then steps for --seconds (at least one, unless
// that one would overrun --max-seconds: img/s then comes from the warm-up, flagged fromWarmup);
// a row that cannot fit in what is left of --max-seconds (estimated from the main job's
// GFLOP/s on the same backend) is skipped, saying so. --quick: batch 8, one measured step,
// --max-seconds 60 (a smoke test: on a software adapter it skips ResNet-18 width 1 on webgpu).
// --pack DIR writes a self-contained folder (pack.ts) that runs with `node DIR/gpu-check.js`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { adapterLabel, selectBackend, setWebgpuDirectConv, webgpuDirectConvActive, type BackendInfo } from '@selfsup/core';
import { BYOL_CONFIGS, type ByolBenchConfig } from '../bench/byol_configs';
import { ArgError, parseArgs, USAGE, type GpuCheckArgs } from './args';
import { currentTarget, PACK_MANIFEST, packGpuCheck, WASM_THREAD_SCRIPT, type PackManifest } from './pack';
import { PARITY_TOLERANCE, runParityChecks, withGpuErrors, type ParityRow } from './parity';
import { largestTensorBytes, LEAST_ALLOWANCE, leastSeconds, measureByol, type ThroughputRow } from './throughput';

const say = (line: string) => process.stderr.write(`${line}\n`);

/** Writes the JSON, then exits with `code` (stdout flushed first: it may be a pipe). */
function finish(result: unknown, code: number): void {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`, () => process.exit(code));
}

/**
 * In a folder from --pack: the folder, after pointing selfsup at the dawn.node and the wasm
 * files beside the bundle. In the repository: null (node_modules has them).
 */
function usePackedFiles(): { dir: string; manifest: PackManifest | null } | null {
  const dir = __dirname;
  if (!fs.existsSync(path.join(dir, 'dawn.node'))) return null;
  process.env.SELFSUP_DAWN_NODE ??= path.join(dir, 'dawn.node');
  if (fs.existsSync(path.join(dir, WASM_THREAD_SCRIPT))) process.env.SELFSUP_TFJS_WASM_DIR ??= dir;
  let manifest: PackManifest | null = null;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, PACK_MANIFEST), 'utf8')) as PackManifest;
  } catch {
    // an older or hand-made folder: no manifest
  }
  return { dir, manifest };
}

interface Row {
  key: string;
  backend: 'webgpu' | 'wasm';
  cfg: ByolBenchConfig;
  /** Forces selfsup's direct programs on (a GPU's own row with them). */
  direct?: boolean;
}

function rows(args: GpuCheckArgs): Row[] {
  const mainBatch = args.quick ? 8 : 128;
  const bigBatch = args.quick ? 8 : 256;
  const main = BYOL_CONFIGS.main(mainBatch);
  const big = BYOL_CONFIGS['r18-w1'](bigBatch);
  const name = (b: number) => `r18 w1 32×32×3 b${b} heads 4096/256`;
  // wasm has a 4 GB heap: ResNet-18 width 1 in micro-batches of 32 (bench's r18-w1 at batch 128 takes 4)
  const parts = bigBatch > 32 ? bigBatch / 32 : undefined;
  const bigWasm: ByolBenchConfig = { ...big, name: `${name(bigBatch)}${parts ? ` (${parts} micro-batches)` : ''}`, microBatches: parts };
  const bigGpu: ByolBenchConfig = { ...big, name: name(bigBatch), microBatches: undefined };
  return [
    { key: 'main', backend: 'webgpu', cfg: main },
    { key: 'main', backend: 'wasm', cfg: main },
    { key: 'r18-w1', backend: 'webgpu', cfg: bigGpu },
    { key: 'r18-w1', backend: 'wasm', cfg: bigWasm },
    // selfsup's direct programs (webgpu-direct-conv.ts) run on software adapters only; on a GPU
    // this row measures them there too, to tell whether they should (skipped on a software adapter,
    // where the 'main' row already runs them)
    { key: 'main-direct', backend: 'webgpu', cfg: main, direct: true },
  ];
}

async function main(): Promise<void> {
  let args: GpuCheckArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    process.stderr.write(`gpu-check: ${e.message} (${USAGE})\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args.pack !== undefined) {
    const report = await packGpuCheck(args.pack, args.target ?? currentTarget(), say);
    say(`gpu-check: wrote ${report.dir} (${(report.totalBytes / 2 ** 20).toFixed(1)} MB); run it with: ${report.run}`);
    finish(report, 0);
    return;
  }

  const started = performance.now();
  const deadline = started + args.maxSeconds * 1000;
  const packed = usePackedFiles();
  if (packed?.manifest && packed.manifest.target !== currentTarget()) {
    say(`gpu-check: warning: this folder was packed for ${packed.manifest.target}, this machine is ${currentTarget()}`);
  }
  const result: Record<string, unknown> = {
    tool: 'selfsup gpu-check',
    ok: false,
    startedAt: new Date().toISOString(),
    machine: {
      platform: currentTarget(),
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
      packed: packed ? { dir: packed.dir, ...(packed.manifest ?? {}) } : false,
    },
    settings: { adapter: args.adapter, seconds: args.seconds, quick: args.quick, maxSeconds: args.maxSeconds, threads: args.threads ?? 'default' },
  };
  const log = (line: string) => say(line);

  // The adapter first: without one there is nothing to check, and no other backend stands in.
  let gpu: BackendInfo;
  try {
    gpu = await selectBackend('webgpu', { webgpuAdapter: args.adapter, log });
  } catch (e) {
    const error = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    say(`gpu-check: FAILED: no usable WebGPU adapter (--adapter ${args.adapter}): ${error}`);
    finish({ ...result, error: `no usable WebGPU adapter: ${error}` }, 1);
    return;
  }
  const adapter = gpu.adapter!;
  result.adapter = { ...adapter, label: adapterLabel(adapter) };
  if (adapter.software) {
    result.warning = `software adapter (${adapterLabel(adapter)}): the CPU draws the GPU's work, so the webgpu numbers are not a GPU's; ` +
      'on a GPU machine, --adapter hardware fails instead of taking it';
    say(`gpu-check: WARNING: ${result.warning as string}`);
  }
  const errors: string[] = [];
  const use = async (backend: 'cpu' | 'webgpu' | 'wasm') => {
    await selectBackend(backend, { webgpuAdapter: args.adapter, threads: args.threads, nativeKernels: 'off', log: () => {} });
    if (tf.getBackend() !== backend) throw new Error(`asked for ${backend}, tfjs is on ${tf.getBackend()}`);
  };

  say(`gpu-check: parity with the cpu backend on ${adapterLabel(adapter)}`);
  const parity: ParityRow[] = await runParityChecks({ use }, log);
  const failed = parity.filter((r) => !r.ok);
  result.parity = {
    tolerance: PARITY_TOLERANCE,
    passed: parity.length - failed.length,
    failed: failed.length,
    maxRelErr: Math.max(0, ...parity.map((r) => r.maxRelErr)),
    checks: parity,
  };
  for (const r of failed) errors.push(`parity: ${r.name}: ${r.failures.join('; ')}`);

  await use('webgpu');
  const bindingLimit = (tf.backend() as unknown as { device?: { limits?: { maxStorageBufferBindingSize?: number } } }).device?.limits?.maxStorageBufferBindingSize;
  result.maxStorageBufferBindingSize = bindingLimit ?? null;
  // Throughput, each row bounded by time (see the header).
  const wasm = await selectBackend('wasm', { threads: args.threads, nativeKernels: 'off', log });
  result.wasm = { threads: wasm.threads, simd: wasm.simd, nativeKernels: 'off' };
  const measured: ThroughputRow[] = [];
  const gflopsSeen: Record<string, number> = {};
  for (const { key, backend, cfg, direct } of rows(args)) {
    if (direct && adapter.software) continue;
    const left = (deadline - performance.now()) / 1000;
    const seen = gflopsSeen[backend];
    const least = seen ? leastSeconds(cfg, seen) : 0;
    if (seen && least > left) {
      const skipped = `not run: warm-up + one step would take at least ${Math.round(least)} s at ${seen.toFixed(2)} GFLOP/s (the main job's on ${backend}, ` +
        `allowing ${LEAST_ALLOWANCE}× that for the larger model), more than the ${Math.max(0, Math.round(left))} s left of --max-seconds ${args.maxSeconds}`;
      say(`  ${backend} ${key}: ${skipped}`);
      measured.push({ config: key, name: cfg.name, backend, batch: cfg.batch, skipped });
      continue;
    }
    if (backend === 'webgpu' && bindingLimit && largestTensorBytes(cfg) > bindingLimit) {
      const skipped = `not run: its largest tensor (~${Math.round(largestTensorBytes(cfg) / 2 ** 20)} MiB) is over this device's largest storage binding (maxStorageBufferBindingSize ${Math.round(bindingLimit / 2 ** 20)} MiB)`;
      say(`  ${backend} ${key}: ${skipped}`);
      measured.push({ config: key, name: cfg.name, backend, batch: cfg.batch, skipped });
      continue;
    }
    say(`  ${backend} ${key}: ${cfg.name}`);
    try {
      await use(backend);
      if (direct) setWebgpuDirectConv(true);
      const measure = () => measureByol(key, backend, cfg, { seconds: args.seconds, deadline, log }).finally(() => setWebgpuDirectConv(null));
      const { result: row, gpuErrors } = backend === 'webgpu' ? await withGpuErrors(measure) : { result: await measure(), gpuErrors: [] };
      // a WebGPU validation error drops work without an exception: then the numbers measure nothing
      if (gpuErrors.length) throw new Error(`WebGPU errors during the row: ${gpuErrors.join('; ')}`);
      if (backend === 'webgpu') row.directPrograms = webgpuDirectConvActive() || Boolean(direct);
      if (!seen && row.gflops) gflopsSeen[backend] = row.gflops;
      say(`  ${backend} ${key}: ${row.imgPerSec} img/s (${row.steps} step${row.steps === 1 ? '' : 's'} after a ${row.warmupSeconds} s warm-up)`);
      measured.push(row);
    } catch (e) {
      const error = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      say(`  ${backend} ${key}: FAILED: ${error}`);
      errors.push(`throughput ${backend} ${key}: ${error}`);
      measured.push({ config: key, name: cfg.name, backend, batch: cfg.batch, error });
    }
  }
  const rate = (key: string, backend: string) => measured.find((r) => r.config === key && r.backend === backend)?.imgPerSec;
  const ratio = (key: string) => {
    const g = rate(key, 'webgpu');
    const w = rate(key, 'wasm');
    return g && w ? Number((g / w).toFixed(2)) : null;
  };
  result.throughput = {
    method:
      'BYOL through ByolExperiment.fit (target-init, EMA, LARS), random images; one warm-up step, then steps until --seconds are used up ' +
      '(at least one), each ending with its loss read back, so the GPU work is inside the time; img/s at the median step',
    secondsPerRow: args.seconds,
    timeBounded: true,
    rows: measured,
    webgpuOverWasm: { main: ratio('main'), 'r18-w1': ratio('r18-w1') },
  };
  const big = rate('r18-w1', 'webgpu');
  result.goal = {
    what: 'ResNet-18 width 1, 32×32×3, batch 256: ≥ 1000 img/s and ≥ 20× wasm on a data-centre GPU (issue 11)',
    imgPerSec: big ?? null,
    timesWasm: ratio('r18-w1'),
    met: args.quick || adapter.software || big === undefined ? null : big >= 1000 && (ratio('r18-w1') ?? 0) >= 20,
  };
  const mem = tf.engine().registry['webgpu']?.memory() as { numBytesAllocatedInGPU?: number; numBytesInGPU?: number } | undefined;
  const highWater = mem?.numBytesAllocatedInGPU;
  result.gpuMemory = {
    highWaterBytes: highWater ?? null,
    highWaterMB: highWater === undefined ? null : Number((highWater / 2 ** 20).toFixed(1)),
    inUseAtEndBytes: mem?.numBytesInGPU ?? null,
    source:
      "tfjs-backend-webgpu's tf.memory().numBytesAllocatedInGPU at the end: every GPU buffer tfjs created, in use or pooled " +
      '(released buffers stay pooled, never destroyed, so this is the high-water of the whole run); textures, pipelines and Dawn\'s own memory not included',
  };
  result.errors = errors;
  result.ok = errors.length === 0;
  result.seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  say(`gpu-check: ${result.ok ? 'done' : `FAILED (${errors.length} problem${errors.length === 1 ? '' : 's'}: ${errors[0]}${errors.length > 1 ? ' ...' : ''})`} in ${result.seconds} s`);
  finish(result, result.ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`gpu-check: FAILED: ${(e instanceof Error ? e.stack ?? e.message : String(e))}\n`);
  process.exit(1);
});
