import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from './batch-norm';
import { add, reLU } from './fusion';
import { convKaimingNormalFanOut, SeedStream, TORCH_BATCH_NORM } from './init';
import { UserError } from '@selfsup/core';

export type ResNetDepth = 18 | 34 | 50;
export type ResNetStem = 'imagenet' | 'cifar';

export interface ResNetOptions {
  depth: ResNetDepth;
  /** 'imagenet': 7×7/2 conv + 3×3/2 max-pool. 'cifar': 3×3/1 conv, no pool (solo-learn). */
  stem: ResNetStem;
  /** [height, width, channels], channels-last; any channel count. */
  inputShape: [number, number, number];
  /** Channel multiplier on torchvision's 64-128-256-512 stages (default 1). */
  width?: number;
  /**
   * Model name and prefix of every layer (`<name>/layer1.0.conv1`), hence of every
   * weight (`<name>/layer1.0.conv1/kernel`). Default 'resnet<depth>'.
   */
  name?: string;
  /** Seed for the initial weights; same seed and options give identical weights. */
  seed?: number;
  /**
   * Start each residual block's last BN with γ = 0, so every block begins as the identity
   * (torchvision's `zero_init_residual`; Goyal et al. 2017). Default false.
   */
  zeroInitResidual?: boolean;
}

interface DepthSpec {
  block: 'basic' | 'bottleneck';
  blocks: [number, number, number, number];
  expansion: number;
}

const DEPTHS: Record<ResNetDepth, DepthSpec> = {
  18: { block: 'basic', blocks: [2, 2, 2, 2], expansion: 1 },
  34: { block: 'basic', blocks: [3, 4, 6, 3], expansion: 1 },
  50: { block: 'bottleneck', blocks: [3, 4, 6, 3], expansion: 4 },
};

const channels = (width: number, multiple: number) => Math.max(1, Math.round(64 * width * multiple));

/** Length of the feature vector a ResNet outputs: 512·width (18/34) or 2048·width (50). */
export function resnetFeatureDim(depth: ResNetDepth, width = 1): number {
  const spec = DEPTHS[depth];
  if (!spec) throw new Error(`resnetFeatureDim: unsupported depth ${String(depth)}; use 18, 34 or 50.`);
  return channels(width, 8) * spec.expansion;
}

