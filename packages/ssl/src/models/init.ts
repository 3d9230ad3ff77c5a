import * as tf from '@tensorflow/tfjs';

/**
 * Weight initializers matching PyTorch's defaults, built only from tfjs's stock
 * initializer classes so a saved model.json loads with `tf.loadLayersModel` without
 * registering anything.
 *
 * Why not `tf.initializers.heNormal`/`varianceScaling`: tfjs draws its 'normal'
 * variance scaling from a *truncated* normal, torch's `kaiming_normal_` from a plain one.
 */

/** A tfjs layers initializer (the class is not exported under a public name). */
export type Initializer = ReturnType<typeof tf.initializers.randomNormal>;

/** Derives a distinct 32-bit seed per layer, so one model seed never repeats a stream. */
export class SeedStream {
  private counter = 0;

  constructor(private readonly seed: number | undefined) {}

  next(): number | undefined {
    if (this.seed === undefined) return undefined;
    let h = (Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(++this.counter, 0xc2b2ae35)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  }
}

/**
 * torchvision's ResNet conv init: `kaiming_normal_(mode='fan_out', nonlinearity='relu')`,
 * i.e. N(0, 2 / (k_h·k_w·out_channels)).
 */
export function convKaimingNormalFanOut(kernelSize: number, outChannels: number, seed?: number): Initializer {
  const fanOut = kernelSize * kernelSize * outChannels;
  return tf.initializers.randomNormal({ mean: 0, stddev: Math.sqrt(2 / fanOut), seed });
}

/**
 * `torch.nn.Linear` default: weight and bias ~ U(−1/√fan_in, 1/√fan_in)
 * (kaiming_uniform with a = √5 reduces to that bound for the weight).
 */
export function linearUniform(fanIn: number, seed?: number): Initializer {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed });
}

/**
 * PyTorch BatchNorm hyper-parameters in tfjs terms. tfjs's `momentum` is the weight of
 * the *old* moving value, PyTorch's the weight of the new batch statistic: 0.9 ≙ 0.1.
 * Note: tfjs updates the moving variance with the biased batch variance, PyTorch with the
 * unbiased one (factor n/(n−1), negligible for conv feature maps).
 */
export const TORCH_BATCH_NORM = { epsilon: 1e-5, momentum: 0.9 } as const;
