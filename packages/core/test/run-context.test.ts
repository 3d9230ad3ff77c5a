import { describe, it, expect, beforeAll } from 'vitest';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Callback, Experiment, type HookEvent, type MethodRunInfo, type RunContext, type StepLogs } from '../src';
import { resolveConfig } from '../src/config';
import { useBackend } from '../../../test/helpers/backend';
import './fixtures/plugin-demo/fakes'; // registers method test-fake

beforeAll(async () => {
  await useBackend('wasm');
});

/** Trains nothing; reports a batch size and base LR of its own through runContextInfo. */
class Method extends Experiment<tf.Tensor, undefined> {
  constructor(readonly info: MethodRunInfo) {
    super(undefined);
  }
  protected override runContextInfo(): MethodRunInfo {
    return { ...super.runContextInfo(), ...this.info };
  }
  trainStep(batch: tf.Tensor): StepLogs {
    return { loss: tf.sum(batch) as tf.Scalar };
  }
}

const batches = (n: number) =>
  function* () {
    for (let i = 0; i < n; i++) yield tf.scalar(i + 1);
  };

/** Every field of RunContext, so a field added later must be added (and checked) here too. */
const FIELDS = ['baseLearningRate', 'batchSize', 'epochs', 'logEvery', 'maxSteps', 'resolvedConfig', 'runDir', 'stepsPerEpoch', 'totalSteps'] as const;
type Field = (typeof FIELDS)[number];
// a compile error when RunContext gains a field that FIELDS lacks, or loses one it has
const noneMissing: [Exclude<keyof RunContext, Field>] extends [never] ? true : false = true;
const noneExtra: [Exclude<Field, keyof RunContext>] extends [never] ? true : false = true;
void [noneMissing, noneExtra];

/** Never called: what `tsc -p tsconfig.test.json` must reject. */
export function writesThatDoNotCompile(exp: Method, ctx: RunContext): void {
  // @ts-expect-error exp.run is a getter: it cannot be replaced
  exp.run = ctx;
  // @ts-expect-error every field is readonly
  exp.run.epochs = 3;
  // @ts-expect-error every field is readonly
  ctx.runDir = 'x';
}

/** Reads every field of `exp.run` in every hook and tries to write it. */
class Reader extends Callback {
  readonly seen: { event: HookEvent; ctx: RunContext; values: Record<Field, unknown> }[] = [];
  writeErrors: unknown[] = [];

  constructor() {
    super({ name: 'reader' });
  }

  private read(event: HookEvent, exp: Experiment<tf.Tensor, undefined>): void {
    const ctx = exp.run;
    const values = Object.fromEntries(FIELDS.map((k) => [k, ctx[k]])) as Record<Field, unknown>;
    this.seen.push({ event, ctx, values });
  }

  override onExperimentStart(exp: Experiment<tf.Tensor, undefined>) {
    this.read('experimentStart', exp);
    const ctx = exp.run;
    for (const k of FIELDS) {
      try {
        (ctx as Record<Field, unknown>)[k] = 'changed';
      } catch (err) {
        this.writeErrors.push(err);
      }
    }
    // what the experiment is given during the fit does not reach this fit's context
    exp.runDir = '/elsewhere';
  }
  override onEpochStart(exp: Experiment<tf.Tensor, undefined>) {
    this.read('epochStart', exp);
  }
  override onBatchStart(exp: Experiment<tf.Tensor, undefined>) {
    this.read('batchStart', exp);
  }
  override onBatchEnd(exp: Experiment<tf.Tensor, undefined>) {
    this.read('batchEnd', exp);
  }
  override onEpochEnd(exp: Experiment<tf.Tensor, undefined>) {
    this.read('epochEnd', exp);
  }
  override onExperimentEnd(exp: Experiment<tf.Tensor, undefined>) {
    this.read('experimentEnd', exp);
  }
}

