/**
 * Everything an exact resume needs, captured from a live Experiment and put back into a
 * fresh one: every model weight, the optimizer's slots, the loop counters, every RNG state,
 * every callback's `getState()`, the History and the resolved config.
 *
 * On disk a checkpoint is one directory written by the io layer's `saveTensors`
 * (`tensors.json` + `tensors.bin` + `meta.json`), replaced as a whole with `writeDirAtomic`,
 * so a process killed at any moment leaves the old or the new checkpoint, never a torn one.
 *
 * Naming is position-based where tfjs names are not stable: tfjs uniquifies variable names
 * per process (`dense_Dense1/kernel`, then `dense_Dense1/kernel_1` for a second copy), so a
 * weight is identified by its model's name and its index in layer order (the order
 * `model.layers.flatMap(l => l.weights)`, which freezing a model does not change — unlike
 * `model.weights`). The tfjs names are stored alongside for error messages, and the weight's
 * own name (`kernel`, `gamma`, `moving_mean`…) is checked on restore. Optimizer slots, which
 * tfjs names `<variable name>/<slot>`, are translated to `<model>#<index>/<slot>` likewise.
 *
 * @packageDocumentation
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { recoverAtomicDir, writeDirAtomic, type WriteDirAtomicOptions } from '../io/atomic';
import { loadTensors, saveTensors, META_JSON } from '../io/tensors';
import { Rng, type RngState } from '../util/rng';
import type { Experiment } from './experiment';
import { History } from './history';

export const CHECKPOINT_FORMAT = 'selfsup-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** What `tf.Optimizer.getWeights()` returns (tfjs does not export the type). */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any>;

/** The loop position a resumed run starts from. */
export interface SnapshotCounters {
  /** The epoch to run next (0-based). */
  epoch: number;
  /** Optimizer steps already done. */
  globalStep: number;
  /** Batches of `epoch` already done (> 0 only for a checkpoint taken mid-epoch). */
  batchIndex: number;
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

export interface SnapshotOptimizer {
  className: string;
  weights: SnapshotOptimizerWeight[];
}

/** The JSON half of a snapshot (`meta.json` of a checkpoint). */
export interface SnapshotMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  savedAt: string;
  counters: SnapshotCounters;
  models: Record<string, SnapshotWeight[]>;
  optimizer: SnapshotOptimizer | null;
  rngs: Record<string, RngState>;
  callbacks: Record<string, Record<string, unknown>>;
  history: { epoch: number[]; history: Record<string, number[]> };
  /** The resolved config as plain JSON (see {@link experimentConfigJson}). */
  config: unknown;
  /** Whatever the writer added (e.g. the checkpoint callback's monitored value). */
  extra: Record<string, unknown>;
}

/** Tensors (owned by whoever holds the snapshot: dispose with {@link disposeSnapshot}) + meta. */
export interface ExperimentSnapshot {
  tensors: Record<string, tf.Tensor>;
  meta: SnapshotMeta;
}

