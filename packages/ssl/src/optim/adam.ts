import * as tf from '@tensorflow/tfjs';
import { checkNumber, SlotOptimizer, type SlotOptimizerOptions, type StepContext } from './slot-optimizer';

export interface AdamOptions extends SlotOptimizerOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8 (PyTorch; tfjs's own Adam uses 1e-7). */
  epsilon?: number;
}

/**
 * `torch.optim.Adam`: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
 * w ← w − lr·(m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε), with t the optimizer step.
 * `weightDecay` is coupled L2 (g ← g + wd·w), as in torch's Adam; see `AdamW` for the
 * decoupled form. byol-pytorch trains with Adam at lr 3e-4.
 */
export class Adam extends SlotOptimizer {
  static className = 'selfsup.Adam';
  protected readonly slotNames = ['m', 'v'] as const;
  protected readonly beta1: number;
  protected readonly beta2: number;
  protected readonly epsilon: number;
  /** AdamW overrides: decay the weights directly instead of adding wd·w to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(opts: AdamOptions) {
    super(opts);
    const cls = new.target.name;
    this.beta1 = checkNumber(cls, 'beta1', opts.beta1 ?? 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)');
    this.beta2 = checkNumber(cls, 'beta2', opts.beta2 ?? 0.999, (v) => v >= 0 && v < 1, 'in [0, 1)');
    this.epsilon = checkNumber(cls, 'epsilon', opts.epsilon ?? 1e-8, (v) => v >= 0, 'a finite number ≥ 0');
  }

  protected update(w: tf.Variable, g: tf.Tensor, { lr, step, excluded }: StepContext): void {
    const decay = this.weightDecay > 0 && !excluded;
    let grad = g;
    let base: tf.Tensor = w;
    if (decay && this.decoupled) base = tf.mul(w, 1 - lr * this.weightDecay);
    else if (decay) grad = tf.add(g, tf.mul(this.weightDecay, w));

    const m = this.slot(w, 'm');
    const v = this.slot(w, 'v');
    const newM = tf.add(tf.mul(this.beta1, m), tf.mul(1 - this.beta1, grad));
    const newV = tf.add(tf.mul(this.beta2, v), tf.mul(1 - this.beta2, tf.square(grad)));
    m.assign(newM);
    v.assign(newV);
    const mHat = tf.div(newM, 1 - this.beta1 ** step);
    const vHat = tf.div(newV, 1 - this.beta2 ** step);
    w.assign(tf.sub(base, tf.mul(lr, tf.div(mHat, tf.add(tf.sqrt(vHat), this.epsilon)))));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { lr: this.lr, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay };
  }
}

/**
 * `torch.optim.AdamW`: decoupled weight decay w ← w·(1 − lr·wd) (skipped for excluded
 * variables), then the Adam step. Default weightDecay 1e-2 as in PyTorch.
 */
export class AdamW extends Adam {
  static override className = 'selfsup.AdamW';
  protected override readonly decoupled: boolean = true;

  constructor(opts: AdamOptions) {
    super({ ...opts, weightDecay: opts.weightDecay ?? 1e-2 });
  }
}
