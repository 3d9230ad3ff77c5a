import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { loadLayersModelFromDir, recoverAtomicDir, type ResolvedConfig } from '@selfsup/core';
import { loadResolvedConfig } from './context';

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
  throw new Error(
    `${targetArg}: found no encoder; expected an exported model (model.json + weights.bin), a checkpoint directory with encoder/, or a run directory with export/encoder or checkpoints/{best,last}`,
  );
}
