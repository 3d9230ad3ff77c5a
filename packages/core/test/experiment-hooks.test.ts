import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  Callback,
  CallbackOrder,
  Experiment,
  onBatchEnd,
  onEpochEnd,
  onEpochStart,
  onExperimentEnd,
  onExperimentStart,
  type StepLogs,
} from '../src';
import { useBackend } from '../../../test/helpers/backend';

beforeAll(async () => {
  await useBackend('wasm');
});

/** An experiment that records its own hooks and trains nothing (a counter as "loss"). */
class Recorder extends Experiment<tf.Tensor, undefined> {
  constructor(readonly trace: string[]) {
    super(undefined);
  }
  trainStep(batch: tf.Tensor): StepLogs {
    this.trace.push(`step:${this.state.epoch}.${this.state.batchIndex}`);
    return { loss: tf.sum(batch) as tf.Scalar };
  }
  protected override onExperimentStart() { this.trace.push('exp:experimentStart'); }
  protected override onEpochStart() { this.trace.push('exp:epochStart'); }
  protected override onEpochEnd() { this.trace.push('exp:epochEnd'); }
  protected override onExperimentEnd() { this.trace.push('exp:experimentEnd'); }
}

/** A factory of one-shot generators: the loop owns (and disposes) what they yield. */
const batches = (n: number) =>
  function* () {
    for (let i = 0; i < n; i++) yield tf.scalar(i + 1);
  };

class Tracer extends Callback {
  constructor(name: string, order: number, private readonly trace: string[]) {
    super({ name, order });
  }
  override onExperimentStart() { this.trace.push(`${this.name}:experimentStart`); }
  override onEpochEnd() { this.trace.push(`${this.name}:epochEnd`); }
  override onExperimentEnd() { this.trace.push(`${this.name}:experimentEnd`); }
}

describe('hook order', () => {
  it('runs callbacks by order, ties by registration, experiment Start first and End last', async () => {
    const trace: string[] = [];
    const exp = new Recorder(trace);
    exp.addCallback(
      new Tracer('logger', CallbackOrder.LOGGING, trace),
      new Tracer('ckpt', CallbackOrder.CHECKPOINT, trace),
      new Tracer('init-a', CallbackOrder.MODEL_INIT, trace),
      new Tracer('init-b', CallbackOrder.MODEL_INIT, trace),
    );
    await exp.fit(batches(1), { epochs: 1 });
    expect(trace).toEqual([
      'exp:experimentStart',
      'init-a:experimentStart',
      'init-b:experimentStart',
      'ckpt:experimentStart',
      'logger:experimentStart',
      'exp:epochStart',
      'step:0.0',
      'init-a:epochEnd',
      'init-b:epochEnd',
      'ckpt:epochEnd',
      'logger:epochEnd',
      'exp:epochEnd',
      'init-a:experimentEnd',
      'init-b:experimentEnd',
      'ckpt:experimentEnd',
      'logger:experimentEnd',
      'exp:experimentEnd',
    ]);
  });

  it('method-level order overrides the class order; decorated and functional hooks interleave', async () => {
    const trace: string[] = [];
    class Mixed extends Callback {
      constructor() {
        super({ name: 'mixed', order: CallbackOrder.LOGGING });
      }
      @onEpochEnd(CallbackOrder.MODEL_INIT)
      early() { trace.push('mixed.early'); }
      @onEpochEnd()
      atClassOrder() { trace.push('mixed.atClassOrder'); }
      override onEpochEnd() { trace.push('mixed.onEpochEnd'); }
      @onEpochStart(CallbackOrder.EXTERNAL)
      late() { trace.push('mixed.epochStart'); }
    }
    const fnEval = onEpochEnd({ order: CallbackOrder.EVALUATION, name: 'fn-eval' })(() => { trace.push('fn-eval'); });
    const fnInit = onExperimentStart(CallbackOrder.MODEL_INIT)(function initTarget() { trace.push('fn-init'); });
    const exp = new Recorder(trace);
    exp.addCallback(new Mixed(), fnEval, fnInit);
    await exp.fit(batches(1), { epochs: 1 });
    expect(fnInit.name).toBe('initTarget');
    expect(trace.filter((t) => !t.startsWith('exp:') && !t.startsWith('step'))).toEqual([
      'fn-init',
      'mixed.epochStart',
      'mixed.early',
      'fn-eval',
      'mixed.onEpochEnd',
      'mixed.atClassOrder',
    ]);
  });

  it('batch hooks see the step counters and lazy logs of their own step', async () => {
    const seen: Array<[number, number, number, number]> = [];
    const cb = onBatchEnd({ name: 'watch' })(async (exp) => {
      seen.push([exp.state.epoch, exp.state.batchIndex, exp.state.globalStep, (await exp.state.logs.get('loss'))!]);
    });
    const exp = new Recorder([]);
    const history = await exp.fit(batches(3), { epochs: 2, callbacks: [cb] });
    expect(seen).toEqual([
      [0, 0, 1, 1], [0, 1, 2, 2], [0, 2, 3, 3],
      [1, 0, 4, 1], [1, 1, 5, 2], [1, 2, 6, 3],
    ]);
    expect(history.epoch).toEqual([0, 1]);
    expect(history.history.loss).toEqual([2, 2]);
  });
});

