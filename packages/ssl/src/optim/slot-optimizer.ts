import * as tf from '@tensorflow/tfjs';
import { excludeNothing, type ExcludeFn } from './exclude';
import { UserError } from '@selfsup/core';

export interface NamedTensorLike {
  name: string;
  tensor: tf.Tensor;
}

export interface SlotOptimizerOptions {
  /** Learning rate; change it between steps with `setLearningRate`. */
  lr: number;
  /** Weight decay coefficient (meaning depends on the optimizer). Default 0. */
  weightDecay?: number;
  /** Variables (by tf.Variable name) exempt from weight decay (and, for LARS, adaptation). */
  exclude?: ExcludeFn;
  /**
   * Per-variable learning rate: given a variable's name and the optimizer's (scheduled) LR,
   * the LR that variable uses this step. Default: the optimizer's LR for every variable.
   * BYOL uses it for a faster, unscheduled predictor (`optimizer.predictorLrMultiplier`).
   */
  lrFor?: (variableName: string, lr: number) => number;
}

/** What `update` receives for the current step. */
export interface StepContext {
  /** 1-based number of this optimizer step (bias correction uses it). */
  step: number;
  lr: number;
  /** Whether `exclude` matched this variable. */
  excluded: boolean;
}

/** One variable of an optimizer step. */
export interface StepItem {
  variable: tf.Variable;
  grad: tf.Tensor;
  ctx: StepContext;
}

export function checkNumber(cls: string, key: string, value: number, ok: (v: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new UserError(`${cls}: ${key} must be ${rule}, got ${String(value)}.`);
  }
  return value;
}

/**
 * Base of the selfsup optimizers: a `tf.Optimizer` (so `minimize`, `applyGradients`,
 * `computeGradients` work as usual) whose per-variable state lives in "slots" keyed by
 * `<variable name>/<slot>` — by name, not by position, so a checkpoint restores into the
 * right variables even if gradients arrive in another order.
 *
 * `getWeights()` returns `[{name: 'iter'}, ...slots]` as fresh tensors the caller owns;
 * `setWeights()` restores exactly that state (slots absent from the list are dropped).
 */
export abstract class SlotOptimizer extends tf.Optimizer {
  /**
   * tf.Optimizer answers `instanceof` by duck typing, which subclasses inherit (any
   * optimizer would pass `instanceof LARS`); restore the prototype check for ours.
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, instance);
  }

  protected lr: number;
  protected readonly weightDecay: number;
  protected readonly exclude: ExcludeFn;
  private readonly lrFor: ((variableName: string, lr: number) => number) | undefined;
  private readonly slots = new Map<string, tf.Variable>();

  /** Names of the per-variable state tensors, e.g. ['momentum'] or ['m', 'v']. */
  protected abstract readonly slotNames: readonly string[];

  constructor(opts: SlotOptimizerOptions, defaultExclude: ExcludeFn = excludeNothing) {
    super();
    const cls = new.target.name;
    this.lr = checkNumber(cls, 'lr', opts.lr, (v) => v >= 0, 'a finite number ≥ 0');
    this.weightDecay = checkNumber(cls, 'weightDecay', opts.weightDecay ?? 0, (v) => v >= 0, 'a finite number ≥ 0');
    this.exclude = opts.exclude ?? defaultExclude;
    this.lrFor = opts.lrFor;
  }

  /** Sets the learning rate used from the next step on (schedules call this every step). */
  setLearningRate(lr: number): void {
    this.lr = checkNumber(this.getClassName(), 'lr', lr, (v) => v >= 0, 'a finite number ≥ 0');
  }

  get learningRate(): number {
    return this.lr;
  }

  /** Updates one variable in place; runs inside a tf.tidy. */
  protected abstract update(variable: tf.Variable, grad: tf.Tensor, ctx: StepContext): void;

