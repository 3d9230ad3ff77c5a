import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CallbackOrder,
  decodeTfRecords,
  Experiment,
  onBatchEnd,
  onEpochEnd,
  plugins,
  readJsonl,
  readMetricsCsv,
  type Callback,
  type MethodRunInfo,
  type StepLogs,
} from '@selfsup/core';
import {
  formatDuration,
  formatEpochSummary,
  formatMetric,
  formatProgressLine,
  MetricHistory,
  metricChart,
  MetricsLoggerCallback,
  PlotsCallback,
  ProgressBarCallback,
  summarizeConfig,
  type ProgressStream,
} from '../src';
import { useBackend } from '../../../test/helpers/backend';

let tmp: string;

beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-logging-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface ToyConfig {
  trainer: { batchSize: number; epochs: number };
  note: string;
}

/**
 * A dense layer on random data. Logs loss and z_std (tensors) and lr = 0.01 × step (a number
 * known in advance, so the files can be checked against exact values); fails at a chosen
 * step when asked.
 */
class Toy extends Experiment<tf.Tensor2D, ToyConfig> {
  override runDir: string | undefined;
  failAtStep: number | undefined;

  constructor(runDir?: string) {
    super({ trainer: { batchSize: 8, epochs: 2 }, note: 'toy' }, { seed: 1 });
    this.runDir = runDir;
  }

  protected override configureModels(): void {
    const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4], kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })] });
    this.models.set('encoder', m);
  }

  protected override configureOptimizer(): tf.Optimizer {
    return tf.train.sgd(0.05);
  }

  /** The progress bar's img/s and "batch size" come from here (exp.run.batchSize). */
  protected override runContextInfo(): MethodRunInfo {
    return { batchSize: this.config.trainer?.batchSize };
  }

  trainStep(x: tf.Tensor2D): StepLogs {
    const step = this.state.globalStep + 1;
    if (step === this.failAtStep) throw new Error(`boom at step ${step}`);
    const m = this.models.get('encoder')!;
    const loss = this.minimize(() => tf.mean(tf.square(tf.sub(m.apply(x) as tf.Tensor, 1))) as tf.Scalar);
    const z = m.apply(x) as tf.Tensor2D;
    const zStd = tf.mean(tf.moments(z, 0).variance.sqrt()) as tf.Scalar;
    return { loss, z_std: zStd, lr: 0.01 * step };
  }
}

const data = () =>
  function* () {
    for (let i = 0; i < 1000; i++) yield tf.randomNormal([8, 4], 0, 1, 'float32', i + 1) as tf.Tensor2D;
  };

/** tau = 1 − 1/step as a hook adds it (EMA style), knn_acc = 0.25 × (epoch + 1) at epoch end. */
const fakeMethodCallbacks = (): Callback[] => [
  onBatchEnd({ name: 'fake-tau', order: CallbackOrder.WEIGHT_UPDATE })((e) => e.state.logs.set('tau', 1 - 1 / e.state.globalStep)),
  onEpochEnd({ name: 'fake-knn', order: CallbackOrder.EVALUATION })((e) => e.logMetric('knn_acc', 0.25 * (e.state.epoch + 1))),
];

