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
  type ResolvedConfig,
} from '@selfsup/core';
import { loadResolvedConfig, openData } from './context';

export interface LoadedEncoder {
  encoder: tf.LayersModel;
  /** Where the weights came from (for messages). */
  source: string;
  /** The run's resolved config, when the target is (inside) a run directory. */
  resolved?: ResolvedConfig;
  runDir?: string;
}

const isFile = (p: string) => fs.existsSync(p) && fs.statSync(p).isFile();

/** Finds the run directory a target belongs to: the target itself, or two levels up from a checkpoint. */
function runDirOf(target: string): string | undefined {
  for (const d of [target, path.dirname(target), path.dirname(path.dirname(target)), path.dirname(path.dirname(path.dirname(target)))]) {
    if (isFile(path.join(d, 'config.resolved.yaml'))) return d;
  }
  return undefined;
}

/**
 * The encoder of a run directory (its export/encoder, else its best or last checkpoint), of
 * a checkpoint directory, or of an exported model directory (model.json + weights.bin).
 */
export async function loadEncoder(
  targetArg: string,
  plugins: string[] = [],
  /** Runs before any tensor is made (select the backend here). */
  beforeLoad: (resolved: ResolvedConfig | undefined) => Promise<unknown> = async () => undefined,
): Promise<LoadedEncoder> {
  const target = path.resolve(targetArg);
  if (!fs.existsSync(target)) throw new Error(`${targetArg}: no such directory`);
  const runDir = runDirOf(target);
  const resolved = runDir ? await loadResolvedConfig({ file: path.join(runDir, 'config.resolved.yaml'), plugins }) : undefined;

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
      await beforeLoad(resolved);
      return { encoder: await loadLayersModelFromDir(dir), source: dir, resolved, runDir };
    }
  }
  // a checkpoint: rebuild the method's models from the run's config, then load the encoder's weights
  const ckpts = isFile(path.join(target, 'meta.json')) ? [target] : runDir === target ? ['best', 'last'].map((c) => path.join(target, 'checkpoints', c)) : [];
  for (const dir of ckpts) {
    await recoverAtomicDir(dir).catch(() => undefined);
    if (!isFile(path.join(dir, 'meta.json'))) continue;
    if (!resolved) throw new Error(`${targetArg}: a checkpoint outside a run directory; pass the run directory (it has config.resolved.yaml)`);
    await beforeLoad(resolved);
    return { encoder: await encoderFromCheckpoint(resolved, dir), source: dir, resolved, runDir };
  }
  throw new Error(
    `${targetArg}: found no encoder; expected an exported model (model.json + weights.bin), a checkpoint directory with encoder/, or a run directory with export/encoder or checkpoints/{best,last}`,
  );
}

async function encoderFromCheckpoint(resolved: ResolvedConfig, dir: string): Promise<tf.LayersModel> {
  const run = createRun(resolved);
  const exp = run.experiment;
  const snapshot = await loadCheckpoint(dir);
  try {
    const data = await openData(resolved, () => undefined);
    exp.datasets.set('train', data.train);
    await exp.setup();
    const encoder = pickEncoder(exp);
    const name = [...exp.models.entries()].find(([, m]) => m === encoder)![0];
    restoreModelWeights(encoder, snapshot, name);
    exp.models.delete(name); // keep it alive past exp.dispose()
    return encoder;
  } finally {
    disposeSnapshot(snapshot);
    exp.dispose();
    await run.dispose();
  }
}

/** The model a run exports as "the encoder": the method's `encoder` getter, else `online_encoder` or `encoder`. */
export function pickEncoder(exp: Experiment<unknown, unknown>): tf.LayersModel {
  const own = (exp as unknown as { encoder?: tf.LayersModel }).encoder;
  const m = own ?? exp.models.get('online_encoder') ?? exp.models.get('encoder');
  if (!m) throw new Error(`cannot tell which model is the encoder (models: ${[...exp.models.keys()].join(', ')}); name it "encoder" or give the experiment an "encoder" getter`);
  return m;
}
