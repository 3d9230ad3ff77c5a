// `npm run quality` — how good is the representation: BYOL on the full Fashion-MNIST (60k train
// = pretraining data and kNN memory bank, 10k test = queries), kNN accuracy after every epoch
// next to raw pixels and the untrained encoder, optionally PyTorch on the same recipe.
//
//   npm run quality -- <config.yaml> [--epochs N] [--seed S] [--set key=value ...] [--label NAME]
//        [--subset embedded] [--compare-torch] [--out docs/quality] [--table docs/quality.md]
//        [--runs runs/quality] [--data-dir DIR] [--fresh]
//
// Writes <out>/<config>[--<label>][--embedded].json, .epochs.svg/png, .minutes.svg/png,
// .recipe.json (and .torch.jsonl with --compare-torch), then regenerates the table in <table>.
// The training is `selfsup train` (@selfsup/cli's train()) in runs/quality/<name>/version_N;
// rerunning the same command continues an unfinished run from its last checkpoint, and reuses
// a finished one (--fresh trains anew). Exit codes: 0 done, 1 training failed, 2 refused.
//
// Data: --data-dir DIR, else $SELFSUP_DATA, else Debian's /usr/share/datasets/fashion-mnist
// ($SELFSUP_QUALITY_SYSTEM_DIR replaces that last one; tests use it). PyTorch: $SELFSUP_PYTHON,
// else /usr/bin/python3, else python3 on PATH.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigError,
  DEBIAN_FASHION_MNIST_DIR,
  embeddedFashionMnistDir,
  loadConfigFile,
  locateFashionMnist,
  parseConfigYaml,
  readJsonl,
  resolveConfig,
  selectBackend,
  writeFileAtomic,
  type BackendPreference,
  type ResolvedConfig,
} from '@selfsup/core';
import { train } from '@selfsup/cli';
import { buildRecipe, RecipeError, type Recipe } from './recipe';
import { regenerateTable, writeCharts, type QualityJson } from './report';
import { findTorchPython, pythonCandidates, runTorch, torchScript, TORCH_INSTALL, type EpochRow, type TorchResult } from './torch';

const USAGE = `usage: npm run quality -- <config.yaml> [--epochs N] [--seed S] [--set key=value ...] [--label NAME]
         [--subset embedded] [--compare-torch] [--out DIR] [--table FILE] [--runs DIR] [--data-dir DIR] [--fresh]`;

/** A refusal: one line on stderr, exit code 2, nothing written. */
export class Refusal extends Error {}

export interface QualityArgs {
  config: string;
  epochs?: number;
  seed?: number;
  sets: string[];
  label?: string;
  subset: 'full' | 'embedded';
  compareTorch: boolean;
  out: string;
  table?: string;
  runs: string;
  dataDir?: string;
  fresh: boolean;
}