type Sym = tf.SymbolicTensor;
const call = (layer: tf.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;

/** Builds layers named `<prefix>/<torchvision module path>`, seeding each conv in order. */
class Builder {
  constructor(
    private readonly prefix: string,
    private readonly seeds: SeedStream,
    private readonly zeroInitResidual = false,
  ) {}

  conv(x: Sym, filters: number, kernel: number, stride: number, path: string): Sym {
    let padding: 'same' | 'valid' = 'valid';
    if (kernel > 1) {
      // tfjs 'same' pads stride-2 convs asymmetrically (0 before, 1 after for even sizes),
      // PyTorch symmetrically; stride-1 'same' with an odd kernel is already symmetric.
      if (stride === 1) padding = 'same';
      else x = call(tf.layers.zeroPadding2d({ padding: (kernel - 1) / 2, name: `${this.prefix}/${path}_pad` }), x);
    }
    const layer = tf.layers.conv2d({
      filters,
      kernelSize: kernel,
      strides: stride,
      padding,
      useBias: false,
      kernelInitializer: convKaimingNormalFanOut(kernel, filters, this.seeds.next()),
      name: `${this.prefix}/${path}`,
    });
    return call(layer, x);
  }

  /** `last`: the BN that closes a residual branch (γ = 0 under zeroInitResidual). */
  bn(x: Sym, path: string, last = false): Sym {
    const layer = batchNormalization({
      axis: -1,
      ...TORCH_BATCH_NORM,
      gammaInitializer: last && this.zeroInitResidual ? 'zeros' : 'ones',
      betaInitializer: 'zeros',
      name: `${this.prefix}/${path}`,
    });
    return call(layer, x);
  }

  relu(x: Sym, path: string): Sym {
    return call(reLU({ name: `${this.prefix}/${path}` }), x);
  }

  add(a: Sym, b: Sym, path: string): Sym {
    return call(add({ name: `${this.prefix}/${path}` }), [a, b]);
  }

  /** torchvision BasicBlock: 3×3 (stride) → BN → ReLU → 3×3 → BN, + shortcut, ReLU. */
  basic(x: Sym, inC: number, planes: number, stride: number, path: string): Sym {
    let h = this.relu(this.bn(this.conv(x, planes, 3, stride, `${path}.conv1`), `${path}.bn1`), `${path}.relu1`);
    h = this.bn(this.conv(h, planes, 3, 1, `${path}.conv2`), `${path}.bn2`, true);
    const shortcut = this.shortcut(x, inC, planes, stride, path);
    return this.relu(this.add(h, shortcut, `${path}.add`), `${path}.relu`);
  }

  /** torchvision Bottleneck (v1.5, stride on the 3×3): 1×1 → 3×3 (stride) → 1×1 (×4). */
  bottleneck(x: Sym, inC: number, planes: number, stride: number, path: string): Sym {
    const out = planes * 4;
    let h = this.relu(this.bn(this.conv(x, planes, 1, 1, `${path}.conv1`), `${path}.bn1`), `${path}.relu1`);
    h = this.relu(this.bn(this.conv(h, planes, 3, stride, `${path}.conv2`), `${path}.bn2`), `${path}.relu2`);
    h = this.bn(this.conv(h, out, 1, 1, `${path}.conv3`), `${path}.bn3`, true);
    const shortcut = this.shortcut(x, inC, out, stride, path);
    return this.relu(this.add(h, shortcut, `${path}.add`), `${path}.relu`);
  }

  private shortcut(x: Sym, inC: number, outC: number, stride: number, path: string): Sym {
    if (stride === 1 && inC === outC) return x;
    return this.bn(this.conv(x, outC, 1, stride, `${path}.downsample.0`), `${path}.downsample.1`);
  }
}

function validate(opts: ResNetOptions): void {
  const where = `buildResNet(${opts.name ?? ''})`;
  if (!DEPTHS[opts.depth]) throw new UserError(`${where}: depth ${String(opts.depth)} is not supported; use 18, 34 or 50.`);
  if (opts.stem !== 'imagenet' && opts.stem !== 'cifar') {
    throw new UserError(`${where}: stem "${String(opts.stem)}" is not supported; use "imagenet" (7×7/2 + max-pool) or "cifar" (3×3/1).`);
  }
  const shape = opts.inputShape;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new UserError(`${where}: inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(shape)}.`);
  }
  const width = opts.width ?? 1;
  if (!(Number.isFinite(width) && width > 0)) {
    throw new UserError(`${where}: width multiplier must be a positive number, got ${String(width)}.`);
  }
}

/**
 * A torchvision-layout ResNet encoder as a functional `tf.LayersModel` whose output is the
 * globally average-pooled feature vector `[batch, resnetFeatureDim(depth, width)]`
 * (no classifier). Saves with `model.save` and loads with `tf.loadLayersModel`.
 *
 * Layer names follow torchvision's state_dict paths under the model name
 * (`<name>/conv1`, `<name>/bn1`, `<name>/layer2.0.downsample.0`, …), so weights map
 * one-to-one to a PyTorch checkpoint and two models built with the same options list
 * their weights in the same order.
 */
export function buildResNet(opts: ResNetOptions): tf.LayersModel {
  validate(opts);
  const { depth, stem, inputShape } = opts;
  const width = opts.width ?? 1;
  const name = opts.name ?? `resnet${depth}`;
  const spec = DEPTHS[depth];
  const b = new Builder(name, new SeedStream(opts.seed), opts.zeroInitResidual ?? false);

  const input = tf.input({ shape: inputShape, name: `${name}/input` });
  const stemC = channels(width, 1);
  let x: Sym;
  if (stem === 'imagenet') {
    x = b.relu(b.bn(b.conv(input, stemC, 7, 2, 'conv1'), 'bn1'), 'relu');
    // Zero padding equals PyTorch's −∞ padding here because the input is post-ReLU (≥ 0).
    x = call(tf.layers.zeroPadding2d({ padding: 1, name: `${name}/maxpool_pad` }), x);
    x = call(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: `${name}/maxpool` }), x);
  } else {
    x = b.relu(b.bn(b.conv(input, stemC, 3, 1, 'conv1'), 'bn1'), 'relu');
  }

  let inC = stemC;
  spec.blocks.forEach((count, stage) => {
    const planes = channels(width, 2 ** stage);
    for (let i = 0; i < count; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const path = `layer${stage + 1}.${i}`;
      x = spec.block === 'basic' ? b.basic(x, inC, planes, stride, path) : b.bottleneck(x, inC, planes, stride, path);
      inC = planes * spec.expansion;
    }
  });

  const features = call(tf.layers.globalAveragePooling2d({ name: `${name}/avgpool` }), x);
  return tf.model({ inputs: input, outputs: features, name });
}
