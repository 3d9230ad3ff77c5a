import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from './batch-norm';
import { reLU } from './fusion';
import { linearUniform, SeedStream, TORCH_BATCH_NORM } from './init';

export interface MlpHeadOptions {
  inputDim: number;
  /** Default 4096 (BYOL paper). */
  hiddenDim?: number;
  /** Default 256 (BYOL paper). */
  outputDim?: number;
  /** Model name and layer prefix, e.g. 'online_projector' → `online_projector/linear1/kernel`. */
  name: string;
  /** Seed for the initial weights. */
  seed?: number;
}

function positiveInt(value: number | undefined, key: string, name: string): number {
  if (!(Number.isInteger(value) && (value as number) > 0)) {
    throw new Error(`buildMlpHead("${name}"): ${key} must be a positive integer, got ${String(value)}.`);
  }
  return value as number;
}

/**
 * BYOL projector / predictor: Linear → BatchNorm → ReLU → Linear, no BN on the output.
 * Input `[batch, inputDim]`, output `[batch, outputDim]`. Linear layers keep their bias
 * (as `nn.Linear` does) and use torch's default init, so parameter counts match PyTorch.
 * Layers: `<name>/linear1`, `<name>/bn1`, `<name>/relu1`, `<name>/linear2`.
 */
export function buildMlpHead(opts: MlpHeadOptions): tf.LayersModel {
  const { name } = opts;
  if (typeof name !== 'string' || name.length === 0) throw new Error('buildMlpHead: name is required (e.g. "online_projector").');
  const inputDim = positiveInt(opts.inputDim, 'inputDim', name);
  const hiddenDim = positiveInt(opts.hiddenDim ?? 4096, 'hiddenDim', name);
  const outputDim = positiveInt(opts.outputDim ?? 256, 'outputDim', name);
  const seeds = new SeedStream(opts.seed);

  const dense = (units: number, fanIn: number, layer: string) =>
    tf.layers.dense({
      units,
      kernelInitializer: linearUniform(fanIn, seeds.next()),
      biasInitializer: linearUniform(fanIn, seeds.next()),
      name: `${name}/${layer}`,
    });

  const input = tf.input({ shape: [inputDim], name: `${name}/input` });
  let x = dense(hiddenDim, inputDim, 'linear1').apply(input) as tf.SymbolicTensor;
  x = batchNormalization({ axis: -1, ...TORCH_BATCH_NORM, name: `${name}/bn1` })
    .apply(x) as tf.SymbolicTensor;
  x = reLU({ name: `${name}/relu1` }).apply(x) as tf.SymbolicTensor;
  const out = dense(outputDim, hiddenDim, 'linear2').apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name });
}