export interface CaptureOptions {
  /** Counters to store instead of the live ones (see {@link countersAfterEpoch}). */
  counters?: SnapshotCounters;
  /** A History row the loop has not recorded yet (the epoch whose epochEnd is running). */
  pendingEpoch?: { epoch: number; metrics: Record<string, number> };
  extra?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------
// RNGs

/** An experiment that names its generators itself (when they are not own properties). */
export interface RngProvider {
  rngs(): Record<string, Rng>;
}

function isRng(v: unknown): v is Rng {
  // duck-typed: a plugin may bring its own copy of @selfsup/core and with it its own Rng class
  return (
    v instanceof Rng ||
    (!!v &&
      typeof v === 'object' &&
      typeof (v as Rng).getState === 'function' &&
      typeof (v as Rng).setState === 'function' &&
      typeof (v as Rng).nextUint32 === 'function')
  );
}

/**
 * The generators whose state a checkpoint saves, by name. An experiment may list them itself
 * with a `rngs(): Record<string, Rng>` method; otherwise every own property holding an `Rng`
 * counts (`rng`, and e.g. BYOL's `augmentRng`). Declare extra generators as properties of
 * the experiment (or return them from `rngs()`) and they are saved and restored.
 */
export function experimentRngs(exp: AnyExperiment): Record<string, Rng> {
  const provider = (exp as unknown as Partial<RngProvider>).rngs;
  if (typeof provider === 'function') {
    const out = provider.call(exp);
    for (const [k, v] of Object.entries(out)) {
      if (!isRng(v)) throw new Error(`${exp.constructor.name}.rngs(): "${k}" is not an Rng`);
    }
    return out;
  }
  const out: Record<string, Rng> = {};
  for (const key of Object.keys(exp)) {
    const v = (exp as unknown as Record<string, unknown>)[key];
    if (isRng(v)) out[key] = v;
  }
  return out;
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

/** Plain data only: tensors, models, functions and class instances with behaviour become markers. */
function toPlainJson(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'undefined' || typeof value === 'function' || typeof value === 'symbol') return undefined;
  const obj = value as object;
  if (obj instanceof tf.Tensor) return `<tensor [${obj.shape}]>`;
  if (obj instanceof tf.LayersModel) return `<model ${obj.name}>`;
  if (ArrayBuffer.isView(obj)) return `<${obj.constructor.name}>`;
  if (seen.has(obj) || depth > 12) return '<cycle>';
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return obj.map((v) => toPlainJson(v, depth + 1, seen) ?? null);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      const p = toPlainJson(v, depth + 1, seen);
      if (p !== undefined) out[k] = p;
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

/**
 * The config a checkpoint records: `exp.resolvedConfig.toPlain()` or `exp.config.toPlain()`
 * when the experiment carries a ResolvedConfig, else `exp.config` reduced to plain data
 * (models, tensors and functions in it become `<...>` markers).
 */
export function experimentConfigJson(exp: AnyExperiment): unknown {
  for (const c of [(exp as unknown as { resolvedConfig?: unknown }).resolvedConfig, exp.config]) {
    if (c && typeof (c as { toPlain?: unknown }).toPlain === 'function') {
      return toPlainJson((c as { toPlain(): unknown }).toPlain());
    }
  }
  return toPlainJson(exp.config) ?? null;
}

// ---------------------------------------------------------------------------------------
// Weights

/** A model's weights in layer order — an order freezing the model does not change. */
export function layerOrderedWeights(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.flatMap((l) => l.weights);
}

/** `kernel` from `online_encoder/fc/kernel_1`: the part of a weight name that is stable. */
function weightOwnName(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.replace(/_\d+$/, '');
}

function modelWeightKey(model: string, index: number, name: string): string {
  return `model/${model}/${index}/${name}`;
}

/** tfjs variable name → [model, layer-order index], for every weight of every model. */
function variableIndex(exp: AnyExperiment): Map<string, { model: string; index: number }> {
  const out = new Map<string, { model: string; index: number }>();
  for (const [modelName, model] of exp.models) {
    layerOrderedWeights(model).forEach((w, index) => {
      const varName = (w.read() as tf.Variable).name;
      if (!out.has(varName)) out.set(varName, { model: modelName, index });
    });
  }
  return out;
}

/** Longest `<variable>` such that `name` is `<variable>/<suffix>`. */
function splitSlotName(
  name: string,
  vars: Map<string, { model: string; index: number }>,
): { model: string; index: number; suffix: string } | undefined {
  for (let cut = name.lastIndexOf('/'); cut > 0; cut = name.lastIndexOf('/', cut - 1)) {
    const hit = vars.get(name.slice(0, cut));
    if (hit) return { ...hit, suffix: name.slice(cut + 1) };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Counters

/**
 * The counters a run resumes from when saved during epochEnd: past a completed epoch,
 * `{ epoch + 1, batchIndex: 0 }`; for an epoch cut short by a stop (or maxSteps), the live
 * `{ epoch, batchIndex }`, so the resumed run skips the batches already done. Which of the
 * two is the loop's own verdict, `state.epochComplete`.
 */
export function countersAfterEpoch(exp: AnyExperiment): SnapshotCounters {
  const st = exp.state;
  return st.epochComplete
    ? { epoch: st.epoch + 1, globalStep: st.globalStep, batchIndex: 0 }
    : { epoch: st.epoch, globalStep: st.globalStep, batchIndex: st.batchIndex };
}

// ---------------------------------------------------------------------------------------
// Capture

/**
 * Captures the experiment's whole training state. Tensors are copies the caller owns (cheap:
 * tfjs clones share memory until the originals change); dispose them with
 * {@link disposeSnapshot}. Reads no tensor data, so it costs no device sync.
 */
export async function captureExperimentState(exp: AnyExperiment, opts: CaptureOptions = {}): Promise<ExperimentSnapshot> {
  const tensors: Record<string, tf.Tensor> = {};
  try {
    const models: Record<string, SnapshotWeight[]> = {};
    for (const [modelName, model] of exp.models) {
      models[modelName] = layerOrderedWeights(model).map((w, i) => {
        const v = w.read() as tf.Variable;
        const key = modelWeightKey(modelName, i, w.originalName);
        tensors[key] = v.clone();
        return { key, name: v.name, shape: [...v.shape], dtype: v.dtype };
      });
    }

    let optimizer: SnapshotOptimizer | null = null;
    if (exp.optimizer) {
      const opt = exp.optimizer;
      let named: NamedTensor[];
      try {
        named = await opt.getWeights();
      } catch (err) {
        throw new Error(
          `captureExperimentState: the optimizer ${opt.getClassName()} cannot report its state (${(err as Error).message}); ` +
            'use an optimizer with getWeights()/setWeights() (tfjs sgd/momentum/adam/rmsprop…, or @selfsup/byol\'s)',
        );
      }
      const vars = variableIndex(exp);
      optimizer = { className: opt.getClassName(), weights: [] };
      named.forEach(({ name, tensor }, i) => {
        const key = `optimizer/${i}/${name}`;
        // tfjs optimizers hand out their live variables; @selfsup/byol's hand out copies
        tensors[key] = tensor instanceof tf.Variable ? tensor.clone() : tensor;
        const slot = splitSlotName(name, vars);
        optimizer!.weights.push(slot ? { key, name, model: slot.model, index: slot.index, suffix: slot.suffix } : { key, name });
      });
    }

    const rngs: Record<string, RngState> = {};
    for (const [k, r] of Object.entries(experimentRngs(exp))) rngs[k] = r.getState();

    const callbacks: Record<string, Record<string, unknown>> = {};
    for (const cb of exp.callbacks) {
      const s = cb.getState();
      if (s !== undefined) callbacks[cb.name] = s;
    }

    let history = exp.history.toJSON();
    if (opts.pendingEpoch) {
      const merged = historyFromJson(history);
      merged.record(opts.pendingEpoch.epoch, opts.pendingEpoch.metrics);
      history = merged.toJSON();
    }

    const st = exp.state;
    const meta: SnapshotMeta = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      savedAt: new Date().toISOString(),
      counters: opts.counters ?? { epoch: st.epoch, globalStep: st.globalStep, batchIndex: st.batchIndex },
      models,
      optimizer,
      rngs,
      callbacks,
      history,
      config: experimentConfigJson(exp),
      extra: opts.extra ?? {},
    };
    return { tensors, meta };
  } catch (err) {
    tf.dispose(Object.values(tensors));
    throw err;
  }
}

export function disposeSnapshot(snapshot: ExperimentSnapshot): void {
  tf.dispose(Object.values(snapshot.tensors));
}

function historyFromJson(json: { epoch: number[]; history: Record<string, number[]> }): History {
  const h = new History();
  json.epoch.forEach((e, row) => {
    const metrics: Record<string, number> = {};
    for (const [k, col] of Object.entries(json.history)) metrics[k] = col[row];
    h.record(e, metrics);
  });
  return h;
}

/**
 * Names of the float tensors of a snapshot holding NaN or ±Infinity (one device sync).
 * A checkpoint writer uses it to refuse saving a diverged model over a good one.
 */
export async function nonFiniteTensors(snapshot: ExperimentSnapshot): Promise<string[]> {
  const names = Object.keys(snapshot.tensors).filter((k) => snapshot.tensors[k].dtype === 'float32');
  if (names.length === 0) return [];
  const flags = tf.tidy(() => tf.stack(names.map((k) => tf.any(tf.logicalNot(tf.isFinite(snapshot.tensors[k]))))));
  const bad = await flags.data();
  flags.dispose();
  return names.filter((_, i) => bad[i]);
}

// ---------------------------------------------------------------------------------------
// Restore

/** Raised when a snapshot does not fit the experiment; says which part and why. */
export class SnapshotMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotMismatchError';
  }
}

function checkMeta(meta: SnapshotMeta, where: string): void {
  if (!meta || meta.format !== CHECKPOINT_FORMAT) {
    throw new SnapshotMismatchError(`${where}: not a selfsup checkpoint (format ${JSON.stringify(meta?.format)}, expected "${CHECKPOINT_FORMAT}")`);
  }
  if (meta.version !== CHECKPOINT_VERSION) {
    throw new SnapshotMismatchError(`${where}: checkpoint version ${meta.version} is not supported (this build reads version ${CHECKPOINT_VERSION})`);
  }
}

interface PlannedAssign {
  variable: tf.Variable;
  value: tf.Tensor;
}

function tensorOf(snapshot: ExperimentSnapshot, key: string, what: string): tf.Tensor {
  const t = snapshot.tensors[key];
  if (!t) throw new SnapshotMismatchError(`restore: the checkpoint lists ${what} under "${key}" but holds no such tensor; the checkpoint is damaged`);
  return t;
}

function planModels(exp: AnyExperiment, snapshot: ExperimentSnapshot): PlannedAssign[] {
  const saved = snapshot.meta.models;
  const have = [...exp.models.keys()];
  const missing = Object.keys(saved).filter((n) => !exp.models.has(n));
  if (missing.length) {
    throw new SnapshotMismatchError(
      `restore: the checkpoint has model(s) ${missing.map((m) => `"${m}"`).join(', ')} that the experiment lacks (it has ${have.join(', ') || 'none'}). ` +
        'Build them before restoring: restore after the callbacks that create models (e.g. target-init), or fix the config.',
    );
  }
  const extra = have.filter((n) => !(n in saved));
  if (extra.length) {
    throw new SnapshotMismatchError(
      `restore: the experiment has model(s) ${extra.map((m) => `"${m}"`).join(', ')} that the checkpoint does not (it has ${Object.keys(saved).join(', ') || 'none'}); ` +
        'the checkpoint was written by a different method or config',
    );
  }
  const plan: PlannedAssign[] = [];
  for (const [modelName, entries] of Object.entries(saved)) {
    const weights = layerOrderedWeights(exp.models.get(modelName)!);
    if (weights.length !== entries.length) {
      throw new SnapshotMismatchError(
        `restore: model "${modelName}" has ${weights.length} weights but the checkpoint has ${entries.length}; the architecture differs (model config, width or backbone changed?)`,
      );
    }
    weights.forEach((w, i) => {
      const e = entries[i];
      const v = w.read() as tf.Variable;
      const t = tensorOf(snapshot, e.key, `weight ${i} of "${modelName}"`);
      if (weightOwnName(v.name) !== weightOwnName(e.name)) {
        throw new SnapshotMismatchError(
          `restore: weight ${i} of model "${modelName}" is "${v.name}" but the checkpoint's is "${e.name}" (${weightOwnName(v.name)} vs ${weightOwnName(e.name)}); the layer structure differs`,
        );
      }
      if (!tf.util.arraysEqual(v.shape, t.shape)) {
        throw new SnapshotMismatchError(
          `restore: weight "${v.name}" (model "${modelName}", #${i}) has shape [${v.shape}] but the checkpoint's "${e.name}" has shape [${t.shape}]`,
        );
      }
      if (v.dtype !== t.dtype) {
        throw new SnapshotMismatchError(`restore: weight "${v.name}" (model "${modelName}") is ${v.dtype} but the checkpoint's is ${t.dtype}`);
      }
      plan.push({ variable: v, value: t });
    });
  }
  return plan;
}

function planOptimizer(exp: AnyExperiment, snapshot: ExperimentSnapshot): NamedTensor[] | undefined {
  const saved = snapshot.meta.optimizer;
  const opt = exp.optimizer;
  if (!saved) return undefined;
  if (!opt) {
    throw new SnapshotMismatchError(
      `restore: the checkpoint holds ${saved.className} state but the experiment has no optimizer; call exp.setup() (or restore from a callback during fit) so configureOptimizer() runs first`,
    );
  }
  if (opt.getClassName() !== saved.className) {
    throw new SnapshotMismatchError(
      `restore: the checkpoint was written with optimizer ${saved.className}, this experiment uses ${opt.getClassName()}; set the same optimizer in the config`,
    );
  }
  return saved.weights.map((w) => {
    const tensor = tensorOf(snapshot, w.key, `optimizer state "${w.name}"`);
    if (w.model === undefined || w.index === undefined) return { name: w.name, tensor };
    const model = exp.models.get(w.model);
    const weight = model ? layerOrderedWeights(model)[w.index] : undefined;
    if (!weight) {
      throw new SnapshotMismatchError(`restore: optimizer state "${w.name}" belongs to weight #${w.index} of model "${w.model}", which this experiment does not have`);
    }
    return { name: `${(weight.read() as tf.Variable).name}/${w.suffix}`, tensor };
  });
}

/**
 * tfjs's own optimizers replace their slot variables in setWeights without disposing the old
 * ones (and hand out the live variables from getWeights); free whatever the optimizer no
 * longer holds. @selfsup/byol's optimizers hand out copies and reuse their slots.
 */
async function setOptimizerWeights(opt: tf.Optimizer, weights: NamedTensor[]): Promise<void> {
  const isVar = (t: tf.Tensor) => t instanceof tf.Variable;
  const before = (await opt.getWeights()).map((w) => w.tensor);
  try {
    await opt.setWeights(weights);
  } finally {
    const after = (await opt.getWeights()).map((w) => w.tensor);
    const held = new Set(after.filter(isVar));
    // copies (iteration scalars, byol slot clones) are ours; variables only when orphaned
    tf.dispose(after.filter((t) => !isVar(t)));
    tf.dispose(before.filter((t) => !isVar(t) || (!held.has(t) && !t.isDisposed)));
  }
}

function planRngs(exp: AnyExperiment, snapshot: ExperimentSnapshot): Array<[Rng, RngState]> {
  const saved = snapshot.meta.rngs;
  const current = experimentRngs(exp);
  const missing = Object.keys(saved).filter((k) => !(k in current));
  const unsaved = Object.keys(current).filter((k) => !(k in saved));
  if (missing.length || unsaved.length) {
    throw new SnapshotMismatchError(
      `restore: random generators differ — checkpoint has [${Object.keys(saved).join(', ')}], experiment has [${Object.keys(current).join(', ')}]; ` +
        'an exact resume needs the same generators (same method and version)',
    );
  }
  return Object.entries(saved).map(([k, s]) => [current[k], s]);
}

function checkCounters(c: SnapshotCounters): void {
  for (const k of ['epoch', 'globalStep', 'batchIndex'] as const) {
    if (!Number.isInteger(c?.[k]) || c[k] < 0) {
      throw new SnapshotMismatchError(`restore: counter ${k} is ${JSON.stringify(c?.[k])} in the checkpoint; expected an integer ≥ 0 (damaged meta.json?)`);
    }
  }
}

export interface RestoreOptions {
  /** Called for a saved callback state whose callback is not registered (default: console.warn). */
  warn?: (message: string) => void;
}

/**
 * Puts a snapshot back into `exp`: every check runs before anything changes, so a mismatch
 * leaves the experiment as it was. Models and optimizer must exist (restore after
 * `exp.setup()` and after any callback that builds models, e.g. target-init); variables are
 * assigned in place, so hooks holding references to them stay valid. The snapshot's tensors
 * are not consumed: dispose them afterwards.
 */
export async function restoreExperimentState(exp: AnyExperiment, snapshot: ExperimentSnapshot, opts: RestoreOptions = {}): Promise<void> {
  const warn = opts.warn ?? ((m: string) => console.warn(`[selfsup] ${m}`));
  const meta = snapshot.meta;
  checkMeta(meta, 'restore');
  checkCounters(meta.counters);
  const assigns = planModels(exp, snapshot);
  const optWeights = planOptimizer(exp, snapshot);
  const rngs = planRngs(exp, snapshot);
  const history = historyFromJson(meta.history);

  tf.tidy(() => {
    for (const { variable, value } of assigns) variable.assign(value);
  });
  if (optWeights) await setOptimizerWeights(exp.optimizer!, optWeights);
  for (const [rng, s] of rngs) rng.setState(s);
  for (const [name, state] of Object.entries(meta.callbacks)) {
    const cb = exp.callbacks.find((c) => c.name === name);
    if (cb) cb.setState(state);
    else warn(`restore: the checkpoint has state for callback "${name}", which is not registered in this run; its state is dropped`);
  }
  exp.history = history;
  exp.state.epoch = meta.counters.epoch;
  exp.state.globalStep = meta.counters.globalStep;
  exp.state.batchIndex = meta.counters.batchIndex;
}

// ---------------------------------------------------------------------------------------
// On disk

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
  const meta = decodeNonFiniteJson(raw) as SnapshotMeta;
  checkMeta(meta, `checkpoint "${dir}"`);
  return meta;
}

