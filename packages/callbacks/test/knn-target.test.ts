import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CallbackOrder, Experiment, onEpochEnd, readCheckpointMeta, type StepLogs } from '@selfsup/core';
import { CheckpointCallback, KnnEvalCallback } from '../src';
import { bruteForceKnn, patternDataset, type TinyDataset } from './eval-helpers';
import { useBackend } from '../../../test/helpers/backend';

let tmp: string;
beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-knn-target-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const DIM = 6;
// a target seed whose kNN has no near-ties (margin checked below), so float32 and float64 agree exactly
const TARGET_SEED = 17;
function encoder(seed: number, name: string): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.flatten({ inputShape: [8, 8, 1] }),
      tf.layers.dense({ units: DIM, kernelInitializer: tf.initializers.randomNormal({ seed }), biasInitializer: tf.initializers.randomNormal({ seed: seed + 100, stddev: 0.1 }) }),
    ],
  });
}

/**
 * An experiment that trains nothing, with an online and (optionally) a target encoder under
 * the given names; `declared` exposes the target through a `targetEncoder` getter, as
 * ByolExperiment does.
 */
class TwoEncoders extends Experiment<number> {
  constructor(
    private readonly targetName: string | null = 'target_encoder',
    private readonly declared = false,
  ) {
    super({});
  }
  protected override configureModels(): void {
    this.models.set('online_encoder', encoder(1, 'online_encoder'));
    if (this.targetName) this.models.set(this.targetName, encoder(TARGET_SEED, this.targetName));
  }
  get targetEncoder(): tf.LayersModel | undefined {
    return this.declared && this.targetName ? this.models.get(this.targetName) : undefined;
  }
  trainStep(): StepLogs {
    return { loss: tf.scalar(0) };
  }
}

const withData = <E extends Experiment<number>>(exp: E, bank: TinyDataset, val: TinyDataset): E => {
  exp.datasets.set('train', bank);
  exp.datasets.set('val', val);
  return exp;
};

/** Every image of a dataset as plain numbers, in order. */
async function pixelsOf(ds: TinyDataset, limit?: number): Promise<{ pixels: number[][]; labels: Int32Array }> {
  const pixels: number[][] = [];
  const labels: number[] = [];
  for await (const b of ds.batches({ batchSize: 1000, limit })) {
    const x = Array.from(await b.images.data());
    for (let i = 0; i < b.images.shape[0]; i++) pixels.push(x.slice(i * 64, (i + 1) * 64));
    labels.push(...Array.from(await b.labels!.data()));
    tf.dispose([b.images, b.labels!]);
  }
  return { pixels, labels: Int32Array.from(labels) };
}

/** The dense encoder's features in float64 with plain loops: f_j = Σ_p x_p·W_pj + b_j. */
function denseFeatures(model: tf.LayersModel, pixels: number[][]): Float64Array {
  const [W, b] = model.layers[1].getWeights().map((w) => Array.from(w.dataSync()));
  const out = new Float64Array(pixels.length * DIM);
  pixels.forEach((x, i) => {
    for (let j = 0; j < DIM; j++) {
      let s = b[j];
      for (let p = 0; p < 64; p++) s += x[p] * W[p * DIM + j];
      out[i * DIM + j] = s;
    }
  });
  return out;
}

async function reference(model: tf.LayersModel, bank: TinyDataset, val: TinyDataset, bankLimit: number) {
  const b = await pixelsOf(bank, bankLimit);
  const q = await pixelsOf(val);
  // bruteForceKnn only indexes its arrays: float64 features go in unchanged
  const f64 = (a: Float64Array) => a as unknown as Float32Array;
  return bruteForceKnn(f64(denseFeatures(model, b.pixels)), b.labels, f64(denseFeatures(model, q.pixels)), q.labels, DIM, 6, 20, 0.07);
}

