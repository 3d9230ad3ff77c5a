/**
 * Every example runs in-process with its tiniest settings on wasm, and what it claims to show
 * is checked: finite, logged losses; the functional target-init hook's exact copy; the
 * hand-written T/T' pipelines and the cosine τ; the custom callback's hook order and its
 * state in a checkpoint and across a resume; SimSiam's loss range and stop-gradient; the
 * image-folder config resolving and training through the CLI's train(). Tensor counts are
 * checked to stay flat across steps.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  CallbackOrder,
  ConfigError,
  ImageFolderDataset,
  createRun,
  loadConfigFile,
  loadLayersModelFromDir,
  onBatchEnd,
  plugins,
  resolveConfig,
  selectBackend,
  type Callback,
} from '@selfsup/core';
import { BYOL_MODEL_PAIRS } from '@selfsup/callbacks';
import { Adam, LARS } from '@selfsup/byol';
import { train } from '@selfsup/cli';
import { exampleOptions } from '../examples/example-options';
import { main as quickstart } from '../examples/quickstart';
import { main as torchflareStyle } from '../examples/torchflare-style';
import { main as soloLearnStyle, SOLO_LEARN_HEADS } from '../examples/solo-learn-style';
import { main as notebookStyle, VIEW_T, VIEW_T_PRIME } from '../examples/notebook-style';
import { main as customCallback, BestMetricCallback, BestMetricOptions } from '../examples/custom-callback';
import { main as simsiam, negativeCosine, SimSiamExperiment } from '../examples/simsiam';
import { SHAPE_CLASSES } from '../examples/make-shapes-folder';
import { shapesFolderFixture } from './fixtures/examples/shapes-folder';

const ROOT = path.resolve(__dirname, '..');
const IMAGE_FOLDER_YAML = path.join(ROOT, 'examples/configs/byol-image-folder.yaml');
const tmpDirs: string[] = [];
const tmp = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `selfsup-ex-${prefix}-`));
  tmpDirs.push(d);
  return d;
};

/** tf.memory().numTensors at every batch end (after the step's hooks that run before EXTERNAL). */
function tensorProbe(): { callback: Callback; counts: number[] } {
  const counts: number[] = [];
  return { counts, callback: onBatchEnd({ name: 'tensor-probe', order: CallbackOrder.EXTERNAL })(() => void counts.push(tf.memory().numTensors)) };
}

/**
 * Within one epoch, counts from the second step on must be equal: step 1 creates the
 * optimizer slots, and the epoch's metric sums exist from step 2.
 */
function expectFlat(counts: number[]): void {
  expect(counts.length).toBeGreaterThanOrEqual(3);
  expect(new Set(counts.slice(1)).size).toBe(1);
}

let printed: string[] = [];
beforeAll(async () => {
  await selectBackend('wasm', { log: () => {} });
  // The examples print what they show; keep the lines to check them, out of the test output.
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.map(String).join(' ')));
});
afterAll(() => {
  vi.restoreAllMocks();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});
/** What the examples printed since the last call (without the datasets' "[selfsup] ..." notices). */
const takePrinted = () => {
  const out = printed.filter((l) => !l.startsWith('[selfsup]'));
  printed = [];
  return out;
};

describe('example options', () => {
  it('parses --key value and --key=value into the defaults’ types, and rejects unknown flags', () => {
    const d = { steps: 20, backend: 'auto', fast: false };
    expect(exampleOptions(d, ['--steps', '5', '--backend=wasm', '--fast'])).toEqual({ steps: 5, backend: 'wasm', fast: true });
    expect(() => exampleOptions(d, ['--step', '5'])).toThrow(/unknown flag --step; known flags: --steps \(default 20\)/);
    expect(() => exampleOptions(d, ['--steps', 'many'])).toThrow('flag --steps takes a number, got "many"');
  });
});

