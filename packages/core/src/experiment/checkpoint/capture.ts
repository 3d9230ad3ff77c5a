/**
 * Capture: everything an exact resume needs, taken from a live Experiment — every model
 * weight, the optimizer's slots, the buffers the experiment declares (`exp.buffers()`), the
 * loop's state (`exp.stateDict()`: position and History), the generators the experiment and
 * its callbacks declare (`rngs()`), every callback's `getState()` and the resolved config.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import type { Callback } from '../../callbacks/callback';
import { Rng, type RngState } from '../../util/rng';
import type { Experiment } from '../experiment';
import type { RunContext } from '../run-context';
import {
  bufferKey,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  layerOrderedWeights,
  modelWeightKey,
  optimizerWeightKey,
  type ExperimentSnapshot,
  type SnapshotBuffer,
  type SnapshotMeta,
  type SnapshotOptimizer,
  type SnapshotWeight,
} from './format';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any>;

/** What `tf.Optimizer.getWeights()` returns (tfjs does not export the type). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export interface CaptureOptions {
  extra?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------
// RNGs: declared, never discovered

/** Something that names the generators a checkpoint must hold: an experiment or a callback. */
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

function declaredRngs(owner: object, who: string): Record<string, Rng> {
  const provider = (owner as Partial<RngProvider>).rngs;
  if (typeof provider !== 'function') return {};
  const out = provider.call(owner);
  if (!out || typeof out !== 'object') throw new Error(`${who}.rngs() must return { name: Rng }, got ${String(out)}`);
  for (const [k, v] of Object.entries(out)) {
    if (!isRng(v)) throw new Error(`${who}.rngs(): "${k}" is not an Rng`);
  }
  return { ...out };
}

/**
 * The generators whose state a checkpoint saves, by name: what `exp.rngs()` declares
 * (`Experiment`'s is `{ rng }`; BYOL adds `augmentRng`). A generator the experiment does not
 * declare is not saved, so adding an `Rng` field to a method never changes what its
 * checkpoints hold, and older checkpoints keep loading; declare it (override `rngs()` and
 * spread `super.rngs()`) to have it saved and restored.
 */
export function experimentRngs(exp: AnyExperiment): Record<string, Rng> {
  // an experiment built against an older @selfsup/core has no rngs(): its `rng` is the one
  const provider: Partial<RngProvider> = exp;
  if (typeof provider.rngs !== 'function') return { rng: exp.rng };
  return declaredRngs(exp, exp.constructor.name);
}

/** The generators a callback declares with `rngs()` (none for most). */
export function callbackRngs(cb: Callback): Record<string, Rng> {
  return declaredRngs(cb, `callback "${cb.name}"`);
}

function rngStates(rngs: Record<string, Rng>): Record<string, RngState> {
  return Object.fromEntries(Object.entries(rngs).map(([k, r]) => [k, r.getState()]));
}

// ---------------------------------------------------------------------------------------
// Buffers: declared, like the generators

/**
 * The tensors besides model weights and optimizer slots that a checkpoint saves, by name: what
 * `exp.buffers()` declares (none for most methods; MoCo's queue). Each must be a live
 * `tf.Variable` (restore assigns it in place).
 */
export function experimentBuffers(exp: AnyExperiment): Record<string, tf.Variable> {
  // an experiment built against an older @selfsup/core has no buffers()
  const provider = (exp as { buffers?: () => unknown }).buffers;
  if (typeof provider !== 'function') return {};
  const out = provider.call(exp);
  const who = exp.constructor.name;
  if (!out || typeof out !== 'object') throw new Error(`${who}.buffers() must return { name: tf.Variable }, got ${String(out)}`);
  for (const [k, v] of Object.entries(out)) {
    if (!(v instanceof tf.Variable)) throw new Error(`${who}.buffers(): "${k}" is not a tf.Variable (restore assigns buffers in place)`);
    if (v.isDisposed) throw new Error(`${who}.buffers(): "${k}" is disposed`);
  }
  return { ...(out as Record<string, tf.Variable>) };
}

// ---------------------------------------------------------------------------------------
// Config

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
 * The config a checkpoint records: the run's resolved config (`exp.run.resolvedConfig`,
 * `selfsup train` sets it) as `toPlain()` gives it, else `exp.config.toPlain()` when the
 * config has one (a ResolvedConfig), else `exp.config` reduced to plain data (models, tensors
 * and functions in it become `<...>` markers).
 */
