/**
 * Checkpoints on disk: one directory per checkpoint (`tensors.json` + `tensors.bin` +
 * `meta.json`, written by the io layer's `saveTensors`), replaced as a whole with
 * `writeDirAtomic`, so a process killed at any moment leaves the old or the new checkpoint,
 * never a torn one. Readers first finish or roll back a write a crash interrupted.
 *
 * @packageDocumentation
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { recoverAtomicDir, writeDirAtomic, type WriteDirAtomicOptions } from '../../io/atomic';
import { loadTensors, saveTensors, META_JSON } from '../../io/tensors';
import type { Experiment } from '../experiment';
import { captureExperimentState, type CaptureOptions } from './capture';
import { decodeNonFiniteJson, disposeSnapshot, encodeNonFiniteJson, SnapshotMismatchError, upgradeMeta, type ExperimentSnapshot, type SnapshotMeta } from './format';
import { restoreExperimentState, type RestoreOptions } from './restore';
import { setCheckpointReader } from './reader';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any>;

export interface SaveCheckpointOptions extends CaptureOptions {
  /** Passed to writeDirAtomic (fault injection in tests). */
  atomic?: WriteDirAtomicOptions;
}

/** Writes an already captured snapshot to `dir`, replacing it atomically. */
export async function writeSnapshot(dir: string, snapshot: ExperimentSnapshot, atomic: WriteDirAtomicOptions = {}): Promise<void> {
  await writeDirAtomic(
    dir,
    async (tmp) => {
      await saveTensors(tmp, snapshot.tensors, encodeNonFiniteJson(snapshot.meta) as object);
    },
    atomic,
  );
}

/**
 * Captures `exp` and writes it to `dir` as one atomic directory replacement: after a crash
 * at any moment `dir` holds the complete previous checkpoint or the complete new one.
 */
export async function saveCheckpoint(
  dir: string,
  exp: AnyExperiment,
  extra?: Record<string, unknown>,
  opts: SaveCheckpointOptions = {},
): Promise<SnapshotMeta> {
  const snapshot = await captureExperimentState(exp, { ...opts, extra: { ...opts.extra, ...extra } });
  try {
    await writeSnapshot(dir, snapshot, opts.atomic);
    return snapshot.meta;
  } finally {
    disposeSnapshot(snapshot);
  }
}

function parseMeta(raw: unknown, dir: string): SnapshotMeta {
  return upgradeMeta(decodeNonFiniteJson(raw), `checkpoint "${dir}"`);
}

/**
 * Reads a checkpoint directory (after finishing or rolling back a write a crash interrupted);
 * an older version's meta comes back in this build's shape. The caller owns the returned
 * tensors (`disposeSnapshot`).
 */
export async function loadCheckpoint(dir: string): Promise<ExperimentSnapshot> {
  await recoverAtomicDir(path.resolve(dir));
  try {
    await fsp.access(dir);
  } catch {
    throw new Error(`loadCheckpoint: no checkpoint at "${dir}"; pass a checkpoint directory (e.g. <run>/checkpoints/last) or a run directory`);
  }
  const { tensors, meta } = await loadTensors<unknown>(dir);
  try {
    return { tensors, meta: parseMeta(meta, dir) };
  } catch (err) {
    tf.dispose(Object.values(tensors));
    throw err;
  }
}

/** Only the JSON part of a checkpoint (counters, history, config…): no tensors are loaded. */
export async function readCheckpointMeta(dir: string): Promise<SnapshotMeta> {
  await recoverAtomicDir(path.resolve(dir));
  const file = path.join(dir, META_JSON);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new Error(`readCheckpointMeta: cannot read "${file}"; is "${dir}" a checkpoint directory?`);
  }
  try {
    return parseMeta(JSON.parse(text), dir);
  } catch (err) {
    if (err instanceof SnapshotMismatchError) throw err;
    throw new Error(`readCheckpointMeta: "${file}" is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Loads the checkpoint in `dir` into `exp` at once and frees the loaded tensors (see
 * `restoreExperimentState`: every model must exist). To resume training, use
 * `exp.restore(dir)` or `fit(data, { resumeFrom })`, which restore at the right moment of fit.
 */
export async function restoreCheckpoint(dir: string, exp: AnyExperiment, opts: RestoreOptions = {}): Promise<SnapshotMeta> {
  const snapshot = await loadCheckpoint(dir);
  try {
    await restoreExperimentState(exp, snapshot, opts);
    return snapshot.meta;
  } finally {
    disposeSnapshot(snapshot);
  }
}

/**
 * Accepts a checkpoint directory, a `checkpoints/` directory (→ its `last/`) or a run
 * directory (→ `checkpoints/last/`), as `selfsup train --resume` does; returns the
 * checkpoint directory or throws naming what was looked for.
 */
export async function resolveCheckpointDir(p: string): Promise<string> {
  const candidates = [p, path.join(p, 'last'), path.join(p, 'checkpoints', 'last')];
  for (const c of candidates) {
    await recoverAtomicDir(path.resolve(c));
    try {
      await fsp.access(path.join(c, META_JSON));
      return c;
    } catch {
      // try the next layout
    }
  }
  throw new Error(`no checkpoint found at "${p}" (looked for ${candidates.map((c) => path.join(c, META_JSON)).join(', ')})`);
}

// Experiment.restore / fit's resumeFrom read checkpoint directories through this module
// wherever it is loaded (the Node entry of @selfsup/core loads it).
setCheckpointReader({ resolveDir: resolveCheckpointDir, readMeta: readCheckpointMeta, restore: restoreCheckpoint });
