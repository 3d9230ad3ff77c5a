import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import {
  createRun,
  disposeSnapshot,
  loadCheckpoint,
  loadLayersModelFromDir,
  recoverAtomicDir,
  restoreModelWeights,
  type Experiment,
  type ExperimentSnapshot,
  type ExportEncoderChoice,
  type ResolvedConfig,
} from '@selfsup/core';
import { cloneArchitecture, conventionalTargetName, copyWeights, declaredTargetEncoder } from '@selfsup/callbacks';
import { UsageError } from './args';
import { loadResolvedConfig, openData } from './context';

/** Which of a method's encoders: the trained (online) one or its target (EMA) copy. */
export type EncoderChoice = 'online' | 'target';
export const ENCODER_CHOICES: readonly EncoderChoice[] = ['online', 'target'];

/** `--encoder online|target` → the choice (undefined when not given); anything else is a usage error. */
export function parseEncoderChoice(value: string | undefined): EncoderChoice | undefined {
  if (value === undefined) return undefined;
  if (!(ENCODER_CHOICES as readonly string[]).includes(value)) throw new UsageError(`--encoder must be ${ENCODER_CHOICES.join(' or ')}, got "${value}"`);
  return value as EncoderChoice;
}

export interface EncoderDecision {
  encoder: EncoderChoice;
  /** Why, in words (for the summary). */
  reason: string;
}

/**
 * What `export.encoder` means for a run: `online` and `target` as said (`target` fails when
 * there is no target encoder); `best` the encoder with the higher kNN accuracy, online on a
 * tie and when there is no target or a number is missing.
 */
export function chooseEncoder(choice: ExportEncoderChoice, knn: { online?: number; target?: number }, hasTarget: boolean): EncoderDecision {
  if (choice === 'online') return { encoder: 'online', reason: 'export.encoder: online' };
  if (choice === 'target') {
    if (!hasTarget) throw new Error('export.encoder = "target": the method has no target encoder (BYOL builds target_encoder in the target-init callback); use online or best');
    return { encoder: 'target', reason: 'export.encoder: target' };
  }
  if (choice !== 'best') throw new Error(`export.encoder = ${JSON.stringify(choice)}: expected online, target or best`);
  if (!hasTarget) return { encoder: 'online', reason: 'export.encoder: best; the method has no target encoder' };
  const { online, target } = knn;
  if (online === undefined || target === undefined || !Number.isFinite(online) || !Number.isFinite(target)) {
    return { encoder: 'online', reason: 'export.encoder: best; no kNN accuracy of both encoders to compare' };
  }
  if (target > online) return { encoder: 'target', reason: `export.encoder: best; kNN ${target.toFixed(4)} vs online ${online.toFixed(4)}` };
  return { encoder: 'online', reason: `export.encoder: best; kNN ${online.toFixed(4)} vs target ${target.toFixed(4)}${target === online ? ', online on ties' : ''}` };
}

export interface LoadedEncoder {
  encoder: tf.LayersModel;
  /** Where the weights came from (for messages). */
  source: string;
  /** Which encoder it is, when known (always for a checkpoint; from summary.json for a run's export). */
  which?: EncoderChoice;
  /** The run's resolved config, when the target is (inside) a run directory. */
  resolved?: ResolvedConfig;
  runDir?: string;
}

export interface LoadEncoderOptions {
  /**
   * `online` or `target`. Default: what the run exported — a run directory's export/encoder,
   * and for a checkpoint the run's `export.encoder` (for `best`, the encoder with the higher
   * kNN accuracy in the checkpoint's last evaluated epoch).
   */
  encoder?: EncoderChoice;
}

const isFile = (p: string) => fs.existsSync(p) && fs.statSync(p).isFile();

/** Finds the run directory a target belongs to: the target itself, or two levels up from a checkpoint. */
function runDirOf(target: string): string | undefined {
  for (const d of [target, path.dirname(target), path.dirname(path.dirname(target)), path.dirname(path.dirname(path.dirname(target)))]) {
    if (isFile(path.join(d, 'config.resolved.yaml'))) return d;
  }
  return undefined;
}

