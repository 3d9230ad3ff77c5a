/**
 * The checkpoint format: what `meta.json` holds, how tensors are keyed, how the JSON keeps
 * NaN and ±Infinity, and how an older version is read.
 *
 * On disk a checkpoint is one directory written by the io layer's `saveTensors`
 * (`tensors.json` + `tensors.bin` + `meta.json`), replaced as a whole (see ./io).
 *
 * Naming is position-based where tfjs names are not stable: tfjs uniquifies variable names
 * per process (`dense_Dense1/kernel`, then `dense_Dense1/kernel_1` for a second copy), so a
 * weight is identified by its model's name and its index in layer order (the order
 * `model.layers.flatMap(l => l.weights)`, which freezing a model does not change — unlike
 * `model.weights`). The tfjs names are stored alongside for error messages, and the weight's
 * own name (`kernel`, `gamma`, `moving_mean`…) is checked on restore. Optimizer slots, which
 * tfjs names `<variable name>/<slot>`, are translated to `<model>#<index>/<slot>` likewise.
 *
 * Versions: 1 (the first) kept the experiment's generators only; 2 adds `callbackRngs`, the
 * generators callbacks declare; 3 adds `buffers`, the tensors an experiment declares besides
 * its weights (`exp.buffers()`: MoCo's queue). Versions 1 and 2 are read as a version 3
 * without callback generators (1) and without buffers.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import type { RngState } from '../../util/rng';
import type { HistoryJSON } from '../history';

export const CHECKPOINT_FORMAT = 'selfsup-checkpoint';
/** The version this build writes. */
export const CHECKPOINT_VERSION = 3;
/** The versions this build reads. */
export const READABLE_CHECKPOINT_VERSIONS: readonly number[] = [1, 2, 3];

/** The loop position a resumed run starts from. */
export interface SnapshotCounters {
  /** The epoch to run next (0-based). */
  epoch: number;
  /** Optimizer steps already done. */
  globalStep: number;
  /** Batches of `epoch` already done (> 0 only for a checkpoint taken mid-epoch). */
  batchIndex: number;
}

/**
 * The loop's own state (`Experiment.stateDict()`): where a resumed run starts and the History
 * up to there, the row of an epoch whose end is running (or that was cut short) included.
 * A checkpoint keeps it as `meta.counters` and `meta.history`.
 */
export interface LoopStateDict {
  counters: SnapshotCounters;
  history: HistoryJSON;
}

/** One model weight in a snapshot, in layer order. */
export interface SnapshotWeight {
  /** Key of the tensor in the snapshot's tensor map. */
  key: string;
  /** The tfjs variable name when saved (informative: it differs between processes). */
  name: string;
  shape: number[];
  dtype: string;
}

/** One optimizer state tensor, in the order `getWeights()` returned it (tfjs optimizers rely on it). */
export interface SnapshotOptimizerWeight {
  key: string;
  /** The name `getWeights()` gave, when saved. */
  name: string;
  /** Set when the name was `<variable>/<slot>` of a model weight: that weight's model... */
  model?: string;
  /** ...its index in layer order... */
  index?: number;
  /** ...and the rest of the name (e.g. `momentum`, `m`). Absent for names like `iter`. */
  suffix?: string;
}

/** One buffer of the experiment (`exp.buffers()`) in a snapshot. Version 3. */
export interface SnapshotBuffer {
  /** Key of the tensor in the snapshot's tensor map. */
  key: string;
  shape: number[];
  dtype: string;
}

export interface SnapshotOptimizer {
  className: string;
  weights: SnapshotOptimizerWeight[];
}

/** The JSON half of a snapshot (`meta.json` of a checkpoint), as this build reads and writes it. */
export interface SnapshotMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  savedAt: string;
  /** The loop's position (see {@link LoopStateDict}). */
  counters: SnapshotCounters;
  models: Record<string, SnapshotWeight[]>;
  optimizer: SnapshotOptimizer | null;
  /** The experiment's generators (`exp.rngs()`), by name. */
  rngs: Record<string, RngState>;
  /** Each callback's `getState()`, by callback name. */
  callbacks: Record<string, Record<string, unknown>>;
  /** The generators each callback declares (`callback.rngs()`), by callback name, then name. Version 2. */
  callbackRngs: Record<string, Record<string, RngState>>;
  /** The experiment's buffers (`exp.buffers()`), by name. Version 3. */
  buffers: Record<string, SnapshotBuffer>;
  /** The loop's History (see {@link LoopStateDict}). */
  history: HistoryJSON;
  /** The resolved config as plain JSON (see `experimentConfigJson`). */
  config: unknown;
  /** Whatever the writer added (e.g. the checkpoint callback's monitored value). */
  extra: Record<string, unknown>;
  /**
   * The optimizer steps the run planned when this was saved (`exp.run.totalSteps`: epochs ×
   * steps per epoch, capped by maxSteps), which schedules such as the learning rate's and EMA's τ
   * span. Absent when the run did not know it, and in checkpoints written before it was recorded.
   */
  totalSteps?: number;
}

