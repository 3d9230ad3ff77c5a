import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ConfigError,
  createRun,
  createRunDir,
  isUserError,
  plugins,
  saveLayersModel,
  toYaml,
  writeEnvJson,
  writeFileAtomic,
  type ImageBatch,
  type NativeKernelsPreference,
  type ResolvedConfig,
} from '@selfsup/core';
import { evaluateKnn, flattenPixels } from '@selfsup/callbacks';
import { UsageError } from './args';
import { loadResolvedConfig, openData, stdio, useBackend, type Output, type RunData } from './context';
import { chooseEncoder, exportableTargetEncoder, pickEncoder, pickTargetEncoder, type EncoderChoice } from './encoder';

export interface TrainOptions {
  /** The YAML config (optional with `resume`: the run's config.resolved.yaml is used). */
  config?: string;
  overrides?: string[];
  plugins?: string[];
  backend?: string;
  /** `--native-kernels`: overrides trainer.nativeKernels (oneDNN kernels under wasm). */
  nativeKernels?: NativeKernelsPreference;
  /** Root of run directories (default `runs`). */
  out?: string;
  /** A run directory (runs/<name>/version_<N>) to continue from its last checkpoint. */
  resume?: string;
  maxSteps?: number;
  /** Skip the kNN baselines (raw pixels, untrained encoder) printed at the end. */
  noBaselines?: boolean;
  io?: Output;
}

export interface TrainResult {
  runDir: string;
  history: Record<string, number[]>;
  /** Final kNN accuracies: `trained` is the online encoder, `target` the target (EMA) encoder when the method has one. */
  knn?: { trained?: number; target?: number; rawPixels?: number; randomInit?: number };
  exportDir?: string;
  /** Which encoder export/encoder holds (`export.encoder` decided it; see exportReason). */
  exportedEncoder?: EncoderChoice;
  exportReason?: string;
}

/** Callbacks every CLI run gets unless the config lists them itself. */
const CLI_DEFAULT_CALLBACKS = ['metrics-logger', 'plots', 'progress', 'checkpoint'];


/** The checkpoint `--resume DIR` continues from; a UsageError when DIR is not a run directory with one. */
function resumeCheckpointOf(dir: string): { resolvedFile: string; checkpoint: string } {
  const runHint = 'pass a run directory like runs/<name>/version_<N>';
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`--resume ${dir}: no such directory (resolved to ${path.resolve(dir)}); ${runHint}`);
  if (!stat.isDirectory()) throw new UsageError(`--resume ${dir}: a file, not a directory; ${runHint}`);
  const resolvedFile = path.join(dir, 'config.resolved.yaml');
  if (!fs.existsSync(resolvedFile)) throw new UsageError(`--resume ${dir}: no config.resolved.yaml there, so not a run directory; ${runHint}`);
  const checkpoint = path.join(dir, 'checkpoints', 'last');
  if (!fs.existsSync(checkpoint)) throw new UsageError(`--resume ${dir}: no checkpoint at ${checkpoint} (the first epoch did not finish); start the run again without --resume`);
  return { resolvedFile, checkpoint };
}

/** What decides a run's float arithmetic: the backend, and under wasm whether the oneDNN kernels run. */
function arithmeticOf(env: { backend?: unknown; nativeKernels?: unknown }): string {
  const kernels = env.backend === 'wasm' ? (env.nativeKernels ? ' with the oneDNN kernels' : ' without the oneDNN kernels') : '';
  return `${String(env.backend)}${kernels}`;
}

/**
 * A resumed run continues bit for bit only on the arithmetic it started on. The run directory's
 * env.json says what that was; when the backend selected now differs (e.g. the run started with
 * --backend webgpu before config.resolved.yaml recorded it, and auto now picks wasm), refuse
 * before anything is written, unless --backend or --native-kernels chose the change.
 */
function checkResumeArithmetic(dir: string, now: { name: string; nativeKernels?: string | null }, opts: TrainOptions, log: (l: string) => void): void {
  const envFile = path.join(dir, 'env.json');
  let before: { backend?: unknown; nativeKernels?: unknown };
  try {
    before = JSON.parse(fs.readFileSync(envFile, 'utf8'));
  } catch {
    return; // no readable env.json: nothing recorded to compare with
  }
  if (typeof before.backend !== 'string') return;
  const was = arithmeticOf(before);
  const is = arithmeticOf({ backend: now.name, nativeKernels: now.nativeKernels ?? null });
  if (was === is) return;
  if (opts.backend !== undefined || opts.nativeKernels !== undefined) {
    log(`selfsup: --resume: this run trained on ${was} (${envFile}); it continues on ${is} as asked, which rounds differently: not bit for bit the uninterrupted run`);
    return;
  }
  const keep = `--backend ${before.backend}` + (before.backend === 'wasm' ? ` --native-kernels ${before.nativeKernels ? 'on' : 'off'}` : '');
  throw new UsageError(
    `--resume ${dir}: this run trained on ${was} (${envFile}), and this machine selected ${is}; ` +
      `continuing on other arithmetic would not reproduce the run. Add ${keep} to continue as it started, or --backend ${now.name} to switch on purpose`,
  );
}