/** Which encoder `selfsup train` wrote to `<runDir>/export/encoder` (summary.json; runs from before the choice existed exported the online one). */
export function exportedEncoderOf(runDir: string): EncoderChoice {
  try {
    const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as { exportedEncoder?: unknown };
    return summary.exportedEncoder === 'target' ? 'target' : 'online';
  } catch {
    return 'online';
  }
}

/**
 * The encoder of a run directory (its export/encoder, else its best or last checkpoint), of
 * a checkpoint directory, or of an exported model directory (model.json + weights.bin).
 * With `opts.encoder`, that encoder: a run directory's export/encoder only if it holds that
 * one (summary.json says which), else rebuilt from the best or last checkpoint.
 */
export async function loadEncoder(
  targetArg: string,
  plugins: string[] = [],
  /** Runs before any tensor is made (select the backend here). */
  beforeLoad: (resolved: ResolvedConfig | undefined) => Promise<unknown> = async () => undefined,
  opts: LoadEncoderOptions = {},
): Promise<LoadedEncoder> {
  const target = path.resolve(targetArg);
  if (!fs.existsSync(target)) throw new UsageError(`${targetArg}: no such directory (resolved to ${target}); pass a run directory like runs/<name>/version_<N>, or a checkpoint or export directory in it`);
  const runDir = runDirOf(target);
  const resolved = runDir ? await loadResolvedConfig({ file: path.join(runDir, 'config.resolved.yaml'), plugins }) : undefined;
  const want = opts.encoder;

  const candidates: string[] = [];
  if (isFile(path.join(target, 'model.json'))) candidates.push(target);
  candidates.push(path.join(target, 'encoder'));
  if (runDir === target) {
    candidates.push(path.join(target, 'export', 'encoder'));
    for (const c of ['best', 'last']) candidates.push(path.join(target, 'checkpoints', c, 'encoder'));
  }
  for (const dir of candidates) {
    await recoverAtomicDir(dir).catch(() => undefined);
    if (isFile(path.join(dir, 'model.json'))) {
      // only a run's own export says which encoder it holds
      const which = runDir && dir === path.join(runDir, 'export', 'encoder') ? exportedEncoderOf(runDir) : undefined;
      if (want !== undefined && which !== want) {
        if (dir === target) {
          throw new UsageError(
            `${targetArg}: an exported model holds one network (${which ? `the ${which} encoder` : 'which one is not recorded'}); for --encoder ${want} pass a checkpoint directory or the run directory`,
          );
        }
        continue; // a run directory: the checkpoints have both
      }
      await beforeLoad(resolved);
      return { encoder: await loadLayersModelFromDir(dir), source: dir, which, resolved, runDir };
    }
  }
  // a checkpoint: rebuild the method's models from the run's config, then load the encoder's weights
  const ckpts = isFile(path.join(target, 'meta.json')) ? [target] : runDir === target ? ['best', 'last'].map((c) => path.join(target, 'checkpoints', c)) : [];
  for (const dir of ckpts) {
    await recoverAtomicDir(dir).catch(() => undefined);
    if (!isFile(path.join(dir, 'meta.json'))) continue;
    if (!resolved) throw new UsageError(`${targetArg}: a checkpoint outside a run directory; pass the run directory (it has config.resolved.yaml)`);
    await beforeLoad(resolved);
    const { encoder, which } = await encoderFromCheckpoint(resolved, dir, want);
    return { encoder, source: dir, which, resolved, runDir };
  }
  throw new UsageError(
    `${targetArg}: found no encoder; expected an exported model (model.json + weights.bin), a checkpoint directory with encoder/, or a run directory with export/encoder or checkpoints/{best,last}`,
  );
}

/** The last epoch of a checkpoint's History with a finite knn_acc, and knn_acc_target in that epoch. */
function checkpointKnn(snapshot: ExperimentSnapshot): { online?: number; target?: number } {
  const h = snapshot.meta.history?.history ?? {};
  const online = h.knn_acc ?? [];
  for (let i = online.length - 1; i >= 0; i--) {
    if (Number.isFinite(online[i])) return { online: online[i], target: h.knn_acc_target?.[i] };
  }
  return {};
}