export function parseArgs(argv: readonly string[]): QualityArgs {
  const a: Partial<QualityArgs> & { sets: string[] } = { sets: [], subset: 'full', compareTorch: false, fresh: false, out: 'docs/quality', runs: 'runs/quality' };
  const positionals: string[] = [];
  const int = (flag: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Refusal(`--${flag} takes an integer ≥ ${min}, got "${v}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    if (flag === 'compare-torch' || flag === 'fresh') {
      if (eq >= 0) throw new Refusal(`--${flag} takes no value`);
      if (flag === 'fresh') a.fresh = true;
      else a.compareTorch = true;
      continue;
    }
    if (flag === 'help' || flag === 'h') throw new Refusal(USAGE);
    let v: string;
    if (eq >= 0) v = arg.slice(eq + 1);
    else if (i + 1 < argv.length) v = argv[++i];
    else throw new Refusal(`--${flag} needs a value`);
    switch (flag) {
      case 'epochs':
        a.epochs = int(flag, v, 1);
        break;
      case 'seed':
        a.seed = int(flag, v, 0);
        break;
      case 'set':
        a.sets.push(v);
        break;
      case 'label':
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)) throw new Refusal(`--label "${v}": use letters, digits, ".", "_" and "-" (it becomes part of a file name)`);
        a.label = v;
        break;
      case 'subset':
        if (v !== 'embedded' && v !== 'full') throw new Refusal(`--subset takes "embedded" (the shipped 6000/10000 subset) or "full", got "${v}"`);
        a.subset = v;
        break;
      case 'out':
      case 'table':
      case 'runs':
        a[flag] = v;
        break;
      case 'data-dir':
        a.dataDir = v;
        break;
      default:
        throw new Refusal(`unknown flag --${flag}\n${USAGE}`);
    }
  }
  if (positionals.length !== 1) throw new Refusal(positionals.length ? `one config file, got ${positionals.join(' ')}\n${USAGE}` : `a config file is needed\n${USAGE}`);
  return { ...(a as QualityArgs), config: positionals[0] };
}

/** The folder holding the full Fashion-MNIST (train and t10k), or a refusal naming where it looked. */
export function findFullData(dataDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const looked: string[] = [];
  const candidates: Array<[string, string]> = [];
  if (dataDir) candidates.push([dataDir, `--data-dir ${dataDir}`]);
  else {
    if (env.SELFSUP_DATA) candidates.push([env.SELFSUP_DATA, `$SELFSUP_DATA=${env.SELFSUP_DATA}`]);
    // SELFSUP_QUALITY_SYSTEM_DIR replaces Debian's folder in the search (tests point it at an empty one)
    const sys = env.SELFSUP_QUALITY_SYSTEM_DIR ?? DEBIAN_FASHION_MNIST_DIR;
    candidates.push([sys, sys]);
  }
  for (const [dir, what] of candidates) {
    looked.push(what);
    try {
      const train = locateFashionMnist({ path: dir, split: 'train', env: {} });
      locateFashionMnist({ path: dir, split: 'test', env: {} });
      return train.dir;
    } catch {
      // not there (or incomplete): try the next place
    }
  }
  throw new Refusal(
    `the full Fashion-MNIST (60k/10k) is not installed: looked in ${looked.join(', ')}. ` +
      'Install it with `sudo apt-get install dataset-fashion-mnist`, or set SELFSUP_DATA to a folder with the four IDX .gz files ' +
      '(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz); ' +
      '--subset embedded runs on the shipped 6000/10000 subset instead.',
  );
}

const quote = (s: string) => JSON.stringify(s);
const CLOCK_PLUGIN = path.join(__dirname, 'clock');

/** Output name: <config basename>[--<label>][--embedded]. */
export function outputName(a: Pick<QualityArgs, 'config' | 'label' | 'subset'>): string {
  const base = path.basename(a.config).replace(/\.(ya?ml|json)$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-');
  return `${base}${a.label ? `--${a.label}` : ''}${a.subset === 'embedded' ? '--embedded' : ''}`;
}

const hash16 = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/**
 * The --set overrides that make the run a quality run (after the user's, so they win), and the
 * command's fingerprint: the config's parsed values and the overrides, so that editing a comment
 * or the layout of the YAML does not orphan a run. `legacyFingerprint` is the one run
 * directories written before 2026-12-06 carry (the config's raw text): they are still found.
 */
export function qualityOverrides(a: QualityArgs, dataDir: string): { overrides: string[]; fingerprint: string; legacyFingerprint: string } {
  const o = [...a.sets];
  if (a.subset === 'embedded') o.push('data.source=embedded', 'val.source=embedded');
  else o.push('data.source=auto', `data.path=${quote(dataDir)}`, 'val.source=auto', `val.path=${quote(dataDir)}`);
  if (a.epochs !== undefined) o.push(`trainer.epochs=${a.epochs}`);
  if (a.seed !== undefined) o.push(`trainer.seed=${a.seed}`);
  o.push(`name=${quote(outputName(a))}`, 'callbacks[knn-eval].every=1');
  const text = fs.readFileSync(a.config, 'utf8');
  let values: unknown = text; // a config that does not parse is refused later, with its error
  try {
    values = parseConfigYaml(text, a.config);
  } catch {
    // resolveQualityConfig reports it
  }
  const fingerprint = hash16({ values, overrides: o });
  const legacyFingerprint = hash16({ config: text, overrides: o });
  o.push(`callbacks[quality-clock].fingerprint=${quote(fingerprint)}`, `callbacks[quality-clock].dataDir=${quote(dataDir)}`);
  return { overrides: o, fingerprint, legacyFingerprint };
}

export async function resolveQualityConfig(config: string, overrides: string[]): Promise<ResolvedConfig> {
  const plain = loadConfigFile(config, overrides);
  const listed = Array.isArray(plain.plugins) ? (plain.plugins as string[]) : [];
  plain.plugins = [...listed, CLOCK_PLUGIN];
  return resolveConfig(plain, { file: config });
}

/** Refuses configs whose numbers would not be what the quality table says. */
function checkConfig(resolved: ResolvedConfig, subset: QualityArgs['subset']): void {
  const { data, val } = resolved.root;
  if (data.name !== 'fashion-mnist' || val?.name !== 'fashion-mnist') {
    throw new Refusal(`quality runs are on Fashion-MNIST: the config's data.name is ${data.name} and val.name ${val?.name ?? '(no val section)'}`);
  }
  if (subset !== 'full') return;
  const knn = resolved.callbacks.find((c) => c.name === 'knn-eval')?.options as { bankLimit?: number; queryLimit?: number } | undefined;
  const limits = [
    ['data.limit', data.limit],
    ['val.limit', val.limit],
    ['callbacks[knn-eval].bankLimit', knn?.bankLimit],
    ['callbacks[knn-eval].queryLimit', knn?.queryLimit],
  ].filter(([, v]) => v !== undefined);
  if (limits.length) {
    throw new Refusal(`a full-set quality run uses all 60k/10k images, but ${limits.map(([k, v]) => `${k} is ${v}`).join(', ')}; remove it, or use --subset embedded`);
  }
}

interface Attempt {
  dir: string;
  finished: boolean;
  resumable: boolean;
}

/** The newest run directory of this very command (one of its fingerprints), if any. */
export function previousAttempt(runsRoot: string, name: string, fingerprints: readonly string[]): Attempt | undefined {
  const parent = path.join(runsRoot, name);
  if (!fs.existsSync(parent)) return undefined;
  const versions = fs
    .readdirSync(parent)
    .map((d) => /^version_(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((x, y) => Number(y[1]) - Number(x[1]));
  for (const m of versions) {
    const dir = path.join(parent, m[0]);
    const resolvedFile = path.join(dir, 'config.resolved.yaml');
    if (!fs.existsSync(resolvedFile)) continue;
    let fp: unknown;
    try {
      const cbs = loadConfigFile(resolvedFile).callbacks as Array<Record<string, unknown>> | undefined;
      fp = cbs?.find((c) => c?.name === 'quality-clock')?.fingerprint;
    } catch {
      continue;
    }
    if (typeof fp !== 'string' || !fingerprints.includes(fp)) continue;
    return { dir, finished: fs.existsSync(path.join(dir, 'summary.json')), resumable: fs.existsSync(path.join(dir, 'checkpoints', 'last')) };
  }
  return undefined;
}

const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Epoch rows of a run directory's metrics.jsonl (the last row of each epoch: a resume may repeat one). */
export function epochRows(runDir: string): EpochRow[] {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!fs.existsSync(file)) return [];
  const byEpoch = new Map<number, Record<string, unknown>>();
  for (const r of readJsonl<Record<string, unknown>>(file)) if (r.type === 'epoch') byEpoch.set(Number(r.epoch), r);
  return [...byEpoch.entries()]
    .sort((x, y) => x[0] - y[0])
    .filter(([, r]) => typeof r.knn_acc === 'number')
    .map(([e, r]) => ({
      epoch: e + 1,
      knn_acc: r.knn_acc as number,
      knn_acc_target: numOrNull(r.knn_acc_target),
      loss: numOrNull(r.loss),
      trainSeconds: numOrNull(r.train_seconds),
      elapsedSeconds: numOrNull(r.elapsed_seconds),
    }));
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Relative to the working directory when inside it (runs/quality/...), else absolute. */
function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), path.resolve(p));
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(p);
}