/**
 * `selfsup train`: config → data → checks → backend → run dir → fit → export → summary.
 * Everything a user can get wrong (config, paths, plugins, --resume, a batch larger than the
 * data) is checked before the run directory is created, and fails with a UserError.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const io = opts.io ?? stdio;
  let configFile = opts.config;
  let resumeCheckpoint: string | undefined;
  if (opts.resume) {
    const r = resumeCheckpointOf(opts.resume);
    resumeCheckpoint = r.checkpoint;
    configFile ??= r.resolvedFile;
  }
  if (!configFile) throw new UsageError('train needs a config file: selfsup train <config.yaml>');

  const overrides = [...(opts.overrides ?? [])];
  if (opts.maxSteps !== undefined) overrides.push(`trainer.maxSteps=${opts.maxSteps}`);
  // --backend and --native-kernels are trainer settings like any --set: config.resolved.yaml
  // records them, so --resume continues on the backend the run started on
  if (opts.backend !== undefined) overrides.push(`trainer.backend=${opts.backend}`);
  if (opts.nativeKernels !== undefined) overrides.push(`trainer.nativeKernels=${opts.nativeKernels}`);
  const defaults = CLI_DEFAULT_CALLBACKS.filter((n) => plugins.hasCallback(n)).map((name) => ({ name }));
  // Resuming is the loop's (fit's resumeFrom), never a config setting: config.resolved.yaml
  // holds none, so a run directory resumes from its own last checkpoint however it started.
  let configResume: string | undefined;
  const edit = (plain: Record<string, unknown>) => {
    configResume = takeCheckpointResumeFrom(plain);
  };
  const resolved = await loadResolvedConfig({ file: configFile, overrides, plugins: opts.plugins, defaultCallbacks: defaults, edit });
  if (configResume !== undefined && resumeCheckpoint === undefined) {
    io.err(`selfsup: callbacks[checkpoint].resumeFrom is deprecated; resuming from ${configResume} (use selfsup train --resume RUN_DIR to continue a run)`);
    resumeCheckpoint = configResume;
  }
  // the data first (it makes no tensors): its paths and size are checked before anything else
  const data = await openData(resolved, io.err);
  const t = resolved.root.trainer;
  const batchOpts = { batchSize: t.batchSize, shuffle: true, seed: t.seed, dropRemainder: true };
  const perEpoch = data.train.numBatches(batchOpts);
  if (perEpoch < 1) {
    throw resolved.errorAt(
      'trainer.batchSize',
      t.batchSize,
      `the training set "${data.train.name}" has ${data.train.size} images, fewer than one batch (a partial batch is dropped); use a batchSize of at most ${data.train.size}, or more data`,
    );
  }

  const backend = await useBackend(resolved, undefined, io.err);
  if (opts.resume) checkResumeArithmetic(opts.resume, backend, opts, io.err);
  const run = createRun(resolved);
  const exp = run.experiment;
  try {
    // export.encoder: target needs a target network: the method declares one or target-init builds it
    if (resolved.root.export.encoder === 'target' && !('targetEncoder' in exp) && !resolved.callbacks.some((c) => c.name === 'target-init')) {
      throw resolved.errorAt('export.encoder', 'target', `method "${resolved.method.name}" has no target encoder (no targetEncoder getter, no target-init callback); use online or best`);
    }

    // the run context carries it (exp.run.resolvedConfig); the checkpoint records it with the weights
    exp.resolvedConfig = resolved;
    exp.datasets.set('train', data.train);
    if (data.val) exp.datasets.set('val', data.val);
    // models and optimizer: what they reject in the config fails here, before the run directory
    await exp.setup().catch((err: unknown) => {
      throw isUserError(err) ? ConfigError.of(err, '', resolved.file) : err;
    });

    const runDir = opts.resume ? path.resolve(opts.resume) : (await createRunDir({ root: opts.out ?? 'runs', name: resolved.name })).dir;
    io.err(`selfsup: run directory ${runDir}`);
    await writeFileAtomic(path.join(runDir, 'config.resolved.yaml'), toYaml(resolved.toPlain()));
    await writeEnvJson(runDir, { backend: backend.name, threads: backend.threads, simd: backend.simd, native: backend.native ?? null, nativeKernels: backend.nativeKernels ?? null, config: configFile });
    exp.runDir = runDir;

    const result: TrainResult = { runDir, history: {} };
    const canBaseline = !opts.noBaselines && !opts.resume && data.val?.hasLabels && data.train.hasLabels;
    const knnOpts = knnOptionsOf(resolved);
    if (canBaseline) {
      io.err('selfsup: kNN baselines (raw pixels, untrained encoder) ...');
      const raw = await evaluateKnn(flattenPixels, data.train, data.val!, knnOpts);
      const rnd = await evaluateKnn(pickEncoder(exp), data.train, data.val!, knnOpts);
      result.knn = { rawPixels: raw.top1, randomInit: rnd.top1 };
    }

    const fitOpts = run.fitOptions();
    fitOpts.stepsPerEpoch = Math.min(fitOpts.stepsPerEpoch ?? perEpoch, perEpoch);
    // the loop restores the checkpoint at experimentStart, once target-init has built the target network
    if (resumeCheckpoint !== undefined) fitOpts.resumeFrom = resumeCheckpoint;
    const history = await exp.fit(
      ({ epoch, skipBatches }) => data.train.batches({ ...batchOpts, epoch, skipBatches }) as AsyncIterable<ImageBatch>,
      fitOpts as Parameters<typeof exp.fit>[1],
    );
    result.history = history.toJSON().history;

    // final kNN of both encoders (from the last epoch's evaluation when knn-eval ran it)
    const target = pickTargetEncoder(exp);
    const labelled = !!(data.val?.hasLabels && data.train.hasLabels);
    if (labelled) {
      const finalKnn = async (key: string, model: typeof target) => {
        const logged = history.last(key);
        return logged !== undefined && Number.isFinite(logged) ? logged : (await evaluateKnn(model!, data.train, data.val!, knnOpts)).top1;
      };
      result.knn = { ...result.knn, trained: await finalKnn('knn_acc', pickEncoder(exp)) };
      if (target) result.knn.target = await finalKnn('knn_acc_target', target);
    }
    const decision = chooseEncoder(resolved.root.export.encoder, { online: result.knn?.trained, target: result.knn?.target }, target !== undefined);
    result.exportedEncoder = decision.encoder;
    result.exportReason = decision.reason;

    const exportDir = path.join(runDir, 'export', 'encoder');
    if (decision.encoder === 'target') {
      const copy = await exportableTargetEncoder(exp);
      try {
        await saveLayersModel(copy, exportDir);
      } finally {
        copy.dispose();
      }
    } else {
      await saveLayersModel(pickEncoder(exp), exportDir);
    }
    result.exportDir = exportDir;
    io.err(`selfsup: ${decision.encoder} encoder exported to ${exportDir} (${decision.reason}); load it with tf.loadLayersModel`);

    if (labelled) printSummary(io, resolved, data, result);
    await writeFileAtomic(path.join(runDir, 'summary.json'), JSON.stringify({ ...result, history: undefined }, null, 2));
    return result;
  } finally {
    exp.dispose();
    await run.dispose();
  }
}

/**
 * Removes `resumeFrom` from the checkpoint callback's entry of a plain config and returns it
 * (when a path): the option is gone, but older versions of `--resume` wrote it into
 * config.resolved.yaml, and older configs may set it.
 */