describe('quickstart', () => {
  it('trains, evaluates kNN, exports an encoder that loads and gives the same features; frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const out = path.join(tmp('quickstart'), 'encoder');
    const { exp, history } = await quickstart({ steps: 3, limit: 96, backend: 'wasm', out });
    expect(exp.state.globalStep).toBe(3);
    expect(Number.isFinite(history.last('loss'))).toBe(true);
    // symmetric BYOL loss: a sum of two terms in [0, 4]
    expect(history.last('loss')).toBeGreaterThan(0);
    expect(history.last('loss')).toBeLessThan(8);
    const acc = history.last('knn_acc')!;
    expect(acc).toBeGreaterThanOrEqual(0);
    expect(acc).toBeLessThanOrEqual(1);
    expect(takePrinted().some((l) => l.includes(`kNN accuracy ${acc.toFixed(3)}; encoder saved to ${out}`))).toBe(true);

    const loaded = await loadLayersModelFromDir(out);
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 5);
    const [a, b] = [exp.encoder.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(a.shape).toEqual([4, 32]); // ResNet-18 at width 1/16: 512 / 16 features
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0])).toBeLessThan(1e-5);
    tf.dispose([x, a, b]);
    loaded.dispose();
    exp.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('torchflare style', () => {
  it('a functional MODEL_INIT hook named target-init builds an exact, frozen target; EMA then moves it', async () => {
    const probe = tensorProbe();
    const { exp, history, gapAtInit, gapAfter } = await torchflareStyle({ steps: 4, limit: 64, batchSize: 16, backend: 'wasm', callbacks: [probe.callback] });
    expect(gapAtInit).toBe(0);
    expect(gapAfter).toBeGreaterThan(0);
    for (const [, target] of BYOL_MODEL_PAIRS) {
      const m = exp.models.get(target)!;
      expect(m.trainableWeights).toHaveLength(0);
    }
    // Only the online networks are optimized.
    expect(new Set(exp.trainableVariables().map((v) => v.name.split('/')[0]))).toEqual(new Set(['online_encoder', 'online_projector', 'online_predictor']));
    expect(Number.isFinite(history.last('loss'))).toBe(true);
    // τ from 0.99 to 1 (cosine over 4 steps: 0.99, 0.99146, 0.995, 0.99854 → mean 0.99375)
    expect(history.last('tau')).toBeCloseTo((0.99 + 0.9914645 + 0.995 + 0.9985355) / 4, 5);
    const lines = takePrinted();
    expect(lines[0]).toBe('target-init (functional hook, order 0): max |θ − ξ| = 0');
    expect(lines.filter((l) => /^step +\d+ +loss \d+\.\d{4} +tau 0\.99\d+/.test(l))).toHaveLength(4);
    expectFlat(probe.counts);
    exp.dispose();
  });
});

describe('solo-learn style', () => {
  it('uses 2048→256 projector and 512-hidden predictor, LARS, and logs z_std per epoch', async () => {
    const probe = tensorProbe();
    const { exp, history, healthyZStd } = await soloLearnStyle({ epochs: 2, stepsPerEpoch: 3, limit: 64, batchSize: 16, backend: 'wasm', callbacks: [probe.callback] });
    const shapeOf = (name: string, layer: string) => exp.models.get(name)!.getLayer(`${name}/${layer}`).getWeights()[0].shape;
    expect(shapeOf('online_projector', 'linear1')).toEqual([32, SOLO_LEARN_HEADS.projectorHiddenDim]);
    expect(shapeOf('online_projector', 'linear2')).toEqual([2048, 256]);
    expect(shapeOf('online_predictor', 'linear1')).toEqual([256, 512]);
    expect(shapeOf('online_predictor', 'linear2')).toEqual([512, 256]);
    expect(exp.optimizer).toBeInstanceOf(LARS);
    expect(healthyZStd).toBeCloseTo(1 / 16, 12);
    expect(history.history.z_std).toHaveLength(2);
    for (const z of history.history.z_std) {
      expect(z).toBeGreaterThan(0);
      expect(z).toBeLessThan(1);
    }
    // warm-up over the first epoch: epoch-mean LR rises, peak = 1.0 × 16/256
    expect(history.history.lr[0]).toBeLessThan(history.history.lr[1]);
    expect(Math.max(...history.history.lr)).toBeLessThanOrEqual(16 / 256 + 1e-9);
    const rows = takePrinted().filter((l) => /^ +\d+ +\d+\.\d{4} +\d+\.\d{4}/.test(l));
    expect(rows).toHaveLength(2);
    expect(rows[1]).toContain(history.history.z_std[1].toFixed(4));
    // flat within each epoch (positions 2..3 of each), and equal across the two epochs
    expect(probe.counts).toHaveLength(6);
    expect(probe.counts.slice(0, 3)).toEqual(probe.counts.slice(3, 6));
    expect(new Set(probe.counts.slice(1, 3)).size).toBe(1);
    exp.dispose();
  });
});