async function encoderFromCheckpoint(resolved: ResolvedConfig, dir: string, want: EncoderChoice | undefined): Promise<{ encoder: tf.LayersModel; which: EncoderChoice }> {
  const run = createRun(resolved);
  const exp = run.experiment;
  const snapshot = await loadCheckpoint(dir);
  try {
    const data = await openData(resolved, () => undefined);
    exp.datasets.set('train', data.train);
    await exp.setup();
    const encoder = pickEncoder(exp);
    const name = [...exp.models.entries()].find(([, m]) => m === encoder)![0];
    // the target network is built at experimentStart (target-init), not by setup(): the
    // checkpoint names it, and it has the online encoder's architecture
    const targetName = targetEncoderName(exp);
    const hasTarget = targetName in snapshot.meta.models;
    const which = want ?? chooseEncoder(resolved.root.export.encoder, checkpointKnn(snapshot), hasTarget).encoder;
    if (which === 'online') {
      restoreModelWeights(encoder, snapshot, name);
      exp.models.delete(name); // keep it alive past exp.dispose()
      return { encoder, which };
    }
    if (!hasTarget) {
      throw new Error(`${dir}: the checkpoint has no target encoder "${targetName}" (it has: ${Object.keys(snapshot.meta.models).join(', ')}); use --encoder online`);
    }
    const copy = await cloneArchitecture(encoder, targetName);
    try {
      restoreModelWeights(copy, snapshot, targetName);
    } catch (err) {
      copy.dispose();
      throw err;
    }
    return { encoder: copy, which };
  } finally {
    disposeSnapshot(snapshot);
    exp.dispose();
    await run.dispose();
  }
}

/** The model a run exports as "the encoder": the method's `encoder` getter, else `online_encoder` or `encoder`. */
export function pickEncoder(exp: Experiment<unknown, unknown>): tf.LayersModel {
  // a getter of the method's (SslExperiment's), declared on its class, not on Experiment
  const own = 'encoder' in exp ? (exp.encoder as tf.LayersModel | undefined) : undefined;
  const m = own ?? exp.models.get('online_encoder') ?? exp.models.get('encoder');
  if (!m) throw new Error(`cannot tell which model is the encoder (models: ${[...exp.models.keys()].join(', ')}); name it "encoder" or give the experiment an "encoder" getter`);
  return m;
}

/**
 * The key of the target (EMA) encoder in `exp.models`: the model the method's `targetEncoder`
 * getter returns, else `target_<encoder key without "online_">` (BYOL: `target_encoder`).
 * Also the name a checkpoint stores it under.
 */
export function targetEncoderName(exp: Experiment<unknown, unknown>): string {
  const declared = declaredTargetEncoder(exp);
  const found = declared && [...exp.models.entries()].find(([, m]) => m === declared);
  if (found) return found[0];
  const online = pickEncoder(exp);
  const onlineName = [...exp.models.entries()].find(([, m]) => m === online)?.[0] ?? online.name;
  return conventionalTargetName(onlineName);
}

/** The target (EMA) encoder of a method that has one (see targetEncoderName), else undefined. */
export function pickTargetEncoder(exp: Experiment<unknown, unknown>): tf.LayersModel | undefined {
  const m = declaredTargetEncoder(exp) ?? exp.models.get(targetEncoderName(exp));
  return m === pickEncoder(exp) ? undefined : m;
}

/**
 * A standalone copy of the target encoder for saving: the online encoder's architecture
 * under the target's name, with the target's weights (BN statistics too), and trainable —
 * the live target is frozen, and a frozen export would surprise a user who fine-tunes it.
 * The caller disposes it.
 */
export async function exportableTargetEncoder(exp: Experiment<unknown, unknown>): Promise<tf.LayersModel> {
  const target = pickTargetEncoder(exp);
  if (!target) throw new Error(`the experiment has no target encoder (models: ${[...exp.models.keys()].join(', ')})`);
  const copy = await cloneArchitecture(pickEncoder(exp), targetEncoderName(exp));
  try {
    copyWeights(target, copy);
  } catch (err) {
    copy.dispose();
    throw err;
  }
  return copy;
}