const err = (l: string) => process.stderr.write(`${l}\n`);

export async function main(argv: readonly string[]): Promise<number> {
  let runDir: string | undefined;
  let a: QualityArgs;
  try {
    a = parseArgs(argv);
    if (!fs.existsSync(a.config)) throw new Refusal(`config file not found: ${a.config}`);
  } catch (e) {
    if (e instanceof Refusal) {
      err(`quality: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const name = outputName(a);
  const outDir = a.out;
  const tableFile = a.table ?? `${outDir.replace(/[\\/]+$/, '')}.md`;
  const stem = path.join(outDir, name);
  const cmd = `npm run quality -- ${argv.join(' ')}`;
  let resolved: ResolvedConfig;
  let dataDir: string;
  let overrides: string[];
  let fingerprint: string;
  let legacyFingerprint: string;
  let torchPy: string | null = null;
  let script: string | null = null;
  try {
    dataDir = a.subset === 'embedded' ? embeddedFashionMnistDir() : findFullData(a.dataDir);
    if (a.compareTorch) {
      script = torchScript();
      if (!script) throw new Refusal('--compare-torch: examples/quality/torch_quality.py is missing');
      torchPy = findTorchPython();
      if (!torchPy) throw new Refusal(`--compare-torch needs PyTorch, and ${pythonCandidates().join(' / ')} cannot import torch: install it with \`${TORCH_INSTALL}\``);
    }
    ({ overrides, fingerprint, legacyFingerprint } = qualityOverrides(a, dataDir));
    try {
      resolved = await resolveQualityConfig(a.config, overrides);
    } catch (e) {
      if (e instanceof ConfigError || (e as Error)?.name === 'ConfigError') throw new Refusal(`bad config: ${(e as Error).message.replace(/\n+/g, '; ')}`);
      throw e;
    }
    checkConfig(resolved, a.subset);
    if (a.compareTorch) {
      // can PyTorch run this recipe at all? (before an hour of training, not after)
      const t = resolved.root.trainer;
      await selectBackend(t.backend as BackendPreference, { threads: t.threads, log: () => {} });
      try {
        await buildRecipe(resolved, { threads: 1, dataDir });
      } catch (e) {
        if (e instanceof RecipeError) throw new Refusal(e.message);
        throw e;
      }
    }
  } catch (e) {
    if (e instanceof Refusal) {
      err(`quality: ${e.message}`);
      return 2;
    }
    throw e;
  }

  const t = resolved.root.trainer;
  err(`quality: ${name}: ${a.subset === 'full' ? `full Fashion-MNIST from ${dataDir}` : 'the embedded 6000/10000 subset'}, ${t.epochs} epochs, seed ${t.seed}`);
  const prev = a.fresh ? undefined : previousAttempt(a.runs, name, [fingerprint, legacyFingerprint]);
  const io = {
    out: err,
    err: (l: string) => {
      const m = /^selfsup: run directory (.*)$/.exec(l);
      if (m) runDir = m[1];
      err(l);
    },
  };
  try {
    if (prev?.finished) {
      runDir = prev.dir;
      err(`quality: ${prev.dir} already finished this command; reusing it (--fresh trains anew)`);
    } else if (prev?.resumable) {
      runDir = prev.dir;
      err(`quality: continuing the unfinished run ${prev.dir} from its last checkpoint`);
      await train({ resume: prev.dir, io });
    } else {
      if (prev) err(`quality: ${prev.dir} stopped before its first checkpoint; starting anew`);
      err(`quality: if this is interrupted, the same command continues it from the last finished epoch: ${cmd}`);
      await train({ config: a.config, overrides, plugins: [CLOCK_PLUGIN], out: a.runs, noBaselines: true, io });
    }
  } catch (e) {
    err(`quality: training failed: ${(e as Error).message}`);
    if (runDir && fs.existsSync(path.join(runDir, 'checkpoints', 'last'))) {
      err(`quality: to continue from the last checkpoint: ${cmd}  (or: node packages/cli/dist/bin.js train --resume ${runDir})`);
    }
    return 1;
  }
  if (!runDir) throw new Error('quality: train() did not say its run directory');

  const env = readJson<Record<string, unknown>>(path.join(runDir, 'env.json')) ?? {};
  const baselines = readJson<QualityJson['baselines']>(path.join(runDir, 'quality-baselines.json'));
  const recipe = readJson<Recipe & { error?: string }>(path.join(runDir, 'quality-recipe.json'));
  const rows = epochRows(runDir);
  const lastRow = rows[rows.length - 1];
  const q: QualityJson = {
    schema: 1,
    config: a.config,
    label: a.label ?? null,
    overrides: a.sets,
    subset: a.subset,
    seed: t.seed,
    epochs: t.epochs,
    machine: { cpu: os.cpus()[0]?.model ?? null, cores: os.cpus().length, node: process.version },
    backend: { name: env.backend ?? null, threads: env.threads ?? null, simd: env.simd ?? null, native: env.native ?? null, nativeKernels: env.nativeKernels ?? null, tfjs: (env.tfjs as Record<string, string> | undefined)?.['tfjs-core'] ?? null },
    date: new Date().toISOString(),
    dataDir,
    baselines: baselines ?? { rawPixels: null, untrained: null, bank: null, queries: null },
    selfsup: { epochs: rows, minutes: (lastRow?.elapsedSeconds ?? 0) / 60, runDir: displayPath(runDir) },
    torch: null,
  };

  const save = async (torch: TorchResult | null) => {
    q.torch = torch;
    fs.mkdirSync(outDir, { recursive: true });
    await writeFileAtomic(`${stem}.json`, `${JSON.stringify(q, null, 2)}\n`);
    const charts = await writeCharts(q, stem);
    const n = await regenerateTable(outDir, tableFile);
    err(`quality: wrote ${stem}.json, ${charts.filter((f) => f.endsWith('.png')).join(', ')}; ${tableFile} lists ${n} run(s)`);
  };
  if (recipe && !recipe.error) {
    fs.mkdirSync(outDir, { recursive: true });
    await writeFileAtomic(`${stem}.recipe.json`, `${JSON.stringify(recipe, null, 2)}\n`);
  }
  await save(null);

  if (a.compareTorch) {
    if (!recipe || recipe.error) {
      err(`quality: no PyTorch run: ${recipe?.error ?? `the run directory has no quality-recipe.json`}`);
      return 1;
    }
    try {
      const torch = await runTorch(torchPy!, script!, recipe, path.resolve(`${stem}.recipe.json`), `${stem}.torch.jsonl`, err, path.join(runDir, 'torch.ckpt'));
      await save(torch);
    } catch (e) {
      err(`quality: the PyTorch run failed: ${(e as Error).message}; the selfsup results are saved, and the same command continues PyTorch after its last finished epoch`);
      return 1;
    }
  }

  const f = (v: number | null | undefined) => (v === null || v === undefined ? '   -  ' : v.toFixed(4));
  const out = (l: string) => process.stdout.write(`${l}\n`);
  out(`kNN accuracy (k=${recipe?.knn?.k ?? 20}, T=${recipe?.knn?.temperature ?? 0.07}), ${a.subset === 'full' ? 'Fashion-MNIST 60k/10k' : 'embedded subset'}: bank ${q.baselines.bank ?? '-'}, queries ${q.baselines.queries ?? '-'}`);
  out(`  raw pixels           ${f(q.baselines.rawPixels)}`);
  out(`  untrained encoder    ${f(q.baselines.untrained)}`);
  out(`  selfsup, epoch ${lastRow?.epoch ?? '-'}     ${f(lastRow?.knn_acc)}${lastRow?.knn_acc_target != null ? ` (target ${f(lastRow.knn_acc_target)})` : ''}, ${q.selfsup.minutes.toFixed(1)} min`);
  const tl = q.torch?.epochs[q.torch.epochs.length - 1];
  if (q.torch) out(`  PyTorch, epoch ${tl?.epoch ?? '-'}     ${f(tl?.knn_acc)}${tl?.knn_acc_target != null ? ` (target ${f(tl.knn_acc_target)})` : ''}, ${q.torch.minutes.toFixed(1)} min`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      err(`quality: ${(e as Error)?.stack ?? String(e)}`);
      process.exit(1);
    },
  );
}