describe('notebook style', () => {
  it('trains with hand-written T / T′ pipelines, a cosine τ and Adam', async () => {
    const probe = tensorProbe();
    const { exp, taus, losses } = await notebookStyle({ steps: 4, limit: 64, batchSize: 16, backend: 'wasm', callbacks: [probe.callback] });
    expect(VIEW_T.blur!.p).toBe(1);
    expect(VIEW_T.solarize).toBeUndefined();
    expect(VIEW_T_PRIME.solarize!.p).toBe(0.2);
    expect(exp.optimizer).toBeInstanceOf(Adam);
    // τ_k = 1 − (1 − 0.99)(cos(πk/K) + 1)/2 for k = 0..3, K = 4 (computed by hand)
    const expected = [0, 1, 2, 3].map((k) => 1 - 0.01 * (Math.cos((Math.PI * k) / 4) + 1) / 2);
    expected.forEach((t, i) => expect(taus[i]).toBeCloseTo(t, 9));
    expect(losses).toHaveLength(4);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    const lines = takePrinted();
    expect(lines[0]).toMatch(/^view T : blurred 64\/64, solarized 0\/64/);
    // T′: blur p 0.1 and solarize p 0.2 over 64 samples: far from all, at least one each is likely but not certain
    const tPrime = /^view T': blurred (\d+)\/64, solarized (\d+)\/64/.exec(lines[1])!;
    expect(Number(tPrime[1])).toBeLessThan(32);
    expect(Number(tPrime[2])).toBeLessThan(32);
    expectFlat(probe.counts);
    exp.dispose();
  });
});

