import type { Experiment } from '../experiment/experiment';
import type { Rng } from '../util/rng';
import { CallbackOrder } from './order';
import { registeredCallbackInfo } from './metadata';

/**
 * What every hook receives: the running experiment. Read `exp.run` for what the fit runs with
 * (a frozen RunContext: runDir, epochs, stepsPerEpoch, totalSteps, maxSteps, logEvery,
 * batchSize, baseLearningRate, resolvedConfig — the same object in every hook of one fit)
 * and `exp.state` for what moves (epoch, step, the step's logs, the epoch's metrics).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HookFn = (exp: Experiment<any, any>) => void | Promise<void>;

export interface CallbackInit {
  /** Unique within a run; config files and error messages use it. */
  name?: string;
  /** Class-level order for every hook of this callback (see CallbackOrder). */
  order?: number;
  /** Names of callbacks that must be registered in the same run. */
  requires?: string[];
}

/**
 * Base class of every callback. Override the `on*` methods you need (use `override`, so a
 * misspelled hook is a compile error), or decorate any method with `@onEpochEnd(order)` etc.
 * Callbacks borrow the experiment's tensors during a hook and never keep them.
 *
 * A hook gets the experiment; what the fit runs with is `exp.run` (see RunContext), available
 * from the first experimentStart hook on and frozen for the fit:
 *
 * ```ts
 * override onExperimentStart(exp: Experiment) {
 *   const { runDir, totalSteps, batchSize, baseLearningRate } = exp.run;
 * }
 * ```
 *
 * The method's numbers (batch size, base learning rate) come from its `runContextInfo()`;
 * `runDir` and `resolvedConfig` from the experiment's fields of those names, as set before fit.
 */
export abstract class Callback {
  name: string;
  order: number;
  requires: string[];

  constructor(init: CallbackInit = {}) {
    const reg = registeredCallbackInfo(this.constructor);
    this.name = init.name ?? reg?.name ?? '';
    this.order = init.order ?? reg?.order ?? CallbackOrder.EXTERNAL;
    this.requires = init.requires ?? reg?.requires ?? [];
  }

  onExperimentStart(_exp: Parameters<HookFn>[0]): void | Promise<void> {}
  onEpochStart(_exp: Parameters<HookFn>[0]): void | Promise<void> {}
  onBatchStart(_exp: Parameters<HookFn>[0]): void | Promise<void> {}
  onBatchEnd(_exp: Parameters<HookFn>[0]): void | Promise<void> {}
  onValidationStart(_exp: Parameters<HookFn>[0]): void | Promise<void> {}
  onValidationBatchEnd(_exp: Parameters<HookFn>[0]): void | Promise<void> {}
  onValidationEnd(_exp: Parameters<HookFn>[0]): void | Promise<void> {}
  onEpochEnd(_exp: Parameters<HookFn>[0]): void | Promise<void> {}
  onExperimentEnd(_exp: Parameters<HookFn>[0]): void | Promise<void> {}

  /** Plain-JSON state a checkpoint saves and a resume restores (counters, best values...). */
  getState(): Record<string, unknown> | undefined {
    return undefined;
  }

  setState(_state: Record<string, unknown>): void {}

  /**
   * The random generators this callback owns whose state a checkpoint must hold, by name
   * (none by default). Declared, not discovered: a generator left out here is not saved.
   * Restored after `setState`, so a generator `setState` replaces is restored too.
   */
  rngs(): Record<string, Rng> {
    return {};
  }
}
