import * as tf from '@tensorflow/tfjs';
import { checkNumber, SlotOptimizer, type SlotOptimizerOptions, type StepContext } from './slot-optimizer';
import { UserError } from '@selfsup/core';

export interface SgdOptions extends SlotOptimizerOptions {
  /** Default 0.9 (lightly's BYOL recipe); 0 gives plain SGD. */
  momentum?: number;
  nesterov?: boolean;
}

/**
 * `torch.optim.SGD` (dampening 0): g ← g + wd·w (L2, skipped for excluded variables),
 * buf ← μ·buf + g, w ← w − lr·buf (nesterov: w ← w − lr·(g + μ·buf)).
 * Excludes nothing from weight decay unless `exclude` is given.
 */
export class SGD extends SlotOptimizer {
  static className = 'selfsup.SGD';
  protected readonly slotNames = ['momentum'] as const;
  private readonly momentum: number;
  private readonly nesterov: boolean;

  constructor(opts: SgdOptions) {
    super(opts);
    this.momentum = checkNumber('SGD', 'momentum', opts.momentum ?? 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)');
    this.nesterov = opts.nesterov ?? false;
    if (this.nesterov && this.momentum === 0) throw new UserError('SGD: nesterov needs momentum > 0; set momentum (e.g. 0.9) or nesterov: false.');
  }

  protected update(w: tf.Variable, g: tf.Tensor, { lr, excluded }: StepContext): void {
    const d = this.weightDecay > 0 && !excluded ? tf.add(g, tf.mul(this.weightDecay, w)) : g;
    if (this.momentum === 0) {
      w.assign(tf.sub(w, tf.mul(lr, d)));
      return;
    }
    this.momentumStep(w, d, lr, this.momentum, this.nesterov);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }
}