export function experimentConfigJson(exp: AnyExperiment): unknown {
  // an experiment built against an older @selfsup/core has no run context
  const run: RunContext | undefined = exp.run;
  const resolved = run?.resolvedConfig;
  if (resolved) return toPlainJson(resolved.toPlain());
  const config: unknown = exp.config;
  if (hasToPlain(config)) return toPlainJson(config.toPlain());
  return toPlainJson(config) ?? null;
}

function hasToPlain(c: unknown): c is { toPlain(): unknown } {
  return !!c && (typeof c === 'object' || typeof c === 'function') && typeof (c as { toPlain?: unknown }).toPlain === 'function';
}

// ---------------------------------------------------------------------------------------
// Optimizer slot names

type WeightPlace = { model: string; index: number };

/** tfjs variable name → [model, layer-order index], for every weight of every model. */
export function variableIndex(exp: AnyExperiment): Map<string, WeightPlace> {
  const out = new Map<string, WeightPlace>();
  for (const [modelName, model] of exp.models) {
    layerOrderedWeights(model).forEach((w, index) => {
      const varName = (w.read() as tf.Variable).name;
      if (!out.has(varName)) out.set(varName, { model: modelName, index });
    });
  }
  return out;
}

/** Longest `<variable>` such that `name` is `<variable>/<suffix>`. */
function splitSlotName(name: string, vars: Map<string, WeightPlace>): (WeightPlace & { suffix: string }) | undefined {
  for (let cut = name.lastIndexOf('/'); cut > 0; cut = name.lastIndexOf('/', cut - 1)) {
    const hit = vars.get(name.slice(0, cut));
    if (hit) return { ...hit, suffix: name.slice(cut + 1) };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Capture

/**
 * Captures the experiment's whole training state. Tensors are copies the caller owns (cheap:
 * tfjs clones share memory until the originals change); dispose them with
 * `disposeSnapshot`. Reads no tensor data, so it costs no device sync.
 *
 * The position and History come from `exp.stateDict()`, which knows where in the loop it is
 * called: during an epoch's end the checkpoint resumes after that epoch (or, for an epoch a
 * stop cut short, after its last batch) and holds that epoch's History row.
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
      const saved: SnapshotOptimizer = { className: opt.getClassName(), weights: [] };
      named.forEach(({ name, tensor }, i) => {
        const key = optimizerWeightKey(i, name);
        // tfjs optimizers hand out their live variables; @selfsup/byol's hand out copies
        tensors[key] = tensor instanceof tf.Variable ? tensor.clone() : tensor;
        const slot = splitSlotName(name, vars);
        saved.weights.push(slot ? { key, name, model: slot.model, index: slot.index, suffix: slot.suffix } : { key, name });
      });
      optimizer = saved;
    }

    const buffers: Record<string, SnapshotBuffer> = {};
    for (const [name, v] of Object.entries(experimentBuffers(exp))) {
      const key = bufferKey(name);
      tensors[key] = v.clone();
      buffers[name] = { key, shape: [...v.shape], dtype: v.dtype };
    }

    const callbacks: Record<string, Record<string, unknown>> = {};
    const cbRngs: Record<string, Record<string, RngState>> = {};
    for (const cb of exp.callbacks) {
      const s = cb.getState();
      if (s !== undefined) callbacks[cb.name] = s;
      const r = callbackRngs(cb);
      if (Object.keys(r).length > 0) cbRngs[cb.name] = rngStates(r);
    }

    const loop = exp.stateDict();
    const meta: SnapshotMeta = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      savedAt: new Date().toISOString(),
      counters: loop.counters,
      models,
      optimizer,
      rngs: rngStates(experimentRngs(exp)),
      callbacks,
      callbackRngs: cbRngs,
      buffers,
      history: loop.history,
      config: experimentConfigJson(exp),
      extra: opts.extra ?? {},
    };
    const planned = exp.run.totalSteps;
    if (planned !== undefined) meta.totalSteps = planned;
    return { tensors, meta };
  } catch (err) {
    tf.dispose(Object.values(tensors));
    throw err;
  }
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
