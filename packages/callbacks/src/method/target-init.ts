import * as tf from '@tensorflow/tfjs';
import { IsArray } from 'class-validator';
import { Callback, CallbackOrder, registerCallback, type Experiment } from '@selfsup/core';
import { resolveCallbackOptions } from '../eval/options';
import { BYOL_MODEL_PAIRS, checkPairs, orderedWeights, requireModel, type ModelPair } from './pairs';

export class TargetInitOptions {
  /** [online, target] model names; default the BYOL encoder and projector. */
  @IsArray()
  pairs: ModelPair[] = structuredClone(BYOL_MODEL_PAIRS);
}

/** Renames every `online_encoder`/`online_encoder/...` string so the copy has its own layer names. */
function renameTopology(node: unknown, from: string, to: string): unknown {
  if (typeof node === 'string') {
    if (node === from) return to;
    return node.startsWith(`${from}/`) ? to + node.slice(from.length) : node;
  }
  if (Array.isArray(node)) return node.map((n) => renameTopology(n, from, to));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, renameTopology(v, from, to)]));
  }
  return node;
}

/** An architecture copy of `model` named `name` (fresh variables; weights copied separately). */
export async function cloneArchitecture(model: tf.LayersModel, name: string): Promise<tf.LayersModel> {
  const topology = renameTopology(model.toJSON(null, false), model.name, name) as tf.io.ModelJSON['modelTopology'];
  const clone = await tf.models.modelFromJSON({ modelTopology: topology } as tf.io.ModelJSON);
  if (clone.weights.length !== model.weights.length) {
    clone.dispose();
    throw new Error(`cloneArchitecture: the copy of "${model.name}" has ${clone.weights.length} weights, the original ${model.weights.length}; custom layers must be serializable`);
  }
  return clone;
}

/** Every weight (trainable and not: batch-norm statistics too) of `from` copied into `to`. */
export function copyWeights(from: tf.LayersModel, to: tf.LayersModel): void {
  const src = orderedWeights(from);
  const dst = orderedWeights(to);
  if (src.length !== dst.length) throw new Error(`copyWeights: "${from.name}" has ${src.length} weights, "${to.name}" ${dst.length}`);
  tf.tidy(() => {
    src.forEach((s, i) => {
      const d = dst[i];
      if (!tf.util.arraysEqual(s.shape as number[], d.shape as number[])) {
        throw new Error(`copyWeights: weight ${i} of "${from.name}" (${s.name}) has shape [${s.shape}], "${to.name}" (${d.name}) [${d.shape}]`);
      }
      d.write(s.read().clone());
    });
  });
}

/**
 * BYOL's target network: at experimentStart (MODEL_INIT) each target model becomes an exact
 * copy of its online model (architecture and every weight, batch-norm statistics included),
 * and is frozen — the optimizer never sees it; only the EMA callback moves it.
 */
@registerCallback('target-init', { order: CallbackOrder.MODEL_INIT, options: TargetInitOptions })
export class TargetInitCallback extends Callback {
  readonly pairs: ModelPair[];

  /** `opts`: the validated options, or a partial object that gets the same checks and defaults. */
  constructor(opts: Partial<TargetInitOptions> = {}) {
    super();
    this.pairs = checkPairs(resolveCallbackOptions(TargetInitOptions, opts, 'target-init').pairs, 'target-init');
  }

  override async onExperimentStart(exp: Experiment<unknown, unknown>): Promise<void> {
    for (const [onlineName, targetName] of this.pairs) {
      const online = requireModel(exp, onlineName, 'target-init');
      let target = exp.models.get(targetName);
      if (!target) {
        target = await cloneArchitecture(online, targetName);
        exp.models.set(targetName, target);
      }
      copyWeights(online, target);
      target.trainable = false;
    }
  }
}
