/**
 * `npm run quality` (examples/quality): the refusals (no full dataset, no torch) exit 2 with one
 * line and write nothing; a tiny run on the embedded subset writes the JSON, both charts and
 * the table between the markers of quality.md (keeping the rest), and a rerun reuses the
 * finished run or continues an unfinished one; the PyTorch recipe of the example config.
 * The CLI parts spawn the built examples/dist (npm test builds it first).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@selfsup/core';
import { buildRecipe } from '../examples/quality/recipe';
import { outputName, parseArgs, qualityOverrides, resolveQualityConfig } from '../examples/quality/quality';
import { cachedTorch, findTorchPython, runTorch, torchScript } from '../examples/quality/torch';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'examples/dist/quality/quality.js');
const CONFIG = 'examples/configs/byol-fashion-mnist.yaml';
const tmpDirs: string[] = [];
const tmp = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `selfsup-quality-${prefix}-`));
  tmpDirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function quality(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm test\` (it builds with tsc -b first)`);
});

describe('npm run quality: refusals', () => {
  it('refuses without the full dataset: exit 2, one line naming where it looked and the fix, nothing written', () => {
    const empty = tmp('nodata');
    const out = path.join(empty, 'out');
    const r = quality([CONFIG, '--out', out, '--runs', path.join(empty, 'runs')], { SELFSUP_DATA: empty, SELFSUP_QUALITY_SYSTEM_DIR: path.join(empty, 'no-debian') });
    expect(r.code).toBe(2);
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`$SELFSUP_DATA=${empty}`);
    expect(lines[0]).toContain('sudo apt-get install dataset-fashion-mnist');
    expect(lines[0]).toContain('SELFSUP_DATA');
    expect(lines[0]).not.toMatch(/\n\s+at /);
    expect(fs.readdirSync(empty)).toEqual([]);

    const viaFlag = quality([CONFIG, '--data-dir', empty, '--out', out]);
    expect(viaFlag.code).toBe(2);
    expect(viaFlag.err).toContain(`--data-dir ${empty}`);
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  it('--compare-torch refuses up front when python cannot import torch', () => {
    const dir = tmp('notorch');
    const r = quality([CONFIG, '--subset', 'embedded', '--compare-torch', '--out', path.join(dir, 'out'), '--runs', path.join(dir, 'runs')], { SELFSUP_PYTHON: path.join(dir, 'no-python3') });
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('sudo apt-get install python3-torch libopenblas0-pthread');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses bad flags with exit 2', () => {
    expect(quality([CONFIG, '--subset', 'half']).code).toBe(2);
    expect(quality([CONFIG, '--epochs', '0']).code).toBe(2);
    expect(quality(['no-such.yaml', '--subset', 'embedded']).err).toContain('config file not found');
  });
});

describe('npm run quality: a tiny run on the embedded subset', () => {
  let dir: string;
  let outDir: string;
  let table: string;
  let args: string[];
  let first: ReturnType<typeof quality>;
  const name = 'byol-fashion-mnist--tiny--embedded';

  beforeAll(() => {
    dir = tmp('run');
    outDir = path.join(dir, 'quality');
    table = path.join(dir, 'quality.md');
    fs.writeFileSync(table, '# Notes\n\nbefore\n\n<!-- quality-table:start -->\nold table\n<!-- quality-table:end -->\n\nafter\n');
    args = [
      CONFIG, '--subset', 'embedded', '--epochs', '1', '--label', 'tiny', '--seed', '3',
      '--set', 'trainer.stepsPerEpoch=2', '--set', 'trainer.batchSize=32', '--set', 'model.width=0.0625',
      '--set', 'model.projectorHiddenDim=64', '--set', 'model.predictorHiddenDim=64', '--set', 'model.projectorDim=32',
      '--set', 'callbacks[knn-eval].bankLimit=300', '--set', 'callbacks[knn-eval].queryLimit=100',
      '--out', outDir, '--runs', path.join(dir, 'runs'),
    ];
    first = quality(args);
  }, 120_000);

  it('writes the JSON with every epoch, the baselines and the machine', () => {
    expect(first.err).not.toMatch(/failed/);
    expect(first.code).toBe(0);
    expect(first.err).toMatch(/^epoch 1\/1: knn 0\.\d{4}( \(target 0\.\d{4}\))?, \d+\.\d min$/m);
    expect(first.out).toMatch(/raw pixels +0\.\d{4}\n +untrained encoder +0\.\d{4}\n +selfsup, epoch 1 +0\.\d{4}/);
    const q = JSON.parse(fs.readFileSync(path.join(outDir, `${name}.json`), 'utf8'));
    expect(q).toMatchObject({ schema: 1, config: CONFIG, label: 'tiny', subset: 'embedded', seed: 3, epochs: 1, torch: null });
    expect(q.overrides).toContain('model.width=0.0625');
    expect(q.machine).toEqual({ cpu: os.cpus()[0]?.model ?? null, cores: os.cpus().length, node: process.version });
    expect(q.backend.name).toMatch(/wasm|cpu|tensorflow/);
    // the oneDNN kernels (or null without them), as the run's env.json says: they set the minutes
    const env = JSON.parse(fs.readFileSync(path.join(q.selfsup.runDir, 'env.json'), 'utf8'));
    expect('nativeKernels' in env).toBe(true);
    expect(q.backend.nativeKernels).toBe(env.nativeKernels);
    expect(Number.isNaN(Date.parse(q.date))).toBe(false);
    expect(q.baselines).toEqual({ rawPixels: expect.any(Number), untrained: expect.any(Number), bank: 300, queries: 100 });
    expect(q.selfsup.epochs).toHaveLength(1);
    const e = q.selfsup.epochs[0];
    expect(e).toEqual({ epoch: 1, knn_acc: expect.any(Number), knn_acc_target: e.knn_acc_target === null ? null : expect.any(Number), loss: expect.any(Number), trainSeconds: expect.any(Number), elapsedSeconds: expect.any(Number) });
    expect(e.elapsedSeconds).toBeGreaterThanOrEqual(e.trainSeconds);
    expect(q.selfsup.minutes).toBeCloseTo(e.elapsedSeconds / 60, 6);
    expect(fs.existsSync(path.join(q.selfsup.runDir, 'checkpoints', 'last'))).toBe(true);
  });

  it('draws kNN vs epoch and vs minutes, as SVG and PNG', () => {
    for (const axis of ['epochs', 'minutes']) {
      const svg = fs.readFileSync(path.join(outDir, `${name}.${axis}.svg`), 'utf8');
      for (const s of ['selfsup online', 'raw pixels', 'untrained encoder']) expect(svg).toContain(`data-series="${s}"`);
      const png = fs.readFileSync(path.join(outDir, `${name}.${axis}.png`));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
    }
  });

  it('regenerates the table between the markers and keeps the rest of quality.md', () => {
    const md = fs.readFileSync(table, 'utf8');
    expect(md.startsWith('# Notes\n\nbefore\n\n<!-- quality-table:start -->\n| run |')).toBe(true);
    expect(md.endsWith('<!-- quality-table:end -->\n\nafter\n')).toBe(true);
    expect(md).not.toContain('old table');
    const row = md.split('\n').find((l) => l.startsWith('| byol-fashion-mnist · tiny |'));
    expect(row).toBeDefined();
    expect(row).toContain('| embedded | 1 |');
    expect(row).toContain(`[epochs](quality/${name}.epochs.png)`);
    expect(row).toContain('| - |'); // no PyTorch run
  });

  it('a rerun reuses the finished run; an unfinished one is continued from its checkpoint', () => {
    const q1 = JSON.parse(fs.readFileSync(path.join(outDir, `${name}.json`), 'utf8'));
    const again = quality(args);
    expect(again.code).toBe(0);
    expect(again.err).toContain('already finished this command; reusing it');
    fs.rmSync(path.join(q1.selfsup.runDir, 'summary.json'));
    const resumed = quality(args);
    expect(resumed.code).toBe(0);
    expect(resumed.err).toContain(`continuing the unfinished run ${path.resolve(q1.selfsup.runDir)}`);
    const q2 = JSON.parse(fs.readFileSync(path.join(outDir, `${name}.json`), 'utf8'));
    expect(q2.selfsup.epochs).toEqual(q1.selfsup.epochs);
    expect(q2.baselines).toEqual(q1.baselines);
    expect(fs.readdirSync(path.dirname(q1.selfsup.runDir))).toEqual(['version_0']);
  }, 120_000);
});

describe('the command fingerprint (which run directory a rerun continues)', () => {
  it('ignores comments and layout of the config, not its values', () => {
    const text = fs.readFileSync(path.join(ROOT, CONFIG), 'utf8');
    const variants = {
      same: text,
      commented: `# a new comment\n${text.replace('epochs: 32 ', 'epochs:    32 ').replace(/# one cosine over the whole run.*$/m, '# reworded')}`,
      changed: text.replace('tauBase: 0.97', 'tauBase: 0.99'),
    };
    const fp: Record<string, ReturnType<typeof qualityOverrides>> = {};
    for (const [k, v] of Object.entries(variants)) {
      const file = path.join(tmp(`fp-${k}`), 'byol-fashion-mnist.yaml');
      fs.writeFileSync(file, v);
      fp[k] = qualityOverrides(parseArgs([file, '--epochs', '2']), '/data/fmnist');
    }
    expect(variants.commented).not.toBe(text);
    expect(variants.changed).not.toBe(text);
    expect(fp.commented.fingerprint).toBe(fp.same.fingerprint);
    expect(fp.commented.legacyFingerprint).not.toBe(fp.same.legacyFingerprint); // the raw text's, as before
    expect(fp.changed.fingerprint).not.toBe(fp.same.fingerprint);
    expect(fp.same.overrides.filter((o) => o.startsWith('callbacks[quality-clock].fingerprint=') && o.includes(fp.same.fingerprint))).toHaveLength(1);
  });
});

describe('the PyTorch recipe', () => {
  it('is built from the example config as selfsup runs it', async () => {
    await selectBackend('wasm', { log: () => {} });
    const a = parseArgs([CONFIG, '--subset', 'embedded']);
    expect(outputName(a)).toBe('byol-fashion-mnist--embedded');
    const dataDir = '/data/fmnist';
    const { overrides } = qualityOverrides(a, dataDir);
    const resolved = await resolveQualityConfig(path.join(ROOT, CONFIG), overrides);
    const r = await buildRecipe(resolved, { threads: 2, dataDir });
    expect(r).toMatchObject({
      seed: 0,
      threads: 2,
      data: { dir: dataDir, trainLimit: null, testLimit: null },
      epochs: 32,
      batchSize: 128,
      stepsPerEpoch: null,
      model: { width: 0.125, stem: 'cifar', projectorHiddenDim: 1024, projectorDim: 128, predictorHiddenDim: 1024, zeroInitResidual: true },
      // lr 1.0 × 128/256; LARS with η 0.02 and clipping; the predictor at 10× and unscheduled
      optimizer: { name: 'lars', lr: 0.5, momentum: 0.9, weightDecay: 1e-5, eta: 0.02, clipTrustRatio: true, nesterov: false, predictorLrMultiplier: 10, predictorFixedLr: true },
      // warmupEpochs 0.8 of an epoch of full batches: round(0.8 · floor(6000 / 128)) = round(36.8)
      schedule: { type: 'cosine', warmupSteps: 37, minLr: 0 },
      ema: { tauBase: 0.97, bnStats: 'ema' },
      augment: { localCrops: null },
      knn: { k: 20, temperature: 0.07 },
    });
    // byol-small-gray: crop area U[0.2, 1], no blur; solarize only in T'
    expect(r.augment.t).toMatchObject({ crop: { size: 28, scale: [0.2, 1] }, blur: { p: 0 }, solarize: { p: 0 } });
    expect(r.augment.tPrime).toMatchObject({ crop: { size: 28, scale: [0.2, 1] }, solarize: { p: 0.2 } });
    expect(Object.keys(r).sort()).toEqual(['augment', 'batchSize', 'data', 'ema', 'epochs', 'knn', 'model', 'optimizer', 'schedule', 'seed', 'stepsPerEpoch', 'threads']);
  }, 60_000);
});

// Needs Debian's python3-torch (not installed by .ci/run: PyTorch is for side-by-side runs only).
const TORCH_PY = findTorchPython();
if (!TORCH_PY) console.log('quality.test: PyTorch is not importable (apt-get install python3-torch); the resume test of the PyTorch half is skipped');

describe.skipIf(!TORCH_PY)('the PyTorch half: interrupted and continued', () => {
  it('continues after the last saved epoch with the numbers of an uninterrupted run, and removes its checkpoint', async () => {
    await selectBackend('wasm', { log: () => {} });
    const a = parseArgs([CONFIG, '--subset', 'embedded']);
    const assets = path.join(ROOT, 'packages/core/assets/fashion-mnist-subset');
    const resolved = await resolveQualityConfig(path.join(ROOT, CONFIG), qualityOverrides(a, assets).overrides);
    const full = await buildRecipe(resolved, { threads: 1, dataDir: assets });
    const recipe = {
      ...full,
      data: { dir: assets, trainLimit: 384, testLimit: 100 },
      epochs: 3,
      batchSize: 64,
      model: { ...full.model, width: 0.0625, projectorHiddenDim: 32, predictorHiddenDim: 32, projectorDim: 16 },
      schedule: { ...full.schedule, warmupSteps: 3 },
    };
    const dir = tmp('torch');
    const recipeFile = path.join(dir, 'recipe.json');
    fs.writeFileSync(recipeFile, JSON.stringify(recipe));
    const quiet = () => {};
    const plain = await runTorch(TORCH_PY!, torchScript()!, recipe, recipeFile, path.join(dir, 'plain.jsonl'), quiet);

    const cache = path.join(dir, 'resumed.jsonl');
    const ckpt = path.join(dir, 'torch.ckpt');
    process.env.SELFSUP_TORCH_STOP_AFTER = '1';
    try {
      await expect(runTorch(TORCH_PY!, torchScript()!, recipe, recipeFile, cache, quiet, ckpt)).rejects.toThrow(/exited with code 3/);
    } finally {
      delete process.env.SELFSUP_TORCH_STOP_AFTER;
    }
    expect(fs.existsSync(ckpt)).toBe(true);
    expect(cachedTorch(cache, recipe)).toBeNull(); // no "done" line: not a result yet
    const logged: string[] = [];
    const resumed = await runTorch(TORCH_PY!, torchScript()!, recipe, recipeFile, cache, (l) => logged.push(l), ckpt);
    expect(logged.join('\n')).toMatch(/from its checkpoint/);
    expect(fs.existsSync(ckpt)).toBe(false);

    const numbers = (r: typeof plain) => r.epochs.map((e) => [e.epoch, e.knn_acc, e.knn_acc_target, e.loss]);
    expect(numbers(resumed)).toEqual(numbers(plain)); // bit for bit: losses are float64 sums
    expect(resumed.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(resumed.baselines).toEqual(plain.baselines);
    expect(cachedTorch(cache, recipe)?.epochs).toEqual(resumed.epochs); // the cache was rewritten whole, once per line
  }, 120_000);
});