describe('custom callback', () => {
  it('is registered by name with validated options', async () => {
    const info = plugins.callback('best-metric');
    expect(info.ctor).toBe(BestMetricCallback);
    expect(info.order).toBe(CallbackOrder.EVALUATION + 5);
    const base = { method: 'byol', data: { name: 'fashion-mnist', source: 'embedded', limit: 64 } };
    const ok = await resolveConfig({ ...base, callbacks: [{ name: 'knn-eval' }, { name: 'best-metric', mode: 'min' }] });
    const entry = ok.callbacks.find((c) => c.name === 'best-metric')!;
    expect(entry.options).toBeInstanceOf(BestMetricOptions);
    expect(entry.options).toMatchObject({ metric: 'knn_acc', mode: 'min' });
    const bad = resolveConfig({ ...base, callbacks: [{ name: 'best-metric', mode: 'up' }] });
    await expect(bad).rejects.toBeInstanceOf(ConfigError);
    await expect(bad).rejects.toThrow(/callbacks\[0\]\.mode/);
  });

  it('runs between the built-ins in the declared order, checkpoints its state and resumes it', async () => {
    const out = tmp('custom');
    const r = await customCallback({ epochs: 2, stepsPerEpoch: 3, limit: 64, batchSize: 16, backend: 'wasm', out });
    expect(r.planned.batchEnd).toEqual(['ema.onBatchEnd(100)', 'best-metric.countStep(101)']);
    expect(r.planned.epochEnd).toEqual(['knn-eval.onEpochEnd(500)', 'best-metric.trackBest(505)', 'checkpoint.onEpochEnd(600)', 'epoch-line(700)']);
    // what actually ran, per epoch: three steps, then the tracker before the functional print
    const epoch = ['batchEnd:countStep', 'batchEnd:countStep', 'batchEnd:countStep', 'epochEnd:trackBest', 'epochEnd:epoch-line'];
    expect(r.first.best.calls).toEqual([...epoch, ...epoch]);
    expect(r.second.best.calls).toEqual(epoch); // the resumed run trains one more epoch
    // the tracker ran after knn-eval (it read knn_acc) and before checkpoint (its epoch-1 state is saved)
    const knn = r.first.exp.history.history.knn_acc;
    expect(r.saved).toEqual({ best: Math.max(...knn), bestEpoch: knn.indexOf(Math.max(...knn)), steps: 6 });
    expect(r.first.exp.history.history.best_knn_acc).toEqual([knn[0], Math.max(...knn)]);
    // resumed: the counter continues from the checkpoint (countStep checks it against globalStep)
    expect((r.second.best.getState() as { steps: number }).steps).toBe(9);
    expect(r.second.exp.state.globalStep).toBe(9);
    // tensors: the same count at the same position of each epoch
    expect(r.first.best.tensorCounts).toHaveLength(6);
    expect(r.first.best.tensorCounts.slice(0, 3)).toEqual(r.first.best.tensorCounts.slice(3));
    expect(r.first.lines).toHaveLength(2);
    expect(fs.existsSync(path.join(out, 'checkpoints', 'best', 'meta.json'))).toBe(true);
    takePrinted();
  });
});