function takeCheckpointResumeFrom(plain: Record<string, unknown>): string | undefined {
  const callbacks = Array.isArray(plain.callbacks) ? (plain.callbacks as unknown[]) : [];
  const entry = callbacks.find((c): c is Record<string, unknown> => !!c && typeof c === 'object' && (c as { name?: unknown }).name === 'checkpoint');
  if (!entry || !('resumeFrom' in entry)) return undefined;
  const from = entry.resumeFrom;
  delete entry.resumeFrom;
  return typeof from === 'string' && from !== '' ? from : undefined;
}

function knnOptionsOf(resolved: ResolvedConfig): { k?: number; temperature?: number; bankLimit?: number; queryLimit?: number } {
  const entry = resolved.callbacks.find((c) => c.name === 'knn-eval');
  const o = (entry?.options ?? {}) as { k?: number; temperature?: number; bankLimit?: number; queryLimit?: number };
  return { k: o.k, temperature: o.temperature, bankLimit: o.bankLimit, queryLimit: o.queryLimit };
}

function printSummary(io: Output, resolved: ResolvedConfig, data: RunData, r: TrainResult): void {
  const k = knnOptionsOf(resolved);
  const fmt = (v: number | undefined) => (v === undefined ? '   -  ' : v.toFixed(4));
  io.out(`kNN accuracy (k=${k.k ?? 20}, T=${k.temperature ?? 0.07}): memory bank "${data.train.name}" (${k.bankLimit ?? data.train.size}), queries "${data.val!.name}" (${k.queryLimit ?? data.val!.size})`);
  io.out(`  raw pixels           ${fmt(r.knn?.rawPixels)}`);
  io.out(`  untrained encoder    ${fmt(r.knn?.randomInit)}`);
  const label = (what: string) => `${what}${' '.repeat(Math.max(1, 21 - what.length))}`;
  io.out(`  ${label(`${resolved.method.name} encoder`)}${fmt(r.knn?.trained)}`);
  if (r.knn?.target !== undefined) io.out(`  ${label(`${resolved.method.name} target encoder`)}${fmt(r.knn.target)}`);
  if (r.exportedEncoder) io.out(`exported: the ${r.exportedEncoder === 'target' ? `${resolved.method.name} target` : `${resolved.method.name}`} encoder (${r.exportReason})`);
}
