import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CallbackOrder, Experiment, plugins, type StepLogs } from '@selfsup/core';
import {
  EmbeddingPlotCallback,
  KnnEvalCallback,
  LinearProbeCallback,
  extractFeatures,
  flattenPixels,
  linearProbe,
} from '../src/eval';
import { bruteForceKnn, patternDataset, referenceLinearProbe, rowsOf, TinyDataset } from './eval-helpers';
import { useBackend } from '../../../test/helpers/backend';

let tmp: string;
beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-eval-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function encoder(seed = 1): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [8, 8, 1] }),
      tf.layers.dense({ units: 6, kernelInitializer: tf.initializers.randomNormal({ seed }), biasInitializer: 'zeros' }),
    ],
  });
}

/** An experiment that trains nothing: the encoder stays fixed, so evaluations are reproducible. */
class FrozenExperiment extends Experiment<number> {
  constructor(private readonly modelKey = 'online_encoder') {
    super({});
  }
  protected override configureModels(): void {
    this.models.set(this.modelKey, encoder());
  }
  trainStep(): StepLogs {
    return { loss: tf.scalar(0) };
  }
}

function withData(exp: Experiment<number>, bank: TinyDataset, val: TinyDataset): Experiment<number> {
  exp.datasets.set('train', bank);
  exp.datasets.set('val', val);
  return exp;
}

describe('extractFeatures', () => {
  it('runs the model in inference mode (batch norm uses moving stats), in order, disposing every batch', async () => {
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [8, 8, 1] }), tf.layers.batchNormalization()] });
    // gamma, beta, moving mean, moving variance
    model.layers[1].setWeights([tf.ones([64]), tf.zeros([64]), tf.fill([64], 0.5), tf.fill([64], 4)]);
    const ds = patternDataset('d', 10, 3, 4);
    const before = tf.memory().numTensors;
    const f = await extractFeatures(model, ds, { batchSize: 4, limit: 7 });
    expect(tf.memory().numTensors).toBe(before);
    expect(ds.handedOut.length).toBe(2 * 2); // 2 batches (4 + 3), images + labels each
    expect(ds.handedOut.every((t) => t.isDisposed)).toBe(true);
    expect([f.count, f.dim]).toEqual([7, 64]);
    expect(Array.from(f.indices)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(f.labels!)).toEqual(Array.from(ds.labelsArray().subarray(0, 7)));
    // Inference BN: (x − 0.5) / sqrt(4 + 1e-3); batch statistics would give a different result.
    const pixels = await flattenPixels((await ds.batches({ batchSize: 7 }).next()).value.images).data();
    for (const i of [0, 100, 447]) expect(f.data[i]).toBeCloseTo((pixels[i] - 0.5) / Math.sqrt(4.001), 5);
    model.dispose();
  });

  it('works with a function, leaves labels out for unlabelled data, and rejects multi-output models', async () => {
    const ds = patternDataset('raw', 5, 2, 1, false);
    const f = await extractFeatures(flattenPixels, ds, { batchSize: 2 });
    expect([f.count, f.dim, f.labels]).toEqual([5, 64, undefined]);
    const input = tf.input({ shape: [8, 8, 1] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const two = tf.model({ inputs: input, outputs: [flat, tf.layers.dense({ units: 2 }).apply(flat) as tf.SymbolicTensor] });
    await expect(extractFeatures(two, ds)).rejects.toThrow('the model has 2 outputs; feature extraction needs a single-output encoder');
    const nan = (x: tf.Tensor4D) => tf.div(flattenPixels(x), 0).mul(0);
    await expect(extractFeatures(nan, ds, { label: 'encoder' })).rejects.toThrow('encoder: non-finite feature (NaN) for example 0 of dataset "raw"');
  });
});

