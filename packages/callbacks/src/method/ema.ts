import * as tf from '@tensorflow/tfjs';
import { IsArray, IsIn, IsNumber, Max, Min } from 'class-validator';
import { Callback, CallbackOrder, cosineTau, nativeEmaStep, registerCallback, type Experiment } from '@selfsup/core';
import { resolveCallbackOptions } from '../eval/options';
import { BYOL_MODEL_PAIRS, checkPairs, orderedWeights, requireModel, type ModelPair } from './pairs';

export class EmaUpdateOptions {
  /** τ at step 0 (BYOL: 0.996 for 1000 epochs, 0.99 for shorter runs). */
  @IsNumber()
  @Min(0)
  @Max(1)
  tauBase: number = 0.99;

  /** 'cosine': τ from tauBase to 1 over the run (the paper); 'constant': τ = tauBase. */
  @IsIn(['cosine', 'constant'])
  schedule: 'cosine' | 'constant' = 'cosine';

  /**
   * Batch-norm moving statistics of the target: 'ema' averages them like the weights,
   * 'copy' takes the online network's. (The target always normalises with batch statistics
   * during training; this decides what the target would use in inference mode.)
   */
  @IsIn(['ema', 'copy'])
  bnStats: 'ema' | 'copy' = 'ema';

  /** [online, target] model names; default the BYOL encoder and projector. */
  @IsArray()
  pairs: ModelPair[] = structuredClone(BYOL_MODEL_PAIRS);
}

interface VarPair {
  online: tf.Variable;
  target: tf.Variable;
  copy: boolean;
}

/**
 * ξ ← τ·ξ + (1 − τ)·θ after every optimizer step (batchEnd, WEIGHT_UPDATE), for every
 * [online, target] pair, in one tidy. Logs `tau`. Needs the target built by `target-init`.
 */
@registerCallback('ema', { order: CallbackOrder.WEIGHT_UPDATE, requires: ['target-init'], options: EmaUpdateOptions })
export class EmaUpdateCallback extends Callback {
  readonly tauBase: number;
  readonly schedule: 'cosine' | 'constant';
  readonly bnStats: 'ema' | 'copy';
  readonly pairs: ModelPair[];
  private vars: VarPair[] = [];
  private totalSteps = 0;

  /** `opts`: the validated options, or a partial object that gets the same checks and defaults. */
  constructor(opts: Partial<EmaUpdateOptions> = {}) {
    super();
    const o = resolveCallbackOptions(EmaUpdateOptions, opts, 'ema');
    this.tauBase = o.tauBase;
    this.schedule = o.schedule;
    this.bnStats = o.bnStats;
    this.pairs = checkPairs(o.pairs, 'ema');
  }

  /** τ for the update that follows optimizer step k (0-based). */
  tauAt(k: number): number {
    if (this.schedule === 'constant') return this.tauBase;
    return cosineTau({ tauBase: this.tauBase, step: k, totalSteps: this.totalSteps });
  }

  override onExperimentStart(exp: Experiment<unknown, unknown>): void {
    if (this.schedule === 'cosine') {
      const total = exp.run.totalSteps;
      if (!total) {
        throw new Error(
          'ema: the cosine τ schedule needs the total number of steps; give fit() stepsPerEpoch or maxSteps (trainer.stepsPerEpoch / trainer.maxSteps), or use schedule: constant',
        );
      }
      this.totalSteps = total;
    }
    this.vars = [];
    for (const [o, t] of this.pairs) {
      const online = requireModel(exp, o, 'ema');
      const target = requireModel(exp, t, `ema (is target-init registered before it?)`);
      const ow = orderedWeights(online);
      const tw = orderedWeights(target);
      if (ow.length !== tw.length) throw new Error(`ema: "${o}" has ${ow.length} weights but "${t}" has ${tw.length}`);
      ow.forEach((w, i) => {
        if (!tf.util.arraysEqual(w.shape as number[], tw[i].shape as number[])) {
          throw new Error(`ema: weight ${w.name} [${w.shape}] does not match ${tw[i].name} [${tw[i].shape}]`);
        }
        this.vars.push({ online: w.read() as tf.Variable, target: tw[i].read() as tf.Variable, copy: !w.trainable && this.bnStats === 'copy' });
      });
    }
  }

  override onBatchEnd(exp: Experiment<unknown, unknown>): void {
    const tau = this.tauAt(exp.state.globalStep - 1);
    this.update(tau);
    exp.state.logs.set('tau', tau);
  }

  /** One EMA update with the given τ (exposed for tests and custom loops). */
  update(tau: number): void {
    tf.tidy(() => {
      // every pair in one native call where the native kernels are active (@selfsup/native-cpu)
      const averaged = this.vars.filter((v) => !v.copy);
      const native = nativeEmaStep(averaged, tau);
      if (native) {
        averaged.forEach(({ target }, k) => target.assign(native[k]));
        for (const { online, target } of this.vars.filter((v) => v.copy)) target.assign(online);
        return;
      }
      const t = tf.scalar(tau);
      const oneMinus = tf.scalar(1 - tau);
      for (const { online, target, copy } of this.vars) {
        target.assign(copy ? online : tf.add(tf.mul(target, t), tf.mul(online, oneMinus)));
      }
    });
  }
}