const VAL_SEED = 4;
describe('knn-eval scores the target encoder too', () => {
  it('logs knn_acc_target / knn_top5_target equal to a float64 brute-force kNN on the target features, different from knn_acc, without tensor growth', async () => {
    const bank = patternDataset('bank', 120, 6, 1);
    const val = patternDataset('val', 40, 6, VAL_SEED);
    const exp = withData(new TwoEncoders(), bank, val);
    const cb = new KnnEvalCallback({ bankLimit: 100, batchSize: 32 });
    expect(cb.options.target).toBe('auto');
    const counts: number[] = [];
    exp.events.on('epochEnd', () => counts.push(tf.memory().numTensors));
    const h = await exp.fit([0, 1], { epochs: 3, callbacks: [cb] });

    const target = await reference(exp.models.get('target_encoder')!, bank, val, 100);
    const online = await reference(exp.models.get('online_encoder')!, bank, val, 100);
    expect(target.minMargin).toBeGreaterThan(1e-4); // no near-ties: float32 and float64 agree
    expect(online.minMargin).toBeGreaterThan(1e-4);
    expect(h.history.knn_acc_target).toEqual([target.top1, target.top1, target.top1]);
    expect(h.history.knn_top5_target).toEqual([target.top5, target.top5, target.top5]);
    expect(h.history.knn_acc).toEqual([online.top1, online.top1, online.top1]);
    expect(target.top1).not.toBe(online.top1); // the two encoders differ, and so do their scores
    expect(cb.lastTarget).toMatchObject({ epoch: 2, top1: target.top1, bankSize: 100, querySize: 40 });
    expect(counts[2]).toBe(counts[0]);
    exp.dispose();
  });

  it('target: auto finds target_<model> or the method-declared target; true requires one; false never scores it', async () => {
    const bank = patternDataset('bank', 60, 6, 1);
    const val = patternDataset('val', 20, 6, 2);
    const run = async (exp: TwoEncoders, cb: KnnEvalCallback) => {
      const h = await withData(exp, bank, val).fit([0], { epochs: 1, callbacks: [cb] });
      exp.dispose();
      return h.history;
    };
    expect(await run(new TwoEncoders(), new KnnEvalCallback({ target: false }))).not.toHaveProperty('knn_acc_target');
    expect(await run(new TwoEncoders(null), new KnnEvalCallback())).not.toHaveProperty('knn_acc_target');
    // a target under another name: found through the method's getter, or named with targetModel
    expect(await run(new TwoEncoders('ema_net', true), new KnnEvalCallback({ target: true }))).toHaveProperty('knn_acc_target');
    expect(await run(new TwoEncoders('ema_net', false), new KnnEvalCallback())).not.toHaveProperty('knn_acc_target');
    expect(await run(new TwoEncoders('ema_net', false), new KnnEvalCallback({ targetModel: 'ema_net' }))).toHaveProperty('knn_acc_target');

    await expect(run(new TwoEncoders(null), new KnnEvalCallback({ target: true }))).rejects.toThrow(
      'callback "knn-eval" failed in experimentStart: callback "knn-eval": target: true, but the experiment has no target encoder: looked for a model "target_encoder" or a method-declared target encoder',
    );
    await expect(run(new TwoEncoders(), new KnnEvalCallback({ targetModel: 'ema' }))).rejects.toThrow(
      'callback "knn-eval": model "ema" (option targetModel) is not in the experiment (models: online_encoder, target_encoder)',
    );
    expect(() => new KnnEvalCallback({ target: 'yes' as never })).toThrow('option "target" = "yes": target must be one of the following values: auto, true, false');
  });

  it('a checkpoint callback can monitor knn_acc_target: best/ is the epoch with the highest target kNN', async () => {
    const bank = patternDataset('bank', 120, 6, 1);
    const val = patternDataset('val', 40, 6, VAL_SEED);
    const exp = withData(new TwoEncoders(), bank, val);
    // a new random target each epoch (before the evaluation), so knn_acc_target changes while knn_acc does not
    const reseed = onEpochEnd({ name: 'reseed-target', order: CallbackOrder.EVALUATION - 10 })((e) => {
      const dense = e.models.get('target_encoder')!.layers[1];
      dense.setWeights([tf.randomNormal([64, DIM], 0, 1, 'float32', 10 + e.state.epoch), tf.zeros([DIM])]);
    });
    const dir = path.join(tmp, 'ckpt');
    const warnings: string[] = [];
    const ckpt = new CheckpointCallback({ dir, monitor: 'knn_acc_target' }, { warn: (m) => warnings.push(m), log: () => {} });
    const h = await exp.fit([0], { epochs: 4, callbacks: [reseed, new KnnEvalCallback(), ckpt] });
    const scores = h.history.knn_acc_target;
    expect(new Set(scores).size).toBeGreaterThan(1);
    expect(new Set(h.history.knn_acc).size).toBe(1);
    const best = Math.max(...scores);
    const meta = await readCheckpointMeta(path.join(dir, 'best'));
    expect(meta.extra).toMatchObject({ monitor: 'knn_acc_target', mode: 'max', value: best, epoch: scores.indexOf(best) });
    expect(warnings).toEqual([]);
    exp.dispose();
  });
});
