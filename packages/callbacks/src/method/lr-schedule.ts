import { IsIn, IsInt, IsNumber, IsOptional, Min } from 'class-validator';
import type * as tf from '@tensorflow/tfjs';
import { Callback, CallbackOrder, cosineWithWarmupFactorLr, registerCallback, warmupCosineLr, type Experiment } from '@selfsup/core';
import { resolveCallbackOptions } from '../eval/options';

export class LrScheduleOptions {
  /** Peak LR; unset: the run's `baseLearningRate` (`exp.run`, from the method: batch-scaled), else the optimizer's LR at start. */
  @IsOptional()
  @IsNumber()
  @Min(0)
  baseLr?: number;

  /** Linear warm-up over this many epochs (of the run's steps per epoch, rounded). */
  @IsNumber()
  @Min(0)
  warmupEpochs: number = 0;

  /** Overrides warmupEpochs when given. */
  @IsOptional()
  @IsInt()
  @Min(0)
  warmupSteps?: number;

  /** The LR the cosine ends at (capped at the base LR). */
  @IsNumber()
  @Min(0)
  minLr: number = 0;

  /**
   * `warmup-cosine`: linear warm-up, then a cosine over the remaining steps. `cosine`: one
   * cosine over the whole run, the warm-up a linear factor on top of it (decays sooner; the
   * better choice for short runs, see docs/quality.md). `constant`: baseLr throughout.
   */
  @IsIn(['warmup-cosine', 'cosine', 'constant'])
  schedule: 'warmup-cosine' | 'cosine' | 'constant' = 'warmup-cosine';
}

/** An optimizer whose learning rate can be set between steps (@selfsup/ssl's); tfjs's keep theirs in `learningRate`. */
interface SchedulableOptimizer {
  setLearningRate(lr: number): void;
  readonly learningRate?: unknown;
}

function schedulable(opt: tf.Optimizer | undefined): opt is tf.Optimizer & SchedulableOptimizer {
  return !!opt && 'setLearningRate' in opt && typeof opt.setLearningRate === 'function';
}

/** The experiment's optimizer, when it can be scheduled; else an error that says what to use. */
function schedulableOptimizer(exp: Experiment<unknown, unknown>): tf.Optimizer & SchedulableOptimizer {
  const opt = exp.optimizer;
  if (!schedulable(opt)) {
    throw new Error(`lr-schedule: the optimizer (${opt ? opt.constructor.name : 'none'}) has no setLearningRate(lr); use one of @selfsup/byol's optimizers or remove lr-schedule`);
  }
  return opt;
}

/** Linear warm-up then cosine decay of the learning rate, set before every step; logs `lr`. */
@registerCallback('lr-schedule', { order: CallbackOrder.SCHEDULER, options: LrScheduleOptions })
export class LrSchedulerCallback extends Callback {
  private baseLr: number | undefined;
  private warmupSteps = 0;
  private totalSteps = 0;
  private current = 0;

  private readonly opts: LrScheduleOptions;

  /** `opts`: the validated options, or a partial object that gets the same checks and defaults. */
  constructor(opts: Partial<LrScheduleOptions> = {}) {
    super();
    this.opts = resolveCallbackOptions(LrScheduleOptions, opts, 'lr-schedule');
    this.baseLr = this.opts.baseLr;
  }

  override onExperimentStart(exp: Experiment<unknown, unknown>): void {
    const opt = schedulableOptimizer(exp);
    const run = exp.run;
    if (this.baseLr === undefined) {
      const fromOpt = opt.learningRate;
      const base = run.baseLearningRate ?? (typeof fromOpt === 'number' ? fromOpt : undefined);
      if (base === undefined) throw new Error('lr-schedule: cannot tell the base learning rate; set the baseLr option');
      this.baseLr = base;
    }
    const total = run.totalSteps;
    const schedule = this.opts.schedule;
    if (schedule !== 'constant' && !total) {
      throw new Error(`lr-schedule: ${schedule} needs the total number of steps; give fit() stepsPerEpoch or maxSteps (trainer.stepsPerEpoch / trainer.maxSteps), or use schedule: constant`);
    }
    this.totalSteps = total ?? 0;
    const perEpoch = run.stepsPerEpoch ?? 0;
    const warm = this.opts.warmupSteps ?? Math.round(this.opts.warmupEpochs * perEpoch);
    this.warmupSteps = Math.min(warm, this.totalSteps);
  }

  lrAt(step: number): number {
    const schedule = this.opts.schedule;
    if (schedule === 'constant') return this.baseLr!;
    return (schedule === 'cosine' ? cosineWithWarmupFactorLr : warmupCosineLr)({
      baseLr: this.baseLr!,
      warmupSteps: this.warmupSteps,
      totalSteps: this.totalSteps,
      minLr: Math.min(this.opts.minLr, this.baseLr!),
      step,
    });
  }

  override onBatchStart(exp: Experiment<unknown, unknown>): void {
    this.current = this.lrAt(exp.state.globalStep);
    schedulableOptimizer(exp).setLearningRate(this.current);
  }

  override onBatchEnd(exp: Experiment<unknown, unknown>): void {
    exp.state.logs.set('lr', this.current);
  }

  override getState(): Record<string, unknown> {
    return { baseLr: this.baseLr };
  }

  override setState(state: Record<string, unknown>): void {
    if (typeof state.baseLr === 'number') this.baseLr = state.baseLr;
  }
}