/** Tensors (owned by whoever holds the snapshot: dispose with {@link disposeSnapshot}) + meta. */
export interface ExperimentSnapshot {
  tensors: Record<string, tf.Tensor>;
  meta: SnapshotMeta;
}

export function disposeSnapshot(snapshot: ExperimentSnapshot): void {
  tf.dispose(Object.values(snapshot.tensors));
}

/** Raised when a snapshot does not fit the experiment; says which part and why. */
export class SnapshotMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotMismatchError';
  }
}

// ---------------------------------------------------------------------------------------
// Meta: check and upgrade

/**
 * Checks format and version and returns the meta in this build's shape (a version 1 meta
 * gets an empty `callbackRngs`, a version 1 or 2 one empty `buffers`). `where` names the
 * checkpoint in messages.
 */
export function upgradeMeta(raw: unknown, where: string): SnapshotMeta {
  const meta = raw as Partial<SnapshotMeta> | undefined;
  if (!meta || meta.format !== CHECKPOINT_FORMAT) {
    throw new SnapshotMismatchError(`${where}: not a selfsup checkpoint (format ${JSON.stringify(meta?.format)}, expected "${CHECKPOINT_FORMAT}")`);
  }
  if (!READABLE_CHECKPOINT_VERSIONS.includes(meta.version as number)) {
    throw new SnapshotMismatchError(
      `${where}: checkpoint version ${meta.version} is not supported (this build reads version${READABLE_CHECKPOINT_VERSIONS.length > 1 ? 's' : ''} ${READABLE_CHECKPOINT_VERSIONS.join(', ')})`,
    );
  }
  return { ...meta, callbackRngs: meta.callbackRngs ?? {}, buffers: meta.buffers ?? {} } as SnapshotMeta;
}

/** Throws unless the counters are integers ≥ 0. */
export function checkCounters(c: SnapshotCounters): void {
  for (const k of ['epoch', 'globalStep', 'batchIndex'] as const) {
    if (!Number.isInteger(c?.[k]) || c[k] < 0) {
      throw new SnapshotMismatchError(`restore: counter ${k} is ${JSON.stringify(c?.[k])} in the checkpoint; expected an integer ≥ 0 (damaged meta.json?)`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// JSON with NaN/Infinity (History rows are NaN-filled; JSON.stringify would make them null)

const NUM = '$number';

/** Replaces non-finite numbers by `{ "$number": "NaN" }` so they survive JSON. */
export function encodeNonFiniteJson(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : { [NUM]: String(value) };
  if (Array.isArray(value)) return value.map(encodeNonFiniteJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeNonFiniteJson(v)]));
  }
  return value;
}

/** Inverse of {@link encodeNonFiniteJson}. */
export function decodeNonFiniteJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeNonFiniteJson);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === NUM && typeof o[NUM] === 'string') return Number(o[NUM]);
    return Object.fromEntries(keys.map((k) => [k, decodeNonFiniteJson(o[k])]));
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// Weight naming

/** A model's weights in layer order — an order freezing the model does not change. */
export function layerOrderedWeights(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.flatMap((l) => l.weights);
}

/** `kernel` from `online_encoder/fc/kernel_1`: the part of a weight name that is stable. */
export function weightOwnName(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.replace(/_\d+$/, '');
}

/** The tensor key of weight `index` (layer order) of `model`, whose own name is `name`. */
export function modelWeightKey(model: string, index: number, name: string): string {
  return `model/${model}/${index}/${name}`;
}

/** The tensor key of the experiment's buffer `name`. */
export function bufferKey(name: string): string {
  return `buffer/${name}`;
}

/** The tensor key of the `index`-th optimizer state tensor, named `name` by `getWeights()`. */
export function optimizerWeightKey(index: number, name: string): string {
  return `optimizer/${index}/${name}`;
}
