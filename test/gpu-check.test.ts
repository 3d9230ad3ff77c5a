// `npm run gpu-check` (examples/gpu-check, issue 11 item 4): its arguments, and the
// self-contained folder of --pack run where no node_modules can be found, on the software
// adapter (--quick: a tiny budget). The full check runs on a GPU machine, not here.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArgError, parseArgs } from '../examples/gpu-check/args';
import { PACK_LIMIT_BYTES } from '../examples/gpu-check/pack';
import { PARITY_CHECKS, parityFailures, relErr } from '../examples/gpu-check/parity';
import { largestTensorBytes } from '../examples/gpu-check/throughput';
import { BYOL_CONFIGS } from '../examples/bench/byol_configs';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'examples/dist/gpu-check/gpu-check.js');

function run(script: string, args: string[], opts: { cwd?: string; timeout?: number } = {}) {
  const env = { ...process.env };
  delete env.NODE_PATH;
  return spawnSync(process.execPath, [script, ...args], { cwd: opts.cwd ?? ROOT, encoding: 'utf8', env, timeout: opts.timeout ?? 60_000 });
}

describe('gpu-check arguments', () => {
  it.each([
    [['--adapter', 'gpu'], /--adapter takes any, hardware or software, got "gpu"/],
    [['--seconds', '-1'], /--seconds takes a non-negative number, got "-1"/],
    [['--seconds'], /--seconds needs a value/],
    [['--threads', '1.5'], /--threads takes a positive integer/],
    [['--max-seconds', '0'], /--max-seconds takes a positive number/],
    [['--pack'], /--pack needs a value/],
    [['--target', 'linux-x64'], /--target goes with --pack DIR/],
    [['--pack', 'x', '--target', 'amiga'], /--target takes linux-x64, /],
    [['--frobnicate'], /unknown option --frobnicate/],
    [['software'], /unexpected argument "software"/],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(ArgError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  it('defaults: any adapter, 20 s per row, 540 s in all; --quick: one step per row, 60 s in all', () => {
    expect(parseArgs([])).toMatchObject({ adapter: 'any', seconds: 20, maxSeconds: 540, quick: false });
    expect(parseArgs(['--quick', '--adapter=software'])).toMatchObject({ adapter: 'software', seconds: 0, maxSeconds: 60, quick: true });
    expect(parseArgs(['--quick', '--seconds', '5', '--max-seconds', '90'])).toMatchObject({ seconds: 5, maxSeconds: 90 });
    expect(parseArgs(['--pack', 'out', '--target', 'win32-x64'])).toMatchObject({ pack: 'out', target: 'win32-x64' });
  });

  it.each([[['--adapter', 'gpu']], [['--bogus', '1']]])('the script: %j → exit code 2, one line on stderr, nothing on stdout', (argv) => {
    const r = run(SCRIPT, argv);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^gpu-check: .*\(usage: gpu-check /);
  });
});

describe('gpu-check parity outcomes', () => {
  it('fail on an error above the tolerance, a NaN, a length mismatch or a problem', () => {
    expect(parityFailures({ errors: { y: 1e-4 }, problems: [] })).toEqual([]);
    expect(parityFailures({ errors: { y: 2e-3 }, problems: [] })).toEqual(['y: relative error 0.002 > 0.001']);
    expect(parityFailures({ errors: { y: NaN }, problems: [] })).toHaveLength(1);
    expect(parityFailures({ errors: { y: relErr([1, 2], [1, 2, 3]) }, problems: [] })).toHaveLength(1);
    expect(parityFailures({ errors: {}, problems: ['kernels missing on webgpu: Conv2D'] })).toEqual(['kernels missing on webgpu: Conv2D']);
    expect(relErr([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(relErr([1.1, 2], [1, 2])).toBeCloseTo(0.1 / Math.sqrt(5), 12);
  });
});

describe('gpu-check --pack', () => {
  it('writes one bundled script, one dawn.node and the wasm files (under 60 MB) that run with node alone, away from node_modules', (ctx) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-gpu-check-'));
    try {
      const packDir = path.join(tmp, 'packed');
      const p = run(SCRIPT, ['--pack', packDir]);
      expect(p.status, p.stderr).toBe(0);
      const report = JSON.parse(p.stdout) as { files: Array<{ name: string; bytes: number }>; totalBytes: number };
      const names = fs.readdirSync(packDir).sort();
      expect(names).toEqual(report.files.map((f) => f.name).sort());
      expect(names.filter((n) => n.endsWith('.js'))).toEqual(['gpu-check.js', 'tfjs-backend-wasm-threaded-simd.js']);
      expect(names.filter((n) => n.endsWith('.node'))).toEqual(['dawn.node']);
      expect(names.filter((n) => n.endsWith('.wasm'))).toHaveLength(3);
      const total = names.reduce((a, n) => a + fs.statSync(path.join(packDir, n)).size, 0);
      expect(total).toBe(report.totalBytes);
      expect(total).toBeLessThan(PACK_LIMIT_BYTES);

      // somewhere else, with no node_modules on the way up: only node and the folder
      const away = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-gpu-check-away-')), 'gpu-check');
      fs.cpSync(packDir, away, { recursive: true });
      for (let d = path.dirname(away); d !== path.dirname(d); d = path.dirname(d)) {
        expect(fs.existsSync(path.join(d, 'node_modules')), `${d}/node_modules would let the folder find packages`).toBe(false);
      }
      try {
        const r = run(path.join(away, 'gpu-check.js'), ['--quick', '--adapter', 'software'], { cwd: path.dirname(away), timeout: 240_000 });
        if (r.status === 1 && /no usable WebGPU adapter.*no software adapter/.test(r.stderr)) {
          ctx.skip(`no software WebGPU adapter here: ${r.stderr.split('\n').find((l) => l.includes('no usable'))}`);
        }
        expect(r.status, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out.ok).toBe(true);
        expect(out.machine.packed.dir).toBe(away);
        expect(out.adapter.software).toBe(true);
        expect(out.warning).toMatch(/software adapter/);
        expect(out.parity).toMatchObject({ passed: PARITY_CHECKS.length, failed: 0 });
        const rows = out.throughput.rows as Array<{ config: string; backend: string; imgPerSec?: number; steps?: number; stoppedBy?: string; fromWarmup?: boolean }>;
        for (const backend of ['webgpu', 'wasm']) {
          const main = rows.find((row) => row.config === 'main' && row.backend === backend);
          expect(main?.imgPerSec, `${backend} main: ${JSON.stringify(main)}`).toBeGreaterThan(0);
          // one measured step (--quick), or only the warm-up where the loaded machine ran out of --quick's 60 s
          if (main?.stoppedBy === 'deadline') expect(main).toMatchObject({ fromWarmup: true });
          else expect(main).toMatchObject({ steps: 1, stoppedBy: 'one step' });
        }
        // a software adapter runs the direct programs in its main row; the GPU-only row with them forced on is left out
        expect(rows.find((row) => row.config === 'main' && row.backend === 'webgpu')).toMatchObject({ directPrograms: true });
        expect(rows.some((row) => row.config === 'main-direct')).toBe(false);
        expect(out.throughput.webgpuOverWasm.main).toBeGreaterThan(0);
        expect(out.gpuMemory.highWaterBytes).toBeGreaterThan(0);
        expect(out.wasm.threads).toBeGreaterThanOrEqual(1);
      } finally {
        fs.rmSync(path.dirname(away), { recursive: true, force: true });
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('scripts/device-gpu-check.sh (gpu-check for a GPU machine without registry or Node.js)', () => {
  const script = path.join(ROOT, 'scripts/device-gpu-check.sh');
  // a copy in a folder of its own: `run` there finds no .device/ (whatever this checkout holds)
  const copy = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'device-gpu-check-'));
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(script, path.join(dir, 'scripts/device-gpu-check.sh'));
    return dir;
  };
  const bash = (dir: string, args: string[]) => spawnSync('bash', [path.join(dir, 'scripts/device-gpu-check.sh'), ...args], { encoding: 'utf8', timeout: 30_000 });

  it('names its two verbs, and run without a prepared .device/ says what to do first (exit 2, nothing unpacked)', () => {
    const dir = copy();
    const usage = bash(dir, []);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/usage: bash scripts\/device-gpu-check.sh prepare\|run/);
    expect(bash(dir, ['pack']).status).toBe(2);
    const run = bash(dir, ['run']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/no \.device\/bundle\.tar\.xz; run 'bash scripts\/device-gpu-check.sh prepare' first/);
    expect(fs.readdirSync(dir)).toEqual(['scripts']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('gpu-check: which webgpu rows a device can bind', () => {
  it('estimates the largest tensor as both views\' first-stage activations padded by one pixel', () => {
    // ResNet-18 width 1 at batch 256: 512 × 34 × 34 × 64 × 4 B = 151,519,232, the binding llvmpipe
    // refused (over its 128 MiB maxStorageBufferBindingSize) when gpu-check ran that row there (whole, as on a GPU)
    const whole = { ...BYOL_CONFIGS['r18-w1'](256), microBatches: undefined };
    expect(largestTensorBytes(whole)).toBe(151_519_232);
    expect(largestTensorBytes(whole)).toBeGreaterThan(2 ** 27);
    // in the bench's 4 micro-batches a quarter of that
    expect(largestTensorBytes(BYOL_CONFIGS['r18-w1'](256))).toBe(151_519_232 / 4);
    // the main job: 256 × 30 × 30 × 8 × 4 B
    expect(largestTensorBytes(BYOL_CONFIGS.main(128))).toBe(7_372_800);
  });
});
