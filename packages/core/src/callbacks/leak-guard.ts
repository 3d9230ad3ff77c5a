import * as tf from '@tensorflow/tfjs';
import { Callback } from './callback';
import { CallbackOrder } from './order';

export interface LeakGuardOptions {
  /** Steps to let caches and optimizer slots settle before taking the baseline. */
  warmupSteps?: number;
  /** Tensors the count may grow by before the run fails. */
  tolerance?: number;
}

/**
 * Fails the run when `tf.memory().numTensors` grows across steps after warm-up: a training
 * step that leaks one tensor per step runs out of memory hours later, so catch it at step 3.
 */
export class LeakGuard extends Callback {
  private baseline: number | undefined;
  private baselineStep = 0;
  private readonly warmupSteps: number;
  private readonly tolerance: number;

  constructor(opts: LeakGuardOptions = {}) {
    super({ name: 'leak-guard', order: CallbackOrder.EXTERNAL });
    this.warmupSteps = opts.warmupSteps ?? 2;
    this.tolerance = opts.tolerance ?? 0;
  }

  override onExperimentStart(): void {
    this.baseline = undefined;
  }

  override onBatchEnd(exp: Parameters<Callback['onBatchEnd']>[0]): void {
    const step = exp.state.globalStep;
    const n = tf.memory().numTensors;
    if (step <= this.warmupSteps) return;
    if (this.baseline === undefined) {
      this.baseline = n;
      this.baselineStep = step;
      return;
    }
    if (n > this.baseline + this.tolerance) {
      throw new Error(
        `tf.memory().numTensors grew from ${this.baseline} (step ${this.baselineStep}) to ${n} (step ${step}): ` +
          'a step leaks tensors — wrap tensor work in tf.tidy and dispose what you keep',
      );
    }
  }
}
