/**
 * Restore: a snapshot put back into an experiment whose models and optimizer exist. Every
 * check runs before anything changes; then, in this order: models and buffers, callbacks'
 * state, optimizer, generators, and the loop's state (position and History).
 *
 * The loop calls this at a fixed point of `fit` (see `Experiment.restore`); call it directly
 * only on an experiment that holds every model of the checkpoint.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import type { Callback } from '../../callbacks/callback';
import type { Rng, RngState } from '../../util/rng';
import type { Experiment } from '../experiment';
import { History } from '../history';
import { callbackRngs, experimentBuffers, experimentRngs, type NamedTensor } from './capture';
import { checkCounters, layerOrderedWeights, SnapshotMismatchError, upgradeMeta, weightOwnName, type ExperimentSnapshot } from './format';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any>;

export interface RestoreOptions {
  /**
   * Told about what is dropped or missing without stopping the restore: a callback state or
   * generator in the checkpoint that this run does not have, a declared generator the
   * checkpoint does not hold (default: console.warn).
   */
  warn?: (message: string) => void;
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
        'Build them before restoring: use exp.restore() or fit(data, { resumeFrom }), which restore after the callbacks that create models (e.g. target-init), or fix the config.',
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

/**
 * Pairs the experiment's declared buffers with the checkpoint's: a shape or dtype that differs
 * is fatal (the config changed: a queue of another size); a buffer only one side has is
 * reported, not fatal, as for generators.
 */
function planBuffers(exp: AnyExperiment, snapshot: ExperimentSnapshot, notes: string[]): PlannedAssign[] {
  const declared = experimentBuffers(exp);
  const saved = snapshot.meta.buffers;
  const who = exp.constructor.name;
  const dropped = Object.keys(saved).filter((k) => !(k in declared));
  const fresh = Object.keys(declared).filter((k) => !(k in saved));
  if (dropped.length) {
    notes.push(`restore: the checkpoint holds buffer(s) ${dropped.map((k) => `"${k}"`).join(', ')}, which ${who} does not declare in buffers(); they are dropped`);
  }
  if (fresh.length) {
    notes.push(
      `restore: ${who} declares buffer(s) ${fresh.map((k) => `"${k}"`).join(', ')} that the checkpoint does not hold (written before they existed?); they keep their current value, so the run differs from an uninterrupted one`,
    );
  }
  return Object.keys(saved)
    .filter((k) => k in declared)
    .map((name) => {
      const variable = declared[name];
      const value = tensorOf(snapshot, saved[name].key, `buffer "${name}"`);
      if (!tf.util.arraysEqual(variable.shape, value.shape)) {
        throw new SnapshotMismatchError(`restore: buffer "${name}" of ${who} has shape [${variable.shape}] but the checkpoint's has [${value.shape}]; was it written with another config (a queue of another size)?`);
      }
      if (variable.dtype !== value.dtype) {
        throw new SnapshotMismatchError(`restore: buffer "${name}" of ${who} is ${variable.dtype} but the checkpoint's is ${value.dtype}`);
      }
      return { variable, value };
    });
}