// A seed whose kNN has no near-ties (margin checked below), so float32 and float64 agree exactly.
const VAL_SEED = 4;
describe('KnnEvalCallback', () => {
  it('is registered as knn-eval in EVALUATION order with validated defaults', () => {
    const info = plugins.callback('knn-eval');
    expect(info.ctor).toBe(KnnEvalCallback);
    expect(info.order).toBe(CallbackOrder.EVALUATION);
    const cb = new (info.ctor as typeof KnnEvalCallback)({ every: 5 });
    expect(cb.name).toBe('knn-eval');
    expect(cb.order).toBe(CallbackOrder.EVALUATION);
    expect(cb.options).toMatchObject({ every: 5, k: 20, temperature: 0.07, model: 'online_encoder', bank: 'train', query: 'val', batchSize: 256 });
    expect(() => new KnnEvalCallback({ every: 0 })).toThrow('callback "knn-eval": invalid options: option "every" = 0: every must not be less than 1');
    expect(() => new KnnEvalCallback({ evry: 2 } as never)).toThrow('unknown option "evry" (value 2)');
    expect(() => new KnnEvalCallback({ temperature: -1 })).toThrow('option "temperature" = -1: temperature must be a positive number');
  });

  it('logs knn_acc and knn_top5 every N epochs and at the last one, matching brute force, without tensor growth', async () => {
    const bank = patternDataset('bank', 120, 6, 1);
    const val = patternDataset('val', 40, 6, VAL_SEED);
    const exp = withData(new FrozenExperiment(), bank, val);
    const cb = new KnnEvalCallback({ every: 2, bankLimit: 100, batchSize: 32 });
    const counts: number[] = [];
    exp.events.on('epochEnd', () => counts.push(tf.memory().numTensors));
    const history = await exp.fit([0, 1], { epochs: 3, callbacks: [cb] });

    const enc = exp.models.get('online_encoder')!;
    const b = await extractFeatures(enc, bank, { limit: 100 });
    const q = await extractFeatures(enc, val);
    const ref = bruteForceKnn(b.data, b.labels!, q.data, q.labels!, b.dim, 6, 20, 0.07);
    expect(ref.minMargin).toBeGreaterThan(1e-4);
    // epoch 0: 1 % 2 ≠ 0 → skipped; epoch 1: every 2nd; epoch 2: the last.
    expect(history.history.knn_acc.map((v) => (Number.isNaN(v) ? null : v))).toEqual([null, ref.top1, ref.top1]);
    expect(history.history.knn_top5.slice(1)).toEqual([ref.top5, ref.top5]);
    expect(ref.top1).toBeGreaterThan(1 / 6); // the classes are learnable from pixels rows
    expect(cb.last).toMatchObject({ epoch: 2, bankSize: 100, querySize: 40, numClasses: 6 });
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
    exp.dispose();
  });

  it('also runs at the epoch where maxSteps ends the run early', async () => {
    const ds = patternDataset('d', 12, 2, 1);
    const exp = withData(new FrozenExperiment(), ds, ds);
    const history = await exp.fit([0], { epochs: 10, maxSteps: 2, callbacks: [new KnnEvalCallback({ every: 5, k: 1 })] });
    expect(history.epoch).toEqual([0, 1]);
    expect(Number.isNaN(history.history.knn_acc[0])).toBe(true);
    // bank = query and k = 1: each example's only voter is itself (cosine 1).
    expect(history.history.knn_acc[1]).toBe(1);
    expect(history.history.knn_top5).toBeUndefined(); // 2 classes
    exp.dispose();
  });

  it('fails at experimentStart naming the missing model, dataset or labels', async () => {
    const bank = patternDataset('bank', 8, 2, 1);
    const val = patternDataset('val', 8, 2, 2);
    const run = (exp: Experiment<number>, cb = new KnnEvalCallback()) => exp.fit([0], { epochs: 1, callbacks: [cb] });

    await expect(run(withData(new FrozenExperiment('encoder'), bank, val))).rejects.toThrow(
      'callback "knn-eval" failed in experimentStart: callback "knn-eval": the experiment has no model "online_encoder" (models: encoder). Set the callback\'s `model` option',
    );
    await expect(run(withData(new FrozenExperiment('encoder'), bank, val), new KnnEvalCallback({ model: 'encoder', query: 'test' }))).rejects.toThrow(
      'no dataset with role "test" (datasets: train, val). Configure a labelled "test" split in the data section',
    );
    const unlabelled = patternDataset('pretrain-only', 8, 2, 3, false);
    await expect(run(withData(new FrozenExperiment(), unlabelled, val))).rejects.toThrow(
      'dataset "pretrain-only" (role "train") has no labels, and this evaluation needs them. Use a labelled dataset for "train" or point the `bank` option at one.',
    );
  });
});

