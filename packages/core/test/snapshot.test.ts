import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  Callback,
  Experiment,
  Rng,
  captureExperimentState,
  decodeNonFiniteJson,
  disposeSnapshot,
  encodeNonFiniteJson,
  experimentRngs,
  layerOrderedWeights,
  loadCheckpoint,
  nonFiniteTensors,
  onBatchEnd,
  onEpochEnd,
  readCheckpointMeta,
  resolveCheckpointDir,
  restoreCheckpoint,
  restoreExperimentState,
  saveCheckpoint,
  type StepLogs,
} from '../src';
import { useBackend } from '../../../test/helpers/backend';

beforeAll(async () => {
  await useBackend('wasm');
});

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-snapshot-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface ToyConfig {
  hidden?: number;
  optimizer?: 'adam' | 'momentum';
}

/** A callback with state, so the snapshot's callback section has something to carry. */
class Counter extends Callback {
  seen = 0;
  constructor() {
    super({ name: 'counter' });
  }
  override onBatchEnd(): void {
    this.seen++;
  }
  override getState(): Record<string, unknown> {
    return { seen: this.seen };
  }
  override setState(s: Record<string, unknown>): void {
    this.seen = s.seen as number;
  }
}

/**
 * Encoder (dense → BN → dense) trained by a real optimizer towards a target, plus a frozen
 * copy `shadow` (a frozen model lists model.weights in another order) and input noise drawn
 * from its own Rng, so a resume that forgot any of them would diverge.
 */
class Toy extends Experiment<tf.Tensor2D, ToyConfig> {
  readonly noiseRng: Rng;
  constructor(config: ToyConfig = {}, seed = 5) {
    super(config, { seed });
    this.noiseRng = this.rng.fork();
  }
  override rngs(): Record<string, Rng> {
    return { ...super.rngs(), noiseRng: this.noiseRng };
  }
  private build(name: string, trainable: boolean): tf.LayersModel {
    const h = this.config.hidden ?? 6;
    const inp = tf.input({ shape: [3] });
    let x = tf.layers.dense({ units: h, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(inp) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: x, name });
    m.trainable = trainable;
    return m;
  }
  protected override configureModels(): void {
    this.models.set('enc', this.build('enc', true));
    this.models.set('shadow', this.build('shadow', false));
  }
  protected override configureOptimizer(): tf.Optimizer {
    return this.config.optimizer === 'momentum' ? tf.train.momentum(0.05, 0.9) : tf.train.adam(0.01);
  }
  override trainableVariables(): tf.Variable[] {
    return this.models.get('enc')!.trainableWeights.map((w) => w.read() as tf.Variable);
  }
  trainStep(x: tf.Tensor2D): StepLogs {
    const enc = this.models.get('enc')!;
    const shadow = this.models.get('shadow')!;
    const noisy = tf.add(x, tf.randomNormal(x.shape, 0, 0.1, 'float32', this.noiseRng.seed()));
    shadow.apply(noisy, { training: true }); // moves the frozen model's BN statistics
    const loss = this.minimize(() => tf.mean(tf.square(tf.sub(enc.apply(noisy, { training: true }) as tf.Tensor, 1))) as tf.Scalar);
    return { loss };
  }
}

const data = (n: number) => (ctx: { epoch: number; skipBatches: number }) =>
  (function* () {
    for (let i = ctx.skipBatches; i < n; i++) yield tf.randomNormal([4, 3], 0, 1, 'float32', 100 * ctx.epoch + i + 1) as tf.Tensor2D;
  })();

const values = (m: tf.LayersModel) => layerOrderedWeights(m).map((w) => Array.from(w.read().dataSync()));

function recordLosses(exp: Experiment<tf.Tensor2D, ToyConfig>): number[] {
  const out: number[] = [];
  exp.addCallback(onBatchEnd({ name: 'losses' })(async (e) => { out.push((await e.state.logs.get('loss'))!); }));
  return out;
}