describe('SimSiam', () => {
  it('negative cosine: golden values, and no gradient through the stop-gradient side', () => {
    const p = tf.tensor2d([[1, 0], [1, 1], [3, 4], [1, 2]]);
    const z = tf.tensor2d([[0, 1], [1, 0], [3, 4], [-1, -2]]);
    // rows: cos = 0, 1/√2, 1, −1 → mean −(0 + 0.70710678 + 1 − 1)/4 = −0.1767767
    expect(negativeCosine(p, z).dataSync()[0]).toBeCloseTo(-0.1767767, 6);
    const gz = tf.grad((zz: tf.Tensor) => negativeCosine(p, zz as tf.Tensor2D))(z);
    expect(Array.from(gz.dataSync())).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const gp = tf.grad((pp: tf.Tensor) => negativeCosine(pp as tf.Tensor2D, z))(p);
    expect(tf.tidy(() => tf.max(tf.abs(gp)).dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([p, z, gz, gp]);
  });

  it('is a registered method a YAML config can name', async () => {
    expect(plugins.method('simsiam').ctor).toBe(SimSiamExperiment);
    const resolved = await resolveConfig({ method: 'simsiam', trainer: { batchSize: 64 }, data: { name: 'fashion-mnist', source: 'embedded', limit: 64 }, model: { width: 0.0625 } });
    const run = createRun(resolved);
    try {
      expect(run.experiment).toBeInstanceOf(SimSiamExperiment);
      expect((run.experiment as SimSiamExperiment).batchSize).toBe(64);
      expect(run.experiment.config).toMatchObject({ model: { width: 0.0625 } });
      expect(run.callbacks).toHaveLength(0); // no target network, so no target-init / ema
    } finally {
      await run.dispose();
    }
  });

  it('trains without a target network; the loss stays in [−1, 1]', async () => {
    const probe = tensorProbe();
    const { exp, losses, history } = await simsiam({ steps: 4, limit: 64, batchSize: 16, backend: 'wasm', callbacks: [probe.callback] });
    expect([...exp.models.keys()].sort()).toEqual(['online_encoder', 'online_predictor', 'online_projector']);
    expect(losses).toHaveLength(4);
    for (const l of losses) {
      expect(l).toBeGreaterThanOrEqual(-1);
      expect(l).toBeLessThanOrEqual(1);
    }
    expect(history.last('knn_acc')).toBeGreaterThanOrEqual(0);
    expect(takePrinted().at(-1)).toMatch(/^SimSiam: 4 steps, loss -?\d\.\d{4} → -?\d\.\d{4}, kNN accuracy \d\.\d{3}$/);
    expectFlat(probe.counts);
    exp.dispose();
  });
});

describe('byol-image-folder.yaml', () => {
  let fixture: Awaited<ReturnType<typeof shapesFolderFixture>>;
  beforeAll(async () => {
    fixture = await shapesFolderFixture({ perClass: 10 });
  });
  afterAll(() => fixture?.cleanup());

  it('the generated fixture is a 4-class image folder the dataset reads', async () => {
    expect(fixture.files).toHaveLength(4 * 10);
    const ds = await ImageFolderDataset.open({ path: fixture.root, imageSize: 32, split: 'all', log: () => {} });
    expect(ds.classNames).toEqual([...SHAPE_CLASSES]);
    expect(ds.size).toBe(40);
    expect(ds.imageShape).toEqual([32, 32, 3]);
  });

  it('needs data.path and val.path, and resolves to LARS + warm-up, kNN k=20 every 10 epochs, checkpoint on knn_acc', async () => {
    await expect(resolveConfig(loadConfigFile(IMAGE_FOLDER_YAML), { file: IMAGE_FOLDER_YAML })).rejects.toThrow(/data\.path \(missing\): path is required for image-folder/);
    const plain = loadConfigFile(IMAGE_FOLDER_YAML, [`data.path=${fixture.root}`, `val.path=${fixture.root}`]);
    const r = await resolveConfig(plain, { file: IMAGE_FOLDER_YAML });
    expect(r.root.data).toMatchObject({ name: 'image-folder', path: fixture.root, split: 'train', imageSize: 32 });
    expect(r.root.val).toMatchObject({ name: 'image-folder', path: fixture.root, split: 'val' });
    expect(r.methodConfig).toMatchObject({ optimizer: { name: 'lars', scaleLr: true } });
    const opts = Object.fromEntries(r.callbacks.map((c) => [c.name, c.options]));
    expect(opts['lr-schedule']).toMatchObject({ warmupEpochs: 10 });
    expect(opts['knn-eval']).toMatchObject({ k: 20, every: 10 });
    expect(opts.checkpoint).toMatchObject({ monitor: 'knn_acc', mode: 'max' });
  });

  it('trains 2 steps through the CLI into a run directory with an exported encoder', async () => {
    const out = tmp('image-folder');
    const lines: string[] = [];
    const io = { out: (l: string) => void lines.push(l), err: () => {} };
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let result;
    try {
      result = await train({
        config: IMAGE_FOLDER_YAML,
        overrides: [`data.path=${fixture.root}`, 'trainer.batchSize=8', 'model.width=0.0625', 'model.projectorHiddenDim=64', 'model.predictorHiddenDim=64'],
        maxSteps: 2,
        backend: 'wasm',
        out,
        io,
      });
    } finally {
      stderr.mockRestore();
    }
    expect(result.runDir.startsWith(path.join(out, 'byol-image-folder'))).toBe(true);
    expect(result.history.loss).toHaveLength(1);
    expect(Number.isFinite(result.history.loss[0])).toBe(true);
    // the run stopped after 2 steps, so kNN ran at that (last) epoch end despite every: 10
    expect(result.history.knn_acc).toHaveLength(1);
    for (const d of ['checkpoints/last/meta.json', 'checkpoints/best/meta.json', 'export/encoder/model.json', 'config.resolved.yaml']) {
      expect(fs.existsSync(path.join(result.runDir, d)), d).toBe(true);
    }
    expect(lines.some((l) => l.startsWith('kNN accuracy (k=20'))).toBe(true);
    const encoder = await loadLayersModelFromDir(result.exportDir!);
    expect(encoder.outputs[0].shape).toEqual([null, 32]);
    encoder.dispose();
    takePrinted();
  });
});