/**
 * Reads a checkpoint directory (after finishing or rolling back a write a crash interrupted).
 * The caller owns the returned tensors ({@link disposeSnapshot}).
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

/** Loads the checkpoint in `dir` into `exp` and frees the loaded tensors. */
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

/**
 * Copies one model's weights out of a snapshot (e.g. the encoder for `selfsup eval` or
 * `export`), checking count and shapes; the rest of the snapshot is left alone.
 */
export function restoreModelWeights(model: tf.LayersModel, snapshot: ExperimentSnapshot, name: string = model.name): void {
  const saved = snapshot.meta.models[name];
  if (!saved) {
    throw new SnapshotMismatchError(`the checkpoint has no model "${name}" (it has: ${Object.keys(snapshot.meta.models).join(', ') || 'none'})`);
  }
  const weights = layerOrderedWeights(model);
  if (weights.length !== saved.length) {
    throw new SnapshotMismatchError(`model "${name}": the checkpoint has ${saved.length} weights, the model ${weights.length}; was it built with the same config?`);
  }
  weights.forEach((w, i) => {
    const t = snapshot.tensors[saved[i].key];
    if (!t || !tf.util.arraysEqual(t.shape, w.shape as number[])) {
      throw new SnapshotMismatchError(
        `model "${name}" weight #${i} (${w.name}) has shape [${w.shape}] but the checkpoint's has [${t ? t.shape : 'missing'}]`,
      );
    }
  });
  tf.tidy(() => weights.forEach((w, i) => w.write(snapshot.tensors[saved[i].key].clone())));
}