describe('the run context (exp.run)', () => {
  it('gives every hook of a fit the same frozen context, built from the fit arguments, runDir, resolvedConfig and the method', async () => {
    const resolved = await resolveConfig({ method: 'test-fake', data: { name: 'mnist', limit: 32 }, trainer: { epochs: 2, stepsPerEpoch: 3 }, model: { width: 4 } });
    const runDir = path.join(os.tmpdir(), 'selfsup-run-context');
    const exp = new Method({ batchSize: 16, baseLearningRate: 0.3 });
    exp.runDir = runDir;
    exp.resolvedConfig = resolved;
    const reader = new Reader();
    await exp.fit(batches(3), { epochs: 2, stepsPerEpoch: 3, maxSteps: 5, logEvery: 2, batchSize: 4, callbacks: [reader] });

    const expected: Record<Field, unknown> = {
      runDir,
      resolvedConfig: resolved,
      epochs: 2,
      stepsPerEpoch: 3,
      maxSteps: 5,
      totalSteps: 5, // 2 × 3 capped at maxSteps
      logEvery: 2,
      batchSize: 4, // fit's, over the method's 16
      baseLearningRate: 0.3, // the method's
    };
    const events = reader.seen.map((s) => s.event);
    expect(events[0]).toBe('experimentStart');
    expect(events.at(-1)).toBe('experimentEnd');
    expect(events.filter((e) => e === 'batchEnd')).toHaveLength(5);
    const ctx = reader.seen[0].ctx;
    for (const s of reader.seen) {
      expect(s.ctx).toBe(ctx);
      expect(s.values).toEqual(expected);
      expect(s.values.resolvedConfig).toBe(resolved);
    }
    expect(Object.keys(ctx).sort()).toEqual([...FIELDS]);
    expect(exp.state.globalStep).toBe(5);

    // frozen: every write threw and changed nothing
    expect(Object.isFrozen(ctx)).toBe(true);
    expect(reader.writeErrors).toHaveLength(FIELDS.length);
    for (const err of reader.writeErrors) expect(err).toBeInstanceOf(TypeError);
    // and at run time, as at compile time (writesThatDoNotCompile), exp.run cannot be replaced
    expect(() => writesThatDoNotCompile(exp, ctx)).toThrow(TypeError);
    expect(ctx.epochs).toBe(2);
  });

  it('takes the batch size from the method when fit has none, and has neither when no one knows', async () => {
    const exp = new Method({ batchSize: 16 });
    const reader = new Reader();
    await exp.fit(batches(2), { epochs: 1, callbacks: [reader] });
    expect(reader.seen[0].values).toEqual({
      runDir: undefined,
      resolvedConfig: undefined,
      epochs: 1,
      stepsPerEpoch: undefined,
      maxSteps: undefined,
      totalSteps: undefined,
      logEvery: 10,
      batchSize: 16,
      baseLearningRate: undefined,
    });
    const bare = new Method({});
    const r2 = new Reader();
    await bare.fit(batches(1), { epochs: 1, maxSteps: 1, callbacks: [r2] });
    expect(r2.seen[0].values).toMatchObject({ batchSize: undefined, baseLearningRate: undefined, maxSteps: 1, totalSteps: 1 });
  });

  it('outside a fit, is built from the experiment as it is now (a hook run by hand)', async () => {
    const exp = new Method({ baseLearningRate: 0.5 });
    expect(exp.run).toMatchObject({ epochs: 0, totalSteps: undefined, runDir: undefined, baseLearningRate: 0.5 });
    exp.state.epochs = 4;
    exp.state.stepsPerEpoch = 10;
    exp.runDir = '/some/run';
    expect(exp.run).toMatchObject({ epochs: 4, stepsPerEpoch: 10, totalSteps: 40, runDir: '/some/run' });
    expect(Object.isFrozen(exp.run)).toBe(true);
    expect(exp.state.totalSteps).toBe(40);

    const reader = new Reader();
    await exp.fit(batches(2), { epochs: 1, batchSize: 2, callbacks: [reader] });
    const during = reader.seen[0].ctx;
    // after the fit: a new object with that fit's arguments (and the runDir the hook set)
    expect(exp.run).not.toBe(during);
    expect(exp.run).toMatchObject({ epochs: 1, batchSize: 2, runDir: '/elsewhere' });
  });

  it('rejects a runDir that is not a path, and a bad batchSize, before any hook runs', async () => {
    const exp = new Method({});
    const reader = new Reader();
    (exp as { runDir: unknown }).runDir = { dir: '/tmp/x' };
    await expect(exp.fit(batches(1), { epochs: 1, callbacks: [reader] })).rejects.toThrow('runDir must be a path string, got object (createRunDir returns { dir }: assign its .dir)');
    exp.runDir = '';
    await expect(exp.fit(batches(1), { epochs: 1, batchSize: 0, callbacks: [reader] })).rejects.toThrow('fit: batchSize must be a positive integer, got 0');
    expect(reader.seen).toEqual([]);
    // an empty runDir is none
    await exp.fit(batches(1), { epochs: 1, callbacks: [reader] });
    expect(reader.seen[0].values.runDir).toBeUndefined();
  });
});