describe('LinearProbeCallback', () => {
  it('logs linear_acc at the last epoch, equal to a float64 probe written out independently', async () => {
    expect(plugins.callback('linear-probe').ctor).toBe(LinearProbeCallback);
    const bank = patternDataset('bank', 80, 4, 5);
    const val = patternDataset('val', 40, 4, 6);
    const exp = withData(new FrozenExperiment(), bank, val);
    const cb = new LinearProbeCallback({ every: 10, epochs: 20, lr: 0.05 });
    expect(cb.order).toBe(CallbackOrder.EVALUATION);
    const history = await exp.fit([0], { epochs: 2, callbacks: [cb] });

    // The reference: the frozen encoder (flatten → dense) applied in float64 to the pixels,
    // then referenceLinearProbe (eval-helpers.ts) with the callback's defaults (weight decay
    // 1e-4, standardised features, full batch).
    const [kernel, bias] = exp.models.get('online_encoder')!.getWeights().map((w) => Array.from(w.dataSync()));
    const dim = bias.length;
    const features = (rows: number[][]) => rows.map((r) => bias.map((bj, j) => bj + r.reduce((s, v, i) => s + v * kernel[i * dim + j], 0)));
    const [b, q] = [await rowsOf(bank), await rowsOf(val)];
    const ref = referenceLinearProbe(features(b.rows), b.labels, features(q.rows), q.labels, 4, { epochs: 20, lr: 0.05, weightDecay: 1e-4 });
    expect(ref.minMargin).toBeGreaterThan(1e-3); // no near-tie that float32 could flip
    expect(Number.isNaN(history.history.linear_acc[0])).toBe(true);
    expect(history.history.linear_acc[1]).toBe(ref.accuracy);
    expect(ref.accuracy).toBeGreaterThan(0.5); // 4 classes, chance 0.25
    // and the probe itself predicts what the reference predicts, row by row
    const enc = exp.models.get('online_encoder')!;
    const [fb, fq] = [await extractFeatures(enc, bank), await extractFeatures(enc, val)];
    const probe = await linearProbe({ trainFeatures: fb, trainLabels: fb.labels!, testFeatures: fq, testLabels: fq.labels!, numClasses: 4, epochs: 20, lr: 0.05 });
    expect(Array.from(probe.predictions)).toEqual(Array.from(ref.predictions));
    exp.dispose();
  });
});

describe('EmbeddingPlotCallback', () => {
  it('writes an SVG with one dot per example and a PNG at the last epoch', async () => {
    const val = patternDataset('val', 30, 3, 2);
    const exp = withData(new FrozenExperiment(), patternDataset('bank', 8, 3, 1), val);
    const dir = path.join(tmp, 'plots');
    const cb = new EmbeddingPlotCallback({ every: 5, dir, limit: 25 });
    expect(cb.order).toBe(CallbackOrder.LOGGING);
    await exp.fit([0], { epochs: 2, callbacks: [cb] });
    expect(fs.readdirSync(dir).sort()).toEqual(['embedding-epoch-2.png', 'embedding-epoch-2.svg']);
    const svg = fs.readFileSync(path.join(dir, 'embedding-epoch-2.svg'), 'utf8');
    const groups = [...svg.matchAll(/<g data-class="([^"]*)" fill="[^"]*">([\s\S]*?)<\/g>/g)];
    expect(groups.map((g) => g[1])).toEqual(['class_0', 'class_1', 'class_2']);
    expect(groups.reduce((n, g) => n + (g[2].match(/<circle /g)?.length ?? 0), 0)).toBe(25);
    expect(svg).toMatch(/PC1 \(\d+\.\d% of variance\)/);
    const png = fs.readFileSync(path.join(dir, 'embedding-epoch-2.png'));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(cb.written[0].explained[0]).toBeGreaterThanOrEqual(cb.written[0].explained[1]);
    exp.dispose();
  });

  it('uses <runDir>/plots when the experiment has a runDir, and otherwise asks for `dir`', async () => {
    const val = patternDataset('val', 6, 2, 2);
    const exp = withData(new FrozenExperiment(), val, val);
    await expect(exp.fit([0], { epochs: 1, callbacks: [new EmbeddingPlotCallback({ png: false })] })).rejects.toThrow(
      'callback "embedding-plot": no output folder; set the callback\'s `dir` option',
    );
    exp.runDir = path.join(tmp, 'run');
    await exp.fit([0], { epochs: 1, callbacks: [new EmbeddingPlotCallback({ png: false, prefix: 'pca' })] });
    expect(fs.readdirSync(path.join(tmp, 'run', 'plots'))).toEqual(['pca-epoch-1.svg']);
    exp.dispose();
  });
});
