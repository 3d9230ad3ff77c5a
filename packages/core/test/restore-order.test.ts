/**
 * Where and in what order the loop restores a checkpoint (`fit(data, { resumeFrom })`,
 * `exp.restore(dir)`): during experimentStart, after the MODEL_INIT band of hooks (which
 * builds the models callbacks own) and before every other hook; inside the restore, models,
 * then callbacks' state, optimizer, generators, and last the loop's position and History.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  Callback,
  CallbackOrder,
  Experiment,
  RESTORE_ORDER,
  layerOrderedWeights,
  onBatchStart,
  onExperimentStart,
  saveCheckpoint,
  type LoopStateDict,
  type StepLogs,
} from '../src';
import { useBackend } from '../../../test/helpers/backend';

beforeAll(async () => {
  await useBackend('cpu');
});

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-restore-order-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** An encoder the experiment builds, and a `copy` model that a MODEL_INIT callback builds (like BYOL's target). */
class Toy extends Experiment<tf.Tensor2D> {
  trace: string[] | undefined;
  constructor() {
    super(undefined, { seed: 4 });
  }
  protected override configureModels(): void {
    const inp = tf.input({ shape: [3] });
    const out = tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(inp) as tf.SymbolicTensor;
    this.models.set('enc', tf.model({ inputs: inp, outputs: out, name: 'enc' }));
  }
  protected override configureOptimizer(): tf.Optimizer {
    return tf.train.momentum(0.1, 0.9);
  }
  override trainableVariables(): tf.Variable[] {
    return this.models.get('enc')!.trainableWeights.map((w) => w.read() as tf.Variable);
  }
  trainStep(x: tf.Tensor2D): StepLogs {
    const enc = this.models.get('enc')!;
    const noise = tf.randomNormal(x.shape, 0, 0.1, 'float32', this.rng.seed());
    return { loss: this.minimize(() => tf.mean(tf.square(tf.sub(enc.apply(tf.add(x, noise)) as tf.Tensor, 1))) as tf.Scalar) };
  }
  override loadStateDict(state: LoopStateDict): void {
    this.trace?.push(`loop position and History (epoch ${state.counters.epoch}, step ${state.counters.globalStep})`);
    super.loadStateDict(state);
  }
}

/** Builds `copy` from `enc` at experimentStart, as target-init builds BYOL's target network. */
const buildCopy = (trace?: string[]) =>
  onExperimentStart({ name: 'build-copy', order: CallbackOrder.MODEL_INIT })((e) => {
    trace?.push('hook MODEL_INIT: build-copy');
    const enc = e.models.get('enc')!;
    const inp = tf.input({ shape: [3] });
    const copy = tf.model({ inputs: inp, outputs: tf.layers.dense({ units: 2 }).apply(inp) as tf.SymbolicTensor, name: 'copy' });
    copy.setWeights(enc.getWeights());
    copy.trainable = false;
    e.models.set('copy', copy);
  });

/** Moves the copy a little every step, so a restored copy differs from a rebuilt one. */
const nudgeCopy = onBatchStart({ name: 'nudge' })((e) => {
  const w = layerOrderedWeights(e.models.get('copy')!)[0];
  tf.tidy(() => (w.read() as tf.Variable).assign(tf.mul(w.read(), 0.5)));
});

class Stateful extends Callback {
  count = 0;
  constructor(private readonly onSet?: () => void) {
    super({ name: 'stateful' });
  }
  override onBatchEnd(): void {
    this.count++;
  }
  override getState(): Record<string, unknown> {
    return { count: this.count };
  }
  override setState(s: Record<string, unknown>): void {
    this.onSet?.();
    this.count = s.count as number;
  }
}

const data = (n: number) => (ctx: { epoch: number; skipBatches: number }) =>
  (function* () {
    for (let i = ctx.skipBatches; i < n; i++) yield tf.randomNormal([4, 3], 0, 1, 'float32', 100 * ctx.epoch + i + 1) as tf.Tensor2D;
  })();

const weights = (m: tf.LayersModel) => layerOrderedWeights(m).map((w) => Array.from(w.read().dataSync()));

async function writeCheckpoint(name: string): Promise<{ dir: string; exp: Toy }> {
  const exp = new Toy();
  await exp.fit(data(3), { epochs: 1, callbacks: [buildCopy(), nudgeCopy, new Stateful()] });
  const dir = path.join(tmp, name);
  await saveCheckpoint(dir, exp);
  return { dir, exp };
}

