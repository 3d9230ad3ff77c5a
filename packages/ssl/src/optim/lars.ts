import * as tf from '@tensorflow/tfjs';
import { isBiasOrNormParam } from './exclude';
import { nativeLarsStep } from '@selfsup/core';
import { checkNumber, SlotOptimizer, type SlotOptimizerOptions, type StepContext, type StepItem } from './slot-optimizer';

export interface LarsOptions extends SlotOptimizerOptions {
  /** Default 0.9. */
  momentum?: number;
  /** Trust coefficient η. Default 1e-3 (BYOL paper); solo-learn's CIFAR recipe uses 0.02 with clipping. */
  eta?: number;
  /** solo-learn's `clip_lr`: cap the adapted rate at the global one, trust ← min(trust / lr, 1). */
  clipTrustRatio?: boolean;
  nesterov?: boolean;
  /** Added to the trust-ratio denominator. Default 1e-8. */
  eps?: number;
}

/**
 * LARS (You et al. 2017), in the form solo-learn's `LARS` implements. For a parameter w
 * with gradient g that is not excluded, when ‖w‖ > 0 and ‖g‖ > 0:
 *
 *   trust = η·‖w‖ / (‖g‖ + wd·‖w‖ + eps)        (clipped: min(trust / lr, 1))
 *   d     = (g + wd·w) · trust
 *
 * otherwise (excluded — by default biases and batch-norm γ/β — or a zero norm) d = g, with
 * no weight decay. Then momentum as in torch SGD: buf ← μ·buf + d; w ← w − lr·buf
 * (nesterov: w ← w − lr·(d + μ·buf)). The learning rate multiplies outside the buffer, so
 * `setLearningRate` takes effect at once.
 */
export class LARS extends SlotOptimizer {
  static className = 'selfsup.LARS';
  protected readonly slotNames = ['momentum'] as const;
  private readonly momentum: number;
  private readonly eta: number;
  private readonly clipTrustRatio: boolean;
  private readonly nesterov: boolean;
  private readonly eps: number;

  constructor(opts: LarsOptions) {
    super(opts, isBiasOrNormParam);
    this.momentum = checkNumber('LARS', 'momentum', opts.momentum ?? 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)');
    this.eta = checkNumber('LARS', 'eta', opts.eta ?? 1e-3, (v) => v > 0, 'a finite number > 0');
    this.eps = checkNumber('LARS', 'eps', opts.eps ?? 1e-8, (v) => v >= 0, 'a finite number ≥ 0');
    this.clipTrustRatio = opts.clipTrustRatio ?? false;
    this.nesterov = opts.nesterov ?? false;
  }

  protected update(w: tf.Variable, g: tf.Tensor, { lr, excluded }: StepContext): void {
    let d = g;
    if (!excluded) {
      const wNorm = tf.norm(w);
      const gNorm = tf.norm(g);
      const adapt = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(gNorm, 0));
      let trust: tf.Tensor = tf.div(tf.mul(this.eta, wNorm), tf.add(tf.add(gNorm, tf.mul(this.weightDecay, wNorm)), this.eps));
      if (this.clipTrustRatio && lr > 0) trust = tf.minimum(tf.div(trust, lr), 1);
      trust = tf.where(adapt, trust, tf.onesLike(trust));
      const decay = tf.mul(tf.cast(adapt, 'float32'), this.weightDecay);
      d = tf.mul(tf.add(g, tf.mul(decay, w)), trust);
    }
    this.momentumStep(w, d, lr, this.momentum, this.nesterov);
  }

  /** Every variable in one native call where the native kernels are active (same formulas, norms summed in float64). */
  protected override updateAll(items: StepItem[]): boolean {
    const out = nativeLarsStep(
      items.map(({ variable, grad, ctx }) => ({ w: variable, g: grad, buf: this.slot(variable, 'momentum'), lr: ctx.lr, excluded: ctx.excluded })),
      { momentum: this.momentum, eta: this.eta, weightDecay: this.weightDecay, eps: this.eps, clipTrustRatio: this.clipTrustRatio, nesterov: this.nesterov },
    );
    if (!out) return false;
    items.forEach(({ variable }, k) => {
      this.slot(variable, 'momentum').assign(out[k][1]);
      variable.assign(out[k][0]);
    });
    return true;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      lr: this.lr,
      momentum: this.momentum,
      eta: this.eta,
      weightDecay: this.weightDecay,
      clipTrustRatio: this.clipTrustRatio,
      nesterov: this.nesterov,
      eps: this.eps,
    };
  }
}