  /**
   * torch-SGD momentum on an update direction d (dampening 0), shared by SGD and LARS:
   * buf ← μ·buf + d; w ← w − lr·buf (nesterov: w ← w − lr·(d + μ·buf)).
   */
  protected momentumStep(w: tf.Variable, d: tf.Tensor, lr: number, momentum: number, nesterov: boolean): void {
    const buf = this.slot(w, 'momentum');
    const newBuf = tf.add(tf.mul(momentum, buf), d);
    buf.assign(newBuf);
    const step = nesterov ? tf.add(d, tf.mul(momentum, newBuf)) : newBuf;
    w.assign(tf.sub(w, tf.mul(lr, step)));
  }

  /** The slot tensor of a variable, created as zeros on first use. */
  protected slot(variable: tf.Variable, slotName: string): tf.Variable {
    const key = `${variable.name}/${slotName}`;
    let s = this.slots.get(key);
    if (!s) {
      s = tf.variable(tf.zerosLike(variable), false);
      this.slots.set(key, s);
    } else if (!tf.util.arraysEqual(s.shape, variable.shape)) {
      throw new Error(
        `${this.getClassName()}: state "${key}" has shape ${JSON.stringify(s.shape)} but the variable has ` +
          `${JSON.stringify(variable.shape)}; the optimizer state belongs to another model. Create a new optimizer.`,
      );
    }
    return s;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensorLike[]): void {
    const pairs: NamedTensorLike[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name] }));
    const step = this.iterations + 1;
    const items: StepItem[] = [];
    for (const { name, tensor } of pairs) {
      if (tensor == null) continue; // a variable the loss does not depend on
      const variable = tf.engine().registeredVariables[name];
      if (!variable) {
        throw new Error(`${this.getClassName()}: no variable named "${name}" is registered; was its model disposed?`);
      }
      const excluded = this.exclude(name);
      const lr = this.lrFor ? this.lrFor(name, this.lr) : this.lr;
      items.push({ variable, grad: tensor, ctx: { step, lr, excluded } });
    }
    if (!tf.tidy(() => this.updateAll(items))) {
      for (const { variable, grad, ctx } of items) tf.tidy(() => this.update(variable, grad, ctx));
    }
    this.incrementIterations();
  }

  /**
   * Updates every variable at once (a native kernel) and returns true, or returns false and
   * `update` runs per variable. Runs inside a tidy.
   */
  protected updateAll(_items: StepItem[]): boolean {
    return false;
  }

  override async getWeights(): Promise<NamedTensorLike[]> {
    const out: NamedTensorLike[] = [await this.saveIterations()];
    for (const [name, v] of this.slots) out.push({ name, tensor: v.clone() });
    return out;
  }

  override async setWeights(weightValues: NamedTensorLike[]): Promise<void> {
    const cls = this.getClassName();
    const incoming = new Map<string, tf.Tensor>();
    for (const { name, tensor } of weightValues) {
      if (name === 'iter') {
        this.iterations_ = (await tensor.data())[0];
        continue;
      }
      const slotName = name.slice(name.lastIndexOf('/') + 1);
      if (!this.slotNames.includes(slotName)) {
        throw new Error(
          `${cls}.setWeights: "${name}" is not a ${cls} state tensor (expected "iter" or "<variable>/${this.slotNames.join('|')}"). ` +
            'Was the checkpoint written by another optimizer? Match optimizer.name in the config to the checkpoint.',
        );
      }
      incoming.set(name, tensor);
    }
    for (const [name, v] of [...this.slots]) {
      if (!incoming.has(name)) {
        v.dispose();
        this.slots.delete(name);
      }
    }
    for (const [name, tensor] of incoming) {
      const existing = this.slots.get(name);
      if (existing && tf.util.arraysEqual(existing.shape, tensor.shape)) {
        existing.assign(tensor);
      } else {
        existing?.dispose();
        this.slots.set(name, tf.variable(tensor, false));
      }
    }
  }

  override dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
    super.dispose();
  }
}