describe('registration and failures', () => {
  it('rejects duplicate names before any step, naming both callbacks', async () => {
    const trace: string[] = [];
    class A extends Callback {}
    class B extends Callback {}
    const exp = new Recorder(trace);
    exp.addCallback(new A({ name: 'ema' }), new B({ name: 'ema' }));
    await expect(exp.fit(batches(2), { epochs: 1 })).rejects.toThrow('duplicate callback name "ema": A and B');
    expect(trace).toEqual([]);
  });

  it('rejects an unmet requires before any step', async () => {
    const trace: string[] = [];
    class Ema extends Callback {}
    const exp = new Recorder(trace);
    exp.addCallback(new Ema({ name: 'ema', requires: ['target-init'] }));
    await expect(exp.fit(batches(2), { epochs: 1 })).rejects.toThrow(
      'callback "ema" requires callback "target-init", which is not registered',
    );
    expect(trace).toEqual([]);
  });

  it('rejects a callback without a name', async () => {
    class Nameless extends Callback {}
    const exp = new Recorder([]);
    exp.addCallback(new Nameless());
    await expect(exp.fit(batches(1), { epochs: 1 })).rejects.toThrow(/has no name/);
  });

  it('a throwing hook stops the run with callback name and event; experimentEnd still runs', async () => {
    const trace: string[] = [];
    class Boom extends Callback {
      @onBatchEnd()
      explode(exp: Experiment) {
        if (exp.state.globalStep === 2) throw new Error('disk full');
      }
    }
    const cleanup = onExperimentEnd({ name: 'cleanup' })(() => { trace.push('cleanup ran'); });
    const exp = new Recorder(trace);
    exp.addCallback(new Boom({ name: 'knn-eval' }), cleanup);
    const err = await exp.fit(batches(5), { epochs: 1 }).catch((e) => e);
    expect(err.message).toBe('callback "knn-eval" failed in batchEnd: disk full');
    expect(err.cause.message).toBe('disk full');
    expect(trace.filter((t) => t.startsWith('step'))).toEqual(['step:0.0', 'step:0.1']);
    expect(trace).toContain('cleanup ran');
    expect(trace[trace.length - 1]).toBe('exp:experimentEnd');
  });

  it('an error in trainStep is not swallowed and batches are disposed', async () => {
    class Bad extends Experiment<tf.Tensor, undefined> {
      trainStep(): StepLogs {
        throw new Error('shape mismatch');
      }
    }
    const before = tf.memory().numTensors;
    await expect(new Bad(undefined).fit(batches(3), { epochs: 1 })).rejects.toThrow('shape mismatch');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a trainStep that returns a non-scalar', async () => {
    class Vec extends Experiment<tf.Tensor, undefined> {
      trainStep(b: tf.Tensor): StepLogs {
        return { loss: tf.stack([b, b]) as unknown as tf.Scalar };
      }
    }
    await expect(new Vec(undefined).fit(batches(1), { epochs: 1 })).rejects.toThrow('log "loss" must be a scalar tensor or a number, got shape [2]');
  });

  it('arrays of batches are reused each epoch and left to the caller', async () => {
    const data = [tf.scalar(1), tf.scalar(2)];
    const history = await new Recorder([]).fit(data, { epochs: 2 });
    expect(history.history.loss).toEqual([1.5, 1.5]);
    expect(data.every((t) => !t.isDisposed)).toBe(true);
    tf.dispose(data);
  });

  it('a one-shot iterable used for two epochs is reported, not silently skipped', async () => {
    const exp = new Recorder([]);
    await expect(exp.fit(batches(2)(), { epochs: 2 })).rejects.toThrow(/epoch 1 produced no batches/);
  });
});