describe('captureExperimentState / restoreExperimentState', () => {
  it('round-trips weights, optimizer slots, RNGs, counters, callbacks and History into a fresh experiment', async () => {
    for (const optimizer of ['adam', 'momentum'] as const) {
      // reference: 2 epochs straight
      const ref = new Toy({ optimizer });
      const refLosses = recordLosses(ref);
      await ref.fit(data(3), { epochs: 2 });

      // interrupted: 1 epoch, snapshot, into a second experiment in the same process (tfjs gives
      // its variables other names: dense_Dense7/kernel vs dense_Dense1/kernel)
      const a = new Toy({ optimizer });
      const counterA = new Counter();
      a.addCallback(counterA);
      await a.fit(data(3), { epochs: 1 });
      const snap = await captureExperimentState(a);
      a.dispose();

      const b = new Toy({ optimizer });
      const counterB = new Counter();
      b.addCallback(counterB);
      const bLosses = recordLosses(b);
      await b.setup();
      expect(layerOrderedWeights(b.models.get('enc')!)[0].name).not.toBe(snap.meta.models.enc[0].name);
      await restoreExperimentState(b, snap);
      disposeSnapshot(snap);
      expect(b.state.epoch).toBe(1);
      expect(b.state.globalStep).toBe(3);
      expect(counterB.seen).toBe(3);
      expect(b.history.history.loss).toHaveLength(1);
      await b.fit(data(3), { epochs: 2 });
      // the resumed epoch reproduces the uninterrupted one bit for bit (same backend, same seed)
      expect(bLosses).toEqual(refLosses.slice(3));
      expect(b.history.toJSON()).toEqual(ref.history.toJSON());
      for (const m of ['enc', 'shadow']) expect(values(b.models.get(m)!)).toEqual(values(ref.models.get(m)!));
      expect(counterB.seen).toBe(6);
      ref.dispose();
      b.dispose();
    }
  });

  it('keys weights by layer order: freezing reorders model.weights, not the snapshot', async () => {
    const a = new Toy();
    await a.setup();
    const own = (ws: tf.LayerVariable[]) => ws.map((w) => w.name.split('/').pop()!.replace(/_\d+$/, ''));
    // a trainable model lists its BN statistics last in model.weights, its frozen twin does not:
    // pairing the two by model.weights index would mismatch
    expect(own(a.models.get('enc')!.weights)).not.toEqual(own(a.models.get('shadow')!.weights));
    const snap = await captureExperimentState(a);
    // …the snapshot stays in layer order: kernel, bias, gamma, beta, moving_mean, moving_variance, kernel, bias
    const layerOrder = ['kernel', 'bias', 'gamma', 'beta', 'moving_mean', 'moving_variance', 'kernel', 'bias'];
    for (const m of ['enc', 'shadow']) {
      expect(snap.meta.models[m].map((w) => w.name.split('/').pop()!.replace(/_\d+$/, ''))).toEqual(layerOrder);
    }
    expect(snap.meta.models.shadow.map((w) => w.shape)).toEqual([[3, 6], [6], [6], [6], [6], [6], [6, 2], [2]]);
    disposeSnapshot(snap);
    a.dispose();
  });

  it('records optimizer slots by model and weight position, and every declared generator', async () => {
    const a = new Toy({ optimizer: 'momentum' });
    await a.fit(data(2), { epochs: 1 });
    const snap = await captureExperimentState(a);
    const w = snap.meta.optimizer!.weights;
    expect(snap.meta.optimizer!.className).toBe('Momentum');
    // iter, then one momentum accumulator per trainable weight of enc (kernel, bias, gamma, beta, kernel, bias)
    expect(w[0]).toMatchObject({ name: 'iter' });
    expect(w.slice(1).map((s) => [s.model, s.index, s.suffix])).toEqual([
      ['enc', 0, 'momentum'], ['enc', 1, 'momentum'], ['enc', 2, 'momentum'],
      ['enc', 3, 'momentum'], ['enc', 6, 'momentum'], ['enc', 7, 'momentum'],
    ]);
    expect(Array.from(await snap.tensors[w[0].key].data())).toEqual([2]);
    expect(Object.keys(snap.meta.rngs).sort()).toEqual(['noiseRng', 'rng']);
    expect(snap.meta.rngs.noiseRng).toEqual(a.noiseRng.getState());
    disposeSnapshot(snap);
    a.dispose();
  });

  it('generators are declared by rngs(), not found among the properties', async () => {
    class Custom extends Toy {
      override rngs() {
        return { only: this.noiseRng };
      }
    }
    expect(Object.keys(experimentRngs(new Custom()))).toEqual(['only']);
    expect(Object.keys(experimentRngs(new Toy())).sort()).toEqual(['noiseRng', 'rng']);
    // an Rng property nobody declares is not saved
    class Extra extends Toy {
      readonly dropoutRng = new Rng(9);
    }
    const a = new Extra();
    await a.setup();
    const snap = await captureExperimentState(a);
    expect(Object.keys(snap.meta.rngs).sort()).toEqual(['noiseRng', 'rng']);
    disposeSnapshot(snap);
    a.dispose();
    class NotAnRng extends Toy {
      override rngs() {
        return { rng: this.rng, seed: 3 as unknown as Rng };
      }
    }
    expect(() => experimentRngs(new NotAnRng())).toThrow(/NotAnRng.rngs\(\): "seed" is not an Rng/);
  });

  it('a generator added after a checkpoint was written does not stop the resume; one no longer declared is dropped; both are reported', async () => {
    const a = new Toy();
    await a.fit(data(2), { epochs: 1 });
    const snap = await captureExperimentState(a);
    // a newer version of the method: one more generator, and noiseRng no longer declared
    class Newer extends Toy {
      readonly dropRng = new Rng(11);
      override rngs() {
        return { rng: this.rng, dropRng: this.dropRng };
      }
    }
    const b = new Newer();
    await b.setup();
    const dropBefore = b.dropRng.getState();
    const warnings: string[] = [];
    await restoreExperimentState(b, snap, { warn: (m) => warnings.push(m) });
    expect(b.rng.getState()).toEqual(a.rng.getState());
    expect(b.dropRng.getState()).toEqual(dropBefore);
    expect(b.noiseRng.getState()).not.toEqual(a.noiseRng.getState());
    expect(values(b.models.get('enc')!)).toEqual(values(a.models.get('enc')!));
    expect(b.state.globalStep).toBe(2);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/holds generator\(s\) "noiseRng" of Newer, which Newer does not declare in rngs\(\); their state is dropped/);
    expect(warnings[1]).toMatch(/Newer declares generator\(s\) "dropRng" that the checkpoint does not hold/);
    disposeSnapshot(snap);
    a.dispose();
    b.dispose();
  });

  it('saves and restores the generators a callback declares', async () => {
    class Sampler extends Callback {
      readonly pick = new Rng(21);
      drawn: number[] = [];
      constructor() {
        super({ name: 'sampler' });
      }
      override onBatchEnd(): void {
        this.drawn.push(this.pick.nextUint32());
      }
      override rngs(): Record<string, Rng> {
        return { pick: this.pick };
      }
    }
    const ref = new Toy();
    const refSampler = new Sampler();
    await ref.fit(data(2), { epochs: 2, callbacks: [refSampler] });

    const a = new Toy();
    await a.fit(data(2), { epochs: 1, callbacks: [new Sampler()] });
    const snap = await captureExperimentState(a);
    expect(snap.meta.callbackRngs).toEqual({ sampler: { pick: expect.any(Array) } });
    a.dispose();

    const b = new Toy();
    const bSampler = new Sampler();
    b.addCallback(bSampler);
    await b.setup();
    await restoreExperimentState(b, snap);
    disposeSnapshot(snap);
    await b.fit(data(2), { epochs: 2 });
    expect(bSampler.drawn).toEqual(refSampler.drawn.slice(2));
    ref.dispose();
    b.dispose();
  });

  describe('buffers (exp.buffers(): state that is neither a weight nor an optimizer slot)', () => {
    /**
     * Toy with two buffers the loss depends on: a running sum of the batches (float32 [3]) that
     * is the regression target, and a step count (int32 scalar) that scales it; a resume that
     * lost either would give other losses.
     */
    class Buffered extends Toy {
      readonly sum: tf.Variable;
      readonly count = tf.variable(tf.scalar(0, 'int32'), false);
      constructor(readonly width = 3) {
        super();
        this.sum = tf.variable(tf.zeros([width]), false);
      }
      override buffers(): Record<string, tf.Variable> {
        return { ...super.buffers(), sum: this.sum, count: this.count };
      }
      override trainStep(x: tf.Tensor2D): StepLogs {
        const enc = this.models.get('enc')!;
        tf.tidy(() => {
          this.sum.assign(tf.add(this.sum, tf.sum(x, 0).slice([0], [this.width])));
          this.count.assign(tf.add(this.count, tf.scalar(1, 'int32')));
        });
        const target = tf.tidy(() => tf.div(tf.mean(this.sum), tf.cast(this.count, 'float32')));
        const loss = this.minimize(() => tf.mean(tf.square(tf.sub(enc.apply(x, { training: true }) as tf.Tensor, target))) as tf.Scalar);
        target.dispose();
        return { loss };
      }
      override dispose(): void {
        super.dispose();
        tf.dispose([this.sum, this.count]);
      }
    }

    it('round-trip through disk bit for bit (float32 and int32), so the resumed run continues with the same losses', async () => {
      const ref = new Buffered();
      const refLosses = recordLosses(ref);
      await ref.fit(data(3), { epochs: 2 });

      const a = new Buffered();
      await a.fit(data(3), { epochs: 1 });
      const dir = path.join(tmp, 'buffers', 'last');
      const meta = await saveCheckpoint(dir, a);
      expect(meta.buffers).toEqual({ sum: { key: 'buffer/sum', shape: [3], dtype: 'float32' }, count: { key: 'buffer/count', shape: [], dtype: 'int32' } });
      expect((await readCheckpointMeta(dir)).version).toBe(3);
      a.dispose();

      const b = new Buffered();
      const bLosses = recordLosses(b);
      await b.restore(dir);
      await b.fit(data(3), { epochs: 2 });
      expect(bLosses).toEqual(refLosses.slice(3));
      expect(Array.from(b.sum.dataSync())).toEqual(Array.from(ref.sum.dataSync()));
      expect(b.count.dataSync()[0]).toBe(6);

      // without the buffers (a method that forgot to declare them) the losses differ: the test can fail
      class Forgetful extends Buffered {
        override buffers(): Record<string, tf.Variable> {
          return {};
        }
      }
      const c = new Forgetful();
      const cLosses = recordLosses(c);
      const warnings: string[] = [];
      await c.restore(dir, { warn: (m) => warnings.push(m) });
      await c.fit(data(3), { epochs: 2 });
      expect(cLosses).not.toEqual(refLosses.slice(3));
      expect(warnings).toEqual([expect.stringMatching(/holds buffer\(s\) "sum", "count", which Forgetful does not declare in buffers\(\); they are dropped/)]);
      for (const x of [ref, b, c]) x.dispose();
    });

    it('a buffer of another shape is rejected before anything changes; one the checkpoint lacks is reported', async () => {
      const a = new Buffered(3);
      await a.fit(data(2), { epochs: 1 });
      const snap = await captureExperimentState(a);
      const b = new Buffered(2);
      await b.setup();
      const before = values(b.models.get('enc')!);
      await expect(restoreExperimentState(b, snap)).rejects.toThrow(/buffer "sum" of Buffered has shape \[2\] but the checkpoint's has \[3\]/);
      expect(values(b.models.get('enc')!)).toEqual(before);
      expect(b.state.globalStep).toBe(0);

      const plain = new Toy();
      await plain.fit(data(2), { epochs: 1 });
      const old = await captureExperimentState(plain);
      expect(old.meta.buffers).toEqual({});
      const c = new Buffered();
      await c.setup();
      const warnings: string[] = [];
      await restoreExperimentState(c, old, { warn: (m) => warnings.push(m) });
      expect(warnings).toEqual([expect.stringMatching(/Buffered declares buffer\(s\) "sum", "count" that the checkpoint does not hold/)]);
      expect(c.state.globalStep).toBe(2);

      class NotAVariable extends Toy {
        override buffers(): Record<string, tf.Variable> {
          return { queue: tf.zeros([2]) as tf.Variable };
        }
      }
      const d = new NotAVariable();
      await d.setup();
      await expect(captureExperimentState(d)).rejects.toThrow(/NotAVariable.buffers\(\): "queue" is not a tf.Variable/);
      disposeSnapshot(snap);
      disposeSnapshot(old);
      for (const x of [a, b, plain, c, d]) x.dispose();
    });
  });

  it('rejects a snapshot that does not fit, naming the weight and both shapes, and changes nothing', async () => {
    const a = new Toy({ hidden: 6 });
    await a.setup();
    const snap = await captureExperimentState(a);
    const b = new Toy({ hidden: 5 });
    await b.setup();
    const before = values(b.models.get('enc')!);
    const rngBefore = b.noiseRng.getState();
    b.state.epoch = 7;
    await expect(restoreExperimentState(b, snap)).rejects.toThrow(
      /weight ".*kernel.*" \(model "enc", #0\) has shape \[3,5\] but the checkpoint's ".*kernel.*" has shape \[3,6\]/,
    );
    expect(values(b.models.get('enc')!)).toEqual(before);
    expect(b.noiseRng.getState()).toEqual(rngBefore);
    expect(b.state.epoch).toBe(7);

    const c = new Toy();
    await c.setup();
    c.models.get('shadow')!.dispose();
    c.models.delete('shadow');
    await expect(restoreExperimentState(c, snap)).rejects.toThrow(/checkpoint has model\(s\) "shadow" that the experiment lacks \(it has enc\)/);

    const d = new Toy({ optimizer: 'momentum' });
    await d.setup();
    await expect(restoreExperimentState(d, snap)).rejects.toThrow(/written with optimizer Adam, this experiment uses Momentum/);

    disposeSnapshot(snap);
    for (const x of [a, b, c, d]) x.dispose();
  });

  it('NaN and Infinity survive the JSON meta (History columns are NaN-filled)', () => {
    const v = { a: [1, NaN, Infinity, -Infinity], b: { c: 'NaN', d: null } };
    const enc = JSON.parse(JSON.stringify(encodeNonFiniteJson(v)));
    expect(enc.a[1]).toEqual({ $number: 'NaN' });
    expect(decodeNonFiniteJson(enc)).toEqual(v);
  });

  it('nonFiniteTensors names the float tensors holding NaN or Inf', async () => {
    const a = new Toy();
    await a.setup();
    const snap = await captureExperimentState(a);
    expect(await nonFiniteTensors(snap)).toEqual([]);
    const key = snap.meta.models.enc[2].key; // BN gamma
    snap.tensors[key].dispose();
    snap.tensors[key] = tf.tensor1d([1, 1, NaN, 1, 1, 1]);
    expect(await nonFiniteTensors(snap)).toEqual([key]);
    disposeSnapshot(snap);
    a.dispose();
  });
});

describe('the loop\'s stateDict', () => {
  async function countersAtEpochEnd(opts: { steps?: number; maxSteps?: number; stopAt?: number; epochs?: number }) {
    const exp = new Toy();
    const seen: Array<ReturnType<typeof exp.stateDict>['counters']> = [];
    exp.addCallback(onEpochEnd({ name: 'c' })((e) => { seen.push(e.stateDict().counters); }));
    if (opts.stopAt !== undefined) {
      exp.addCallback(onBatchEnd({ name: 's' })((e) => { if (e.state.globalStep === opts.stopAt) e.stop(); }));
    }
    await exp.fit(data(4), { epochs: opts.epochs ?? 1, stepsPerEpoch: opts.steps, maxSteps: opts.maxSteps });
    // after fit, the loop's own counters are what a resume must start from
    const live = { epoch: exp.state.epoch, globalStep: exp.state.globalStep, batchIndex: exp.state.batchIndex };
    exp.dispose();
    return { seen, live };
  }

  it('a complete epoch moves on to the next; a cut-short one keeps its place, as the loop does', async () => {
    const full = await countersAtEpochEnd({});
    expect(full.seen).toEqual([{ epoch: 1, globalStep: 4, batchIndex: 0 }]);
    expect(full.live).toEqual(full.seen[0]);
    const stopped = await countersAtEpochEnd({ stopAt: 2 });
    expect(stopped.seen).toEqual([{ epoch: 0, globalStep: 2, batchIndex: 2 }]);
    expect(stopped.live).toEqual(stopped.seen[0]);
    const capped = await countersAtEpochEnd({ steps: 4, maxSteps: 3 });
    expect(capped.seen).toEqual([{ epoch: 0, globalStep: 3, batchIndex: 3 }]);
    expect(capped.live).toEqual(capped.seen[0]);
    const capAtEnd = await countersAtEpochEnd({ steps: 4, maxSteps: 4, epochs: 2 });
    expect(capAtEnd.seen).toEqual([{ epoch: 1, globalStep: 4, batchIndex: 0 }]);
    expect(capAtEnd.live).toEqual(capAtEnd.seen[0]);
  });

  it('holds the History row of the epoch whose end is running; during batchEnd, the position after the batch', async () => {
    const exp = new Toy();
    const atEpochEnd: Array<ReturnType<typeof exp.stateDict>> = [];
    const atBatchEnd: Array<ReturnType<typeof exp.stateDict>['counters']> = [];
    const atObserver: Array<ReturnType<typeof exp.stateDict>> = [];
    exp.addCallback(
      onEpochEnd({ name: 'e' })((e) => { atEpochEnd.push(e.stateDict()); }),
      onBatchEnd({ name: 'b' })((e) => { atBatchEnd.push(e.stateDict().counters); }),
    );
    exp.events.on('epochEnd', () => atObserver.push(exp.stateDict()));
    await exp.fit(data(2), { epochs: 2 });
    expect(atBatchEnd).toEqual([
      { epoch: 0, globalStep: 1, batchIndex: 1 },
      { epoch: 0, globalStep: 2, batchIndex: 2 },
      { epoch: 1, globalStep: 3, batchIndex: 1 },
      { epoch: 1, globalStep: 4, batchIndex: 2 },
    ]);
    // the loop records the row after the epochEnd hooks; the state dict has it already
    expect(atEpochEnd.map((d) => d.history.epoch)).toEqual([[0], [0, 1]]);
    expect(atEpochEnd[1].history).toEqual(exp.history.toJSON());
    // epochEnd observers run after the row is recorded: the same state
    expect(atObserver).toEqual(atEpochEnd);
    expect(exp.stateDict()).toEqual({ counters: { epoch: 2, globalStep: 4, batchIndex: 0 }, history: exp.history.toJSON() });

    const fresh = new Toy();
    fresh.loadStateDict(atEpochEnd[0]);
    expect(fresh.state).toMatchObject({ epoch: 1, globalStep: 2, batchIndex: 0 });
    expect(fresh.history.toJSON()).toEqual(atEpochEnd[0].history);
    exp.dispose();
  });
});

describe('saveCheckpoint / loadCheckpoint', () => {
  it('round-trips through disk, including NaN in History, config and extra', async () => {
    const a = new Toy({ hidden: 6, optimizer: 'adam' });
    await a.fit(data(2), { epochs: 1 });
    a.history.record(1, { knn_acc: 0.5 }); // loss column gets NaN for this row
    const dir = path.join(tmp, 'rt', 'last');
    const meta = await saveCheckpoint(dir, a, { note: 'hello' });
    expect(fs.readdirSync(dir).sort()).toEqual(['meta.json', 'tensors.bin', 'tensors.json']);
    const onDisk = await readCheckpointMeta(dir);
    expect(onDisk.history.history.loss[1]).toBeNaN();
    expect(onDisk.extra).toEqual({ note: 'hello' });
    expect(onDisk.config).toEqual({ hidden: 6, optimizer: 'adam' });
    expect(onDisk.counters).toEqual(meta.counters);

    const loaded = await loadCheckpoint(dir);
    const live = await captureExperimentState(a);
    expect(Object.keys(loaded.tensors)).toEqual(Object.keys(live.tensors));
    for (const k of Object.keys(live.tensors)) {
      expect(Array.from(await loaded.tensors[k].data())).toEqual(Array.from(await live.tensors[k].data()));
    }
    disposeSnapshot(loaded);
    disposeSnapshot(live);

    const b = new Toy({ hidden: 6, optimizer: 'adam' });
    await b.setup();
    await restoreCheckpoint(dir, b);
    expect(values(b.models.get('enc')!)).toEqual(values(a.models.get('enc')!));
    expect(b.noiseRng.getState()).toEqual(a.noiseRng.getState());
    expect(b.history.history.knn_acc).toEqual([NaN, 0.5]);
    a.dispose();
    b.dispose();
  });

  it('records the steps the run planned; resuming into a run of another length warns that its schedules follow the new one', async () => {
    const dir = path.join(tmp, 'planned', 'last');
    const a = new Toy();
    // 3 epochs of 2 steps planned, cut to 2 steps by maxSteps
    await a.fit(data(2), { epochs: 3, stepsPerEpoch: 2, maxSteps: 2 });
    await saveCheckpoint(dir, a);
    expect((await readCheckpointMeta(dir)).totalSteps).toBe(2);
    const resumeWarnings = async (fitOpts: { epochs: number; stepsPerEpoch: number; maxSteps?: number }) => {
      const warnings: string[] = [];
      const b = new Toy();
      await b.restore(dir, { warn: (m) => warnings.push(m) });
      await b.fit(data(2), fitOpts);
      b.dispose();
      return warnings;
    };
    // the same plan: nothing to say
    expect(await resumeWarnings({ epochs: 3, stepsPerEpoch: 2, maxSteps: 2 })).toEqual([]);
    // without maxSteps the run now plans 6: the learning rate's and τ's schedules stretch from step 2 on
    expect(await resumeWarnings({ epochs: 3, stepsPerEpoch: 2 })).toEqual([
      expect.stringMatching(/this run plans 6 optimizer steps where the checkpoint's run planned 2 .*follow the new length from step 2, so it will not match the run continued as planned/),
    ]);
    // a checkpoint from before the plan was recorded: nothing to compare
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
    delete meta.totalSteps;
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
    expect(await resumeWarnings({ epochs: 3, stepsPerEpoch: 2 })).toEqual([]);
    a.dispose();
  });

  it('resolveCheckpointDir accepts a checkpoint, a checkpoints/ folder or a run folder', async () => {
    const run = path.join(tmp, 'run');
    const a = new Toy();
    await a.setup();
    await saveCheckpoint(path.join(run, 'checkpoints', 'last'), a);
    const want = path.join(run, 'checkpoints', 'last');
    expect(await resolveCheckpointDir(run)).toBe(want);
    expect(await resolveCheckpointDir(path.join(run, 'checkpoints'))).toBe(want);
    expect(await resolveCheckpointDir(want)).toBe(want);
    await expect(resolveCheckpointDir(path.join(tmp, 'nothing'))).rejects.toThrow(/no checkpoint found at ".*nothing"/);
    await expect(loadCheckpoint(path.join(tmp, 'nothing'))).rejects.toThrow(/no checkpoint at/);
    a.dispose();
  });

  it('a write interrupted at any step leaves the old or the new checkpoint, loadable', async () => {
    const a = new Toy();
    await a.setup();
    for (const [step, expectStep] of [['tmp-complete', 1], ['old-moved-aside', 2], ['new-in-place', 2]] as const) {
      const dir = path.join(tmp, `crash-${step}`, 'last');
      a.state.globalStep = 1;
      await saveCheckpoint(dir, a);
      a.state.globalStep = 2;
      await expect(
        saveCheckpoint(dir, a, undefined, { atomic: { onStep: (s) => { if (s === step) throw new Error(`killed at ${s}`); } } }),
      ).rejects.toThrow(`killed at ${step}`);
      if (step === 'old-moved-aside') expect(fs.existsSync(dir)).toBe(false); // the gap recovery closes
      const loaded = await loadCheckpoint(dir);
      expect(loaded.meta.counters.globalStep).toBe(expectStep);
      disposeSnapshot(loaded);
      expect(fs.readdirSync(path.dirname(dir))).toEqual(['last']);
    }
    a.dispose();
  });

  it('capture, save, load and restore leak no tensors', async () => {
    const a = new Toy();
    await a.fit(data(2), { epochs: 1 });
    const dir = path.join(tmp, 'leak', 'last');
    const cycle = async () => {
      const s = await captureExperimentState(a);
      await nonFiniteTensors(s);
      disposeSnapshot(s);
      await saveCheckpoint(dir, a);
      await restoreCheckpoint(dir, a);
    };
    await cycle();
    const n = tf.memory().numTensors;
    await cycle();
    await cycle();
    expect(tf.memory().numTensors).toBe(n);
    a.dispose();
  });
});