function planOptimizer(exp: AnyExperiment, snapshot: ExperimentSnapshot): NamedTensor[] | undefined {
  const saved = snapshot.meta.optimizer;
  const opt = exp.optimizer;
  if (!saved) return undefined;
  if (!opt) {
    throw new SnapshotMismatchError(
      `restore: the checkpoint holds ${saved.className} state but the experiment has no optimizer; call exp.setup() first (exp.restore() and fit's resumeFrom do) so configureOptimizer() runs`,
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

/**
 * Pairs declared generators with saved states. A generator the checkpoint holds but the
 * owner does not declare, or one declared but not in the checkpoint (a generator added
 * after the checkpoint was written), is reported, not fatal: the others are restored.
 */
function planRngs(
  owner: string,
  declared: Record<string, Rng>,
  saved: Record<string, RngState>,
  notes: string[],
): Array<[Rng, RngState]> {
  const dropped = Object.keys(saved).filter((k) => !(k in declared));
  const fresh = Object.keys(declared).filter((k) => !(k in saved));
  if (dropped.length) {
    notes.push(
      `restore: the checkpoint holds generator(s) ${dropped.map((k) => `"${k}"`).join(', ')} of ${owner}, which ${owner} does not declare in rngs(); their state is dropped (declare them to restore them)`,
    );
  }
  if (fresh.length) {
    notes.push(
      `restore: ${owner} declares generator(s) ${fresh.map((k) => `"${k}"`).join(', ')} that the checkpoint does not hold (written before they existed?); they keep their current state, so what they draw differs from an uninterrupted run`,
    );
  }
  return Object.keys(saved).filter((k) => k in declared).map((k) => [declared[k], saved[k]]);
}

function planCallbacks(exp: AnyExperiment, snapshot: ExperimentSnapshot, notes: string[]): {
  states: Array<[Callback, Record<string, unknown>]>;
  rngs: Array<[Rng, RngState]>;
} {
  const meta = snapshot.meta;
  const states: Array<[Callback, Record<string, unknown>]> = [];
  for (const [name, state] of Object.entries(meta.callbacks)) {
    const cb = exp.callbacks.find((c) => c.name === name);
    if (cb) states.push([cb, state]);
    else notes.push(`restore: the checkpoint has state for callback "${name}", which is not registered in this run; its state is dropped`);
  }
  const rngs: Array<[Rng, RngState]> = [];
  for (const cb of exp.callbacks) {
    rngs.push(...planRngs(`callback "${cb.name}"`, callbackRngs(cb), meta.callbackRngs[cb.name] ?? {}, notes));
  }
  for (const name of Object.keys(meta.callbackRngs)) {
    if (!exp.callbacks.some((c) => c.name === name)) {
      notes.push(`restore: the checkpoint has generators of callback "${name}", which is not registered in this run; they are dropped`);
    }
  }
  return { states, rngs };
}

/**
 * Puts a snapshot back into `exp`: every check runs before anything changes, so a mismatch
 * leaves the experiment as it was. Then, in this order: model weights and the experiment's
 * buffers (assigned in place, so hooks holding references to the variables stay valid), callbacks' `setState`, optimizer
 * slots, generators (the experiment's and the callbacks'), and the loop's position and
 * History (`exp.loadStateDict`). Models and optimizer must exist: `exp.restore()` and
 * fit's `resumeFrom` call this once the MODEL_INIT hooks have built every model. The
 * snapshot's tensors are not consumed: dispose them afterwards.
 */
export async function restoreExperimentState(exp: AnyExperiment, snapshot: ExperimentSnapshot, opts: RestoreOptions = {}): Promise<void> {
  const warn = opts.warn ?? ((m: string) => console.warn(`[selfsup] ${m}`));
  const meta = upgradeMeta(snapshot.meta, 'restore');
  const snap = { tensors: snapshot.tensors, meta };
  checkCounters(meta.counters);
  History.fromJSON(meta.history); // throws on a damaged History before anything changes
  const assigns = planModels(exp, snap);
  const optWeights = planOptimizer(exp, snap);
  const notes: string[] = [];
  assigns.push(...planBuffers(exp, snap, notes));
  const callbacks = planCallbacks(exp, snap, notes);
  const rngs = [...planRngs(exp.constructor.name, experimentRngs(exp), meta.rngs, notes), ...callbacks.rngs];
  const planned = exp.run.totalSteps;
  if (typeof meta.totalSteps === 'number' && planned !== undefined && planned !== meta.totalSteps) {
    // allowed (a run extended or cut short on purpose), but the schedules then jump: say so
    notes.push(
      `this run plans ${planned} optimizer steps where the checkpoint's run planned ${meta.totalSteps} (its epochs, steps per epoch or maxSteps differ): ` +
        `schedules that span the run (learning rate, EMA τ) follow the new length from step ${meta.counters.globalStep}, so it will not match the run continued as planned`,
    );
  }

  tf.tidy(() => {
    for (const { variable, value } of assigns) variable.assign(value);
  });
  for (const [cb, state] of callbacks.states) cb.setState(state);
  if (optWeights) await setOptimizerWeights(exp.optimizer!, optWeights);
  for (const [rng, s] of rngs) rng.setState(s);
  exp.loadStateDict({ counters: meta.counters, history: meta.history });
  for (const n of notes) warn(n);
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