describe('the loop restores a checkpoint at a fixed point of experimentStart, in a fixed order', () => {
  it('after the MODEL_INIT band, before the other hooks: models, callbacks, optimizer, generators, loop position', async () => {
    const { dir, exp: a } = await writeCheckpoint('order');
    const trace: string[] = [];
    const b = new Toy();
    b.trace = trace;
    await b.setup();
    // instrument each part of the restore
    const firstWeight = layerOrderedWeights(b.models.get('enc')!)[0].read() as tf.Variable;
    const assign = firstWeight.assign.bind(firstWeight);
    firstWeight.assign = (v: tf.Tensor) => {
      trace.push('models');
      assign(v);
    };
    const opt = b.optimizer!;
    const setWeights = opt.setWeights.bind(opt);
    opt.setWeights = async (w) => {
      trace.push('optimizer');
      return setWeights(w);
    };
    const setRng = b.rng.setState.bind(b.rng);
    b.rng.setState = (s) => {
      trace.push('generators');
      setRng(s);
    };
    const stateful = new Stateful(() => trace.push(`callbacks' state (copy restored: ${String(weightsEqual(b, a, 'copy'))})`));
    const at = (name: string, order: number) =>
      onExperimentStart({ name, order })((e) => { trace.push(`hook ${name} (step ${e.state.globalStep})`); });
    await b.fit(data(3), {
      epochs: 1,
      resumeFrom: dir,
      callbacks: [at('at-99', RESTORE_ORDER - 1), at('at-100', RESTORE_ORDER), at('at-0-after-build', CallbackOrder.MODEL_INIT), buildCopy(trace), nudgeCopy, stateful],
    });
    expect(trace).toEqual([
      'hook at-0-after-build (step 0)',
      'hook MODEL_INIT: build-copy',
      'hook at-99 (step 0)',
      'models',
      "callbacks' state (copy restored: true)",
      'optimizer',
      'generators',
      'loop position and History (epoch 1, step 3)',
      'hook at-100 (step 3)',
    ]);
    expect(b.resumedFrom?.dir).toBe(dir);
    expect(stateful.count).toBe(3);
    // the run had nothing left to do (epoch 1 of 1): it ends where the checkpoint was
    expect(weights(b.models.get('copy')!)).toEqual(weights(a.models.get('copy')!));
    a.dispose();
    b.dispose();
  });

  it('exp.restore(dir) before fit reads the checkpoint now and restores it at the same point; a later fit starts afresh', async () => {
    const { dir, exp: a } = await writeCheckpoint('restore-before-fit');
    const b = new Toy();
    const meta = await b.restore(dir);
    expect(meta.counters).toEqual({ epoch: 1, globalStep: 3, batchIndex: 0 });
    expect(b.state.globalStep).toBe(0);
    const seen: number[] = [];
    const peek = onExperimentStart({ name: 'peek', order: RESTORE_ORDER })((e) => { seen.push(e.state.globalStep); });
    await b.fit(data(3), { epochs: 2, callbacks: [buildCopy(), nudgeCopy, new Stateful(), peek] });
    expect(seen).toEqual([3]);
    expect(b.state.globalStep).toBe(6);
    // the restore was for that fit only
    const c = new Toy();
    await c.fit(data(3), { epochs: 1, callbacks: [buildCopy(), nudgeCopy, peek] });
    expect(seen).toEqual([3, 0]);
    expect(c.resumedFrom).toBeUndefined();
    a.dispose();
    b.dispose();
    c.dispose();
  });

  it('fails early and clearly: no checkpoint, a checkpoint given twice, a restore in the middle of fit, a model nothing builds', async () => {
    const { dir, exp: a } = await writeCheckpoint('errors');
    const b = new Toy();
    await expect(b.restore(path.join(tmp, 'nothing-here'))).rejects.toThrow(/no checkpoint found at ".*nothing-here"/);
    await b.restore(dir);
    await expect(b.fit(data(3), { epochs: 2, resumeFrom: dir, callbacks: [buildCopy()] })).rejects.toThrow(/resumeFrom ".*" given, but restore\(".*"\) already scheduled/);

    const c = new Toy();
    const late = onBatchStart({ name: 'late' })((e) => e.restore(dir).then(() => undefined));
    await expect(c.fit(data(3), { epochs: 1, callbacks: [late] })).rejects.toThrow(/restore: called during fit \(epoch\); restore before fit, or from an experimentStart hook/);

    // without the MODEL_INIT callback, the checkpoint's `copy` has nowhere to go; nothing changes
    const d = new Toy();
    await expect(d.fit(data(3), { epochs: 2, resumeFrom: dir })).rejects.toThrow(/checkpoint has model\(s\) "copy" that the experiment lacks \(it has enc\)/);
    expect(d.state.globalStep).toBe(0);
    for (const x of [a, b, c, d]) x.dispose();
  });
});

function weightsEqual(x: Toy, y: Toy, model: string): boolean {
  return JSON.stringify(weights(x.models.get(model)!)) === JSON.stringify(weights(y.models.get(model)!));
}