/** Collects what a progress bar writes. */
function collector(isTTY: boolean, columns?: number): ProgressStream & { text: string } {
  return {
    text: '',
    isTTY,
    columns,
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

/** Files under `dir` this process still has open (Linux /proc; empty elsewhere). */
function openFilesUnder(dir: string): string[] {
  const fdDir = '/proc/self/fd';
  if (!fs.existsSync(fdDir)) return [];
  const real = fs.realpathSync(dir);
  const out: string[] = [];
  for (const fd of fs.readdirSync(fdDir)) {
    try {
      const target = fs.readlinkSync(path.join(fdDir, fd));
      if (target.startsWith(real + path.sep)) out.push(target);
    } catch {
      // the fd of readdir itself is gone by now
    }
  }
  return out;
}

// ---- An independent reader for the Event protobuf (field numbers from tensorflow/core/util/event.proto). ----

type PbField = { field: number; wire: number; int?: bigint; bytes?: Buffer };
function pbFields(buf: Buffer): PbField[] {
  const out: PbField[] = [];
  let p = 0;
  const varint = () => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[p++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (p < buf.length) {
    const key = Number(varint());
    const f: PbField = { field: key >> 3, wire: key & 7 };
    if (f.wire === 0) f.int = varint();
    else if (f.wire === 1) f.bytes = buf.subarray(p, (p += 8));
    else if (f.wire === 5) f.bytes = buf.subarray(p, (p += 4));
    else if (f.wire === 2) {
      const n = Number(varint());
      f.bytes = buf.subarray(p, (p += n));
    } else throw new Error(`wire type ${f.wire}`);
    out.push(f);
  }
  return out;
}

interface TbEvent {
  step: number;
  fileVersion?: string;
  scalars: Record<string, number>;
}
function readEvents(file: string): TbEvent[] {
  return decodeTfRecords(fs.readFileSync(file)).map((rec) => {
    const ev: TbEvent = { step: 0, scalars: {} };
    for (const f of pbFields(Buffer.from(rec))) {
      if (f.field === 2) ev.step = Number(f.int);
      if (f.field === 3) ev.fileVersion = f.bytes!.toString('utf8');
      if (f.field === 5) {
        for (const v of pbFields(f.bytes!)) {
          const value = pbFields(v.bytes!);
          const tag = value.find((x) => x.field === 1)!.bytes!.toString('utf8');
          ev.scalars[tag] = value.find((x) => x.field === 2)!.bytes!.readFloatLE(0);
        }
      }
    }
    return ev;
  });
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe('a full run with metrics-logger, plots and progress', () => {
  // 2 epochs × 6 steps, a log event every 2 steps.
  const runDir = () => path.join(tmp, 'full');
  let exp: Toy;
  let logger: MetricsLoggerCallback;
  let plots: PlotsCallback;
  let out: ReturnType<typeof collector>;
  let plotsSeenAtFirstEpochEnd: string[] = [];
  let tensorsBefore = 0;
  let tensorsAfter = 0;

  beforeAll(async () => {
    exp = new Toy(runDir());
    logger = new MetricsLoggerCallback();
    plots = new PlotsCallback();
    out = collector(false);
    // A fake clock that only moves with the steps: 0.5 s per step, so img/s and ETA are exact.
    let clock = 0;
    const progress = new ProgressBarCallback({}, { stream: out, now: () => clock });
    const tick = onBatchEnd({ name: 'clock', order: CallbackOrder.MODEL_INIT })(() => {
      clock += 0.5;
    });
    const spy = onEpochEnd({ name: 'spy', order: CallbackOrder.EXTERNAL })((e) => {
      if (e.state.epoch === 0) plotsSeenAtFirstEpochEnd = fs.readdirSync(path.join(runDir(), 'plots')).sort();
    });
    await exp.setup();
    tensorsBefore = tf.memory().numTensors;
    await exp.fit(data(), { epochs: 2, stepsPerEpoch: 6, logEvery: 2, callbacks: [tick, ...fakeMethodCallbacks(), logger, plots, progress, spy] });
    tensorsAfter = tf.memory().numTensors;
  });

  afterAll(() => exp.dispose());

  it('writes one metrics.jsonl row per log interval and per epoch, with the logged values', () => {
    const rows = readJsonl(path.join(runDir(), 'metrics.jsonl'));
    // 12 steps / logEvery 2 + 2 epochs
    expect(rows).toHaveLength(8);
    expect(rows.map((r) => `${r.type}@${r.step}`)).toEqual(['step@2', 'step@4', 'step@6', 'epoch@6', 'step@8', 'step@10', 'step@12', 'epoch@12']);
    const steps = rows.filter((r) => r.type === 'step');
    for (const r of steps) {
      const s = r.step as number;
      expect(r.lr).toBeCloseTo(0.01 * s, 12);
      expect(r.tau).toBeCloseTo(1 - 1 / s, 12);
      expect(typeof r.loss).toBe('number');
      expect(typeof r.z_std).toBe('number');
      expect(r.knn_acc).toBeUndefined();
    }
    expect(steps.map((r) => [r.epoch, r.batch])).toEqual([[0, 1], [0, 3], [0, 5], [1, 1], [1, 3], [1, 5]]);
    const epochs = rows.filter((r) => r.type === 'epoch');
    expect(epochs.map((r) => r.epoch)).toEqual([0, 1]);
    expect(epochs.map((r) => r.knn_acc)).toEqual([0.25, 0.5]);
    // epoch means of lr = 0.01 × step over steps 1..6 and 7..12: 0.01 × 3.5 and 0.01 × 9.5 (by hand)
    expect(epochs[0].lr).toBeCloseTo(0.035, 6);
    expect(epochs[1].lr).toBeCloseTo(0.095, 6);
  });

  it('writes the same rows to metrics.csv, the header widened when knn_acc first appeared', () => {
    const csv = readMetricsCsv(path.join(runDir(), 'metrics.csv'));
    const rows = readJsonl(path.join(runDir(), 'metrics.jsonl'));
    expect(csv.header.slice(0, 5)).toEqual(['type', 'epoch', 'batch', 'step', 'time']);
    expect(new Set(csv.header)).toEqual(new Set(['type', 'epoch', 'batch', 'step', 'time', 'loss', 'z_std', 'lr', 'tau', 'knn_acc']));
    expect(csv.rows).toHaveLength(8);
    csv.rows.forEach((r, i) => {
      expect(r.type).toBe(rows[i].type);
      expect(r.step).toBe(rows[i].step);
      expect(r.loss).toBe(rows[i].loss); // shortest round-trip form on both sides
      expect(r.knn_acc).toBe(rows[i].knn_acc);
    });
  });

  it('writes train.log: start with a config summary, each epoch, the end', () => {
    const lines = readJsonl(path.join(runDir(), 'train.log'));
    expect(lines.map((l) => l.event)).toEqual(['start', 'epoch', 'epoch', 'end']);
    const start = lines[0] as Record<string, any>;
    expect(start.level).toBe('info');
    expect(start.experiment).toBe('Toy');
    expect(start.backend).toBe('wasm');
    expect(start.totalSteps).toBe(12);
    expect(start.config).toEqual({ trainer: { batchSize: 8, epochs: 2 }, note: 'toy' });
    expect(start.callbacks).toContain('metrics-logger');
    expect((lines[2] as Record<string, any>).metrics.knn_acc).toBe(0.5);
    expect(lines[3]).toMatchObject({ event: 'end', step: 12 });
  });

  it('writes TensorBoard scalars that decode: train/* per log interval, epoch/* per epoch', () => {
    const files = fs.readdirSync(runDir()).filter((f) => f.startsWith('events.out.tfevents.'));
    expect(files).toHaveLength(1);
    expect(path.join(runDir(), files[0])).toBe(logger.tensorboardFile);
    const events = readEvents(path.join(runDir(), files[0]));
    expect(events[0].fileVersion).toBe('brain.Event:2');
    const train = events.filter((e) => 'train/loss' in e.scalars);
    expect(train.map((e) => e.step)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(train[1].scalars['train/lr']).toBe(Math.fround(0.04));
    const perEpoch = events.filter((e) => 'epoch/knn_acc' in e.scalars);
    expect(perEpoch.map((e) => [e.step, e.scalars['epoch/knn_acc']])).toEqual([[6, 0.25], [12, 0.5]]);
    const jsonlLoss = readJsonl(path.join(runDir(), 'metrics.jsonl')).filter((r) => r.type === 'step').map((r) => Math.fround(r.loss as number));
    expect(train.map((e) => e.scalars['train/loss'])).toEqual(jsonlLoss);
  });

  it('closes every file at the end and leaks no tensors', () => {
    expect(logger.isOpen).toBe(false);
    expect(openFilesUnder(runDir())).toEqual([]);
    expect(tensorsAfter).toBe(tensorsBefore);
    expect(exp.events.listenerCount('log')).toBe(0);
  });

  it('draws loss, knn_acc, lr, tau and z_std as SVG and PNG, already at the first epoch end', () => {
    const dir = path.join(runDir(), 'plots');
    const expected = ['knn_acc', 'loss', 'lr', 'tau', 'z_std'].flatMap((m) => [`${m}.png`, `${m}.svg`]);
    expect(fs.readdirSync(dir).sort()).toEqual(expected);
    expect(plotsSeenAtFirstEpochEnd).toEqual(expected);
    for (const f of expected.filter((x) => x.endsWith('.png'))) {
      expect([...fs.readFileSync(path.join(dir, f)).subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    }
    const loss = fs.readFileSync(path.join(dir, 'loss.svg'), 'utf8');
    expect(loss).toMatch(/^<svg/);
    expect(loss).toContain('loss (logged steps)');
    expect(loss).toContain('loss (epoch mean)');
    expect(fs.readFileSync(path.join(dir, 'knn_acc.svg'), 'utf8')).toContain('>epoch<');
    expect(plots.written.map((w) => w.metric)).toEqual(['loss', 'knn_acc', 'lr', 'tau', 'z_std']);
  });

  it('prints plain progress lines with img/s and ETA from the clock, and epoch summaries', () => {
    const text = out.text;
    expect(text).not.toContain('\r');
    expect(text).not.toContain('\x1b');
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('training Toy: 2 epochs, 12 steps, batch size 8');
    expect(lines).toHaveLength(1 + 6 + 2 + 1);
    // step 2: 2 steps in 1 s × 8 images = 16 img/s; ETA = (1 s / 2 steps) × 10 steps left = 5 s
    expect(lines[1]).toMatch(/^step 2\/12 \(16%\) \| epoch 1\/2 \| loss \d\.\d{3} \| 16\.0 img\/s \| ETA 5s$/);
    // the first line of epoch 2 measures from the epoch start; ETA = (4 s / 8 steps) × 4 = 2 s
    expect(lines[5]).toMatch(/^step 8\/12 \(66%\) \| epoch 2\/2 \| loss \S+ \| 16\.0 img\/s \| ETA 2s$/);
    expect(lines[4]).toMatch(/^epoch 1\/2 done in 3s at step 6 \| knn_acc 0\.2500 \| loss \S+ \| lr 0\.03500 \| tau \S+ \| z_std \S+$/);
    expect(lines[8]).toMatch(/^epoch 2\/2 done in 3s at step 12 \| knn_acc 0\.5000 /);
    expect(lines[9]).toBe('done: 12 steps in 6s');
  });
});

describe('a failing run', () => {
  it('logs the error to train.log, prints it, draws what it has and closes every file', async () => {
    const dir = path.join(tmp, 'failing');
    const exp = new Toy(dir);
    exp.failAtStep = 5;
    const logger = new MetricsLoggerCallback();
    const out = collector(false);
    const cbs = [logger, new PlotsCallback({ png: false }), new ProgressBarCallback({}, { stream: out })];
    await expect(exp.fit(data(), { epochs: 2, stepsPerEpoch: 6, logEvery: 2, callbacks: cbs })).rejects.toThrow('boom at step 5');
    const log = readJsonl(path.join(dir, 'train.log'));
    expect(log.map((l) => l.event)).toEqual(['start', 'failed']);
    expect(log[1]).toMatchObject({ level: 'error', error: 'boom at step 5', errorName: 'Error', step: 4, epoch: 0 });
    expect(readJsonl(path.join(dir, 'metrics.jsonl')).map((r) => r.step)).toEqual([2, 4]);
    expect(logger.isOpen).toBe(false);
    expect(openFilesUnder(dir)).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'plots', 'loss.svg'))).toBe(true);
    expect(out.text.trimEnd().split('\n').at(-1)).toMatch(/^failed at step 4 \(epoch 1\/2\) after \S+: boom at step 5$/);
    exp.dispose();
  });
});

describe('output directory', () => {
  it('fails at experimentStart, naming the callback and the fix, when there is neither dir nor runDir', async () => {
    for (const cb of [new MetricsLoggerCallback(), new PlotsCallback()]) {
      const exp = new Toy();
      const steps: number[] = [];
      exp.events.on('batchStart', (e) => steps.push(e.step));
      await expect(exp.fit(data(), { epochs: 1, stepsPerEpoch: 2, callbacks: [cb] })).rejects.toThrow(
        new RegExp(`callback "${cb.name}" failed in experimentStart: no output directory: .*set \`dir\``),
      );
      expect(steps).toEqual([]);
      exp.dispose();
    }
  });

  it('uses the dir option when given', async () => {
    const dir = path.join(tmp, 'explicit');
    const exp = new Toy();
    const plots = new PlotsCallback({ dir: path.join(dir, 'charts'), metrics: ['loss'], png: false });
    await exp.fit(data(), { epochs: 1, stepsPerEpoch: 2, logEvery: 1, callbacks: [new MetricsLoggerCallback({ dir, csv: false, tensorboard: false }), plots] });
    expect(fs.readdirSync(dir).sort()).toEqual(['charts', 'metrics.jsonl', 'train.log']);
    expect(fs.readdirSync(path.join(dir, 'charts'))).toEqual(['loss.svg']);
    exp.dispose();
  });

  it('on resume, drops the rows logged after the checkpoint, appends, and plots the earlier steps too', async () => {
    const dir = path.join(tmp, 'resume');
    fs.mkdirSync(dir, { recursive: true });
    // what a first process wrote before it was killed: steps 2, 4 kept, step 6 is redone (and logged once)
    const earlier = [
      { type: 'step', epoch: 0, batch: 1, step: 2, time: 1, loss: 3 },
      { type: 'step', epoch: 0, batch: 3, step: 4, time: 2, loss: 'NaN' },
      { type: 'step', epoch: 0, batch: 5, step: 6, time: 3, loss: 9 },
    ];
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), earlier.map((r) => JSON.stringify(r) + '\n').join(''));
    const exp = new Toy(dir);
    exp.state.globalStep = 4;
    exp.state.epoch = 1;
    const plots = new PlotsCallback({ metrics: ['loss'], png: false });
    await exp.fit(data(), { epochs: 2, stepsPerEpoch: 3, logEvery: 2, callbacks: [new MetricsLoggerCallback({ tensorboard: false }), plots] });
    expect(plots.history.steps.map((s) => s.step)).toEqual([2, 4, 6]);
    expect(plots.history.steps[1].values.loss).toBeNaN();
    expect(readJsonl(path.join(dir, 'metrics.jsonl')).map((r) => `${r.type}@${r.step}`)).toEqual(['step@2', 'step@4', 'step@6', 'epoch@7']);
    exp.dispose();
  });
});

describe('metrics-logger after a kill between an epoch checkpoint and its metrics row', () => {
  it('rebuilds the missing epoch row from the checkpoint\'s History, once', async () => {
    const dir = path.join(tmp, 'resume-missing-row');
    fs.mkdirSync(dir, { recursive: true });
    // epoch 0 (3 steps) ended and was checkpointed; the process died before its metrics row
    const earlier = [
      { type: 'step', epoch: 0, batch: 1, step: 2, time: 1, loss: 3 },
    ];
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), earlier.map((r) => JSON.stringify(r) + '\n').join(''));
    const resume = async () => {
      const exp = new Toy(dir);
      exp.state.globalStep = 3;
      exp.state.epoch = 1;
      exp.history.record(0, { loss: 2.5, knn_acc: 0.75 });
      await exp.fit(data(), { epochs: 2, stepsPerEpoch: 3, logEvery: 2, callbacks: [new MetricsLoggerCallback({ tensorboard: false })] });
      exp.dispose();
    };
    await resume();
    const rows = readJsonl(path.join(dir, 'metrics.jsonl'));
    expect(rows.map((r) => `${r.type}@${r.step}`)).toEqual(['step@2', 'epoch@3', 'step@4', 'step@6', 'epoch@6']);
    expect(rows[1]).toMatchObject({ type: 'epoch', epoch: 0, step: 3, loss: 2.5, knn_acc: 0.75 });
    // the CSV has it too (header, the rebuilt row and this process's three; the first process wrote no CSV)
    expect(fs.readFileSync(path.join(dir, 'metrics.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 4);
    // resuming again from the same checkpoint finds the row and does not add a second one
    await resume();
    expect(readJsonl(path.join(dir, 'metrics.jsonl')).map((r) => `${r.type}@${r.step}`)).toEqual(['step@2', 'epoch@3', 'step@4', 'step@6', 'epoch@6']);
  });
});

describe('metrics-logger after a kill between the JSON and the CSV write of a row', () => {
  it('rebuilds metrics.csv from metrics.jsonl, so both have every row once', async () => {
    const dir = path.join(tmp, 'resume-short-csv');
    const first = new Toy(dir);
    await first.fit(data(), { epochs: 1, stepsPerEpoch: 3, logEvery: 1, callbacks: [new MetricsLoggerCallback({ tensorboard: false })] });
    first.dispose();
    // the kill came after the epoch row reached metrics.jsonl, before metrics.csv
    const csvPath = path.join(dir, 'metrics.csv');
    const csv = fs.readFileSync(csvPath, 'utf8').trimEnd().split('\n');
    expect(csv.at(-1)).toMatch(/^epoch,/);
    fs.writeFileSync(csvPath, csv.slice(0, -1).join('\n') + '\n');
    const resumed = new Toy(dir);
    resumed.state.globalStep = 3;
    resumed.state.epoch = 1;
    await resumed.fit(data(), { epochs: 2, stepsPerEpoch: 3, logEvery: 1, callbacks: [new MetricsLoggerCallback({ tensorboard: false })] });
    resumed.dispose();
    const rows = readJsonl(path.join(dir, 'metrics.jsonl'));
    expect(rows.map((r) => `${r.type}@${r.step}`)).toEqual(['step@1', 'step@2', 'step@3', 'epoch@3', 'step@4', 'step@5', 'step@6', 'epoch@6']);
    const lines = fs.readFileSync(csvPath, 'utf8').trimEnd().split('\n').slice(1);
    expect(lines.map((l) => l.split(',').slice(0, 4).join(','))).toEqual(rows.map((r) => [r.type, r.epoch, r.batch ?? '', r.step].join(',')));
  });
});

describe('metrics-logger TensorBoard files on resume', () => {
  it('drops the old events past the resume step, so every step appears once across the files', async () => {
    const dir = path.join(tmp, 'resume-tb');
    fs.mkdirSync(dir, { recursive: true });
    const first = new Toy(dir);
    await first.fit(data(), { epochs: 2, stepsPerEpoch: 3, logEvery: 1, callbacks: [new MetricsLoggerCallback({ csv: false })] });
    first.dispose();
    const [oldFile] = fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'));
    const stepsOf = (file: string) => readEvents(path.join(dir, file)).filter((e) => e.fileVersion === undefined).map((e) => e.step);
    expect(stepsOf(oldFile)).toEqual([1, 2, 3, 3, 4, 5, 6, 6]); // train/* per step, epoch/* at 3 and 6
    // a second process resumes from the checkpoint at the end of epoch 0 (step 3)
    const resumed = new Toy(dir);
    resumed.state.globalStep = 3;
    resumed.state.epoch = 1;
    await resumed.fit(data(), { epochs: 2, stepsPerEpoch: 3, logEvery: 1, callbacks: [new MetricsLoggerCallback({ csv: false })] });
    resumed.dispose();
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.')).sort();
    expect(files).toHaveLength(2);
    const newFile = files.find((f) => f !== oldFile)!;
    expect(stepsOf(oldFile)).toEqual([1, 2, 3, 3]);
    expect(stepsOf(newFile)).toEqual([4, 5, 6, 6]);
  });
});

describe('progress bar', () => {
  it('on a TTY rewrites one line with \\r and a bar, and ends lines it interrupts', async () => {
    const exp = new Toy();
    const out = collector(true, 200);
    await exp.fit(data(), { epochs: 1, stepsPerEpoch: 4, logEvery: 2, callbacks: [new ProgressBarCallback({ barWidth: 10 }, { stream: out })] });
    const updates = out.text.split('\r').slice(1);
    expect(updates).toHaveLength(2);
    expect(updates[0]).toMatch(/^\[#####\.\.\.\.\.\] step 2\/4 \(50%\) \| epoch 1\/1 \| loss \S+ \| [\d.]+ img\/s \| ETA \S+\x1b\[K$/);
    // the epoch summary starts on a fresh line after the updating one
    expect(updates[1]).toMatch(/^\[##########\] step 4\/4 \(100%\) .*\x1b\[K\nepoch 1\/1 done in /);
    expect(out.text.endsWith('\n')).toBe(true);
    exp.dispose();
  });

  it('estimates the total from the first epoch when the data source does not say, and reports steps/s without a batch size', async () => {
    const exp = new Toy();
    const batches = Array.from({ length: 3 }, (_, i) => tf.randomNormal([8, 4], 0, 1, 'float32', i + 7) as tf.Tensor2D);
    (exp.config as Partial<ToyConfig>).trainer = undefined;
    const out = collector(false);
    // A fake clock, 0.5 s per step: 2 steps/s, whatever the machine's speed.
    let clock = 0;
    const tick = onBatchEnd({ name: 'clock', order: CallbackOrder.MODEL_INIT })(() => {
      clock += 0.5;
    });
    await exp.fit(batches, { epochs: 2, logEvery: 1, callbacks: [tick, new ProgressBarCallback({}, { stream: out, now: () => clock })] });
    const lines = out.text.trimEnd().split('\n');
    expect(lines[0]).toBe('training Toy: 2 epochs');
    expect(lines[1]).toMatch(/^step 1 \| epoch 1\/2 \| loss \S+ \| 2\.0 steps\/s \| ETA \?$/);
    // 6 steps estimated from the first epoch's 3; ETA = (2 s / 4 steps) × 2 steps left = 1 s
    expect(lines[5]).toMatch(/^step 4\/~6 \(66%\) \| epoch 2\/2 \| loss \S+ \| 2\.0 steps\/s \| ETA 1s$/);
    tf.dispose(batches);
    exp.dispose();
  });
});

describe('formatting', () => {
  it('durations, metrics and lines (golden strings written by hand)', () => {
    expect([0.4, 4.4, 59.6, 83, 3599.6, 3725, -1, NaN].map(formatDuration)).toEqual(['0s', '4s', '1m00s', '1m23s', '1h00m', '1h02m', '?', '?']);
    expect([0, 0.41234, 1, 0.035, 0.0003, 123456, NaN, -Infinity].map(formatMetric)).toEqual(['0', '0.4123', '1.000', '0.03500', '3.00e-4', '1.23e+5', 'NaN', '-Infinity']);
    expect(formatProgressLine({ step: 120, total: 1000, epoch: 1, epochs: 10, loss: 0.41234, rate: 512.34, rateUnit: 'img/s', eta: 83 })).toBe(
      'step 120/1000 (12%) | epoch 2/10 | loss 0.4123 | 512 img/s | ETA 1m23s',
    );
    expect(formatEpochSummary(0, 3, 12.2, 50, { loss: 0.5, knn_acc: 0.712 })).toBe('epoch 1/3 done in 12s at step 50 | knn_acc 0.7120 | loss 0.5000');
  });

  it('charts: step metrics against the step with the epoch means, epoch-only metrics against the epoch', () => {
    const h = new MetricHistory();
    h.addStep(2, { loss: 1.5 });
    h.addStep(4, { loss: 1.0 });
    h.setEpoch(0, 4, { loss: 1.2, knn_acc: 0.1 });
    h.setEpoch(0, 4, { loss: 1.25, knn_acc: 0.2 }); // a later report of the same epoch wins
    const loss = metricChart('loss', h)!;
    expect(loss.xLabel).toBe('step');
    expect(loss.series.map((s) => s.points)).toEqual([[[2, 1.5], [4, 1.0]], [[4, 1.25]]]);
    const knn = metricChart('knn_acc', h)!;
    expect(knn.xLabel).toBe('epoch');
    expect(knn.series.map((s) => s.points)).toEqual([[[1, 0.2]]]);
    expect(metricChart('tau', h)).toBeUndefined();
  });

  it("charts: an epoch metric's target-encoder companion (knn_acc_target) is a second line of its chart", () => {
    const h = new MetricHistory();
    h.setEpoch(0, 4, { loss: 1.2 });
    h.setEpoch(1, 8, { loss: 1.0, knn_acc: 0.5, knn_acc_target: 0.55 });
    h.setEpoch(3, 16, { loss: 0.9, knn_acc: 0.6, knn_acc_target: 0.58 });
    const knn = metricChart('knn_acc', h)!;
    expect(knn.series.map((s) => s.name)).toEqual(['knn_acc', 'knn_acc_target']);
    expect(knn.series.map((s) => s.points)).toEqual([[[2, 0.5], [4, 0.6]], [[2, 0.55], [4, 0.58]]]);
    // and nothing is added where the run has no such companion
    h.setEpoch(4, 20, { knn_top5: 0.9 });
    expect(metricChart('knn_top5', h)!.series.map((s) => s.name)).toEqual(['knn_top5']);
  });

  it('summarizes a config: plain values kept, functions dropped, cycles, tensors and long arrays shortened', () => {
    const cfg: Record<string, unknown> = { a: 1, f: () => 1, list: Array.from({ length: 20 }, (_, i) => i), deep: { b: { c: { d: { e: 1 } } } } };
    cfg.self = cfg;
    const t = tf.zeros([2, 3]);
    cfg.t = t;
    expect(summarizeConfig(cfg)).toEqual({
      a: 1,
      list: [...Array.from({ length: 16 }, (_, i) => i), '… 4 more'],
      deep: { b: { c: { d: '{…}' } } },
      self: '[circular]',
      t: '<tensor [2,3]>',
    });
    t.dispose();
  });
});

describe('options and registration', () => {
  it('registers by name in LOGGING order with validated options', () => {
    for (const [name, ctor] of [
      ['metrics-logger', MetricsLoggerCallback],
      ['plots', PlotsCallback],
      ['progress', ProgressBarCallback],
    ] as const) {
      const info = plugins.callback(name);
      expect(info.ctor).toBe(ctor);
      expect(info.order).toBe(CallbackOrder.LOGGING);
      expect(new ctor().order).toBe(CallbackOrder.LOGGING);
    }
    expect(() => new MetricsLoggerCallback({ csv: 'yes' as never })).toThrow(/callback "metrics-logger": invalid options: option "csv" = "yes"/);
    expect(() => new PlotsCallback({ every: 0 })).toThrow(/option "every" = 0/);
    expect(() => new ProgressBarCallback({ batchSize: 1.5 })).toThrow(/option "batchSize" = 1.5/);
    expect(() => new PlotsCallback({ colour: 'red' } as never)).toThrow(/unknown option "colour"/);
  });
});
