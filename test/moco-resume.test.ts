/**
 * Exact resume of a MoCo run: the queue of keys and its pointer are training state
 * (`exp.buffers()`), so a run interrupted at an epoch boundary or mid-epoch and resumed by a
 * fresh experiment from its checkpoint reproduces the uninterrupted run's per-step losses, and
 * ends with the same weights, optimizer slots, queue and pointer, bit for bit. A resume that
 * loses the queue gives other losses (the check can fail). Mirrors test/resume.test.ts (BYOL).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CallbackOrder, captureExperimentState, disposeSnapshot, onBatchEnd, onEpochEnd, readCheckpointMeta, type Callback } from '@selfsup/core';
import { CheckpointCallback, EmaUpdateCallback, LrSchedulerCallback, TargetInitCallback } from '@selfsup/callbacks';
import { MoCoExperiment } from '@selfsup/moco';
import { useBackend } from './helpers/backend';
import { encoder, EPOCHS, IMAGE, images, STEPS } from './helpers/tiny-byol';

beforeAll(async () => {
  await useBackend('cpu');
});

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-moco-resume-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A queue of 6 keys per view at batch 4: the pointer goes 4, 2 (wrapped), 0, 4, 2, 0; the queue is full from step 2. */
const moco = (Method: typeof MoCoExperiment = MoCoExperiment) =>
  new Method({
    inputShape: IMAGE,
    batchSize: 4,
    seed: 3,
    encoder: encoder(),
    model: { projectorHiddenDim: 16, projectorDim: 8 },
    optimizer: { name: 'sgd', lr: 0.1, scaleLr: false, momentum: 0.9 },
    loss: { queueSize: 6, temperature: 0.2 },
  });

function run(exp: MoCoExperiment, extra: Callback[], losses: Array<[number, number]>) {
  const record = onBatchEnd({ name: 'losses' })(async (e) => {
    losses.push([e.state.globalStep, (await e.state.logs.get('loss'))!]);
  });
  return exp.fit(images, {
    epochs: EPOCHS,
    stepsPerEpoch: STEPS,
    logEvery: 1,
    callbacks: [new TargetInitCallback(), new EmaUpdateCallback({ tauBase: 0.9 }), new LrSchedulerCallback({ warmupSteps: 2 }), record, ...extra],
  });
}

/** Every tensor of the experiment's state, keyed by position (tfjs variable names differ between experiments). */
async function state(exp: MoCoExperiment): Promise<Record<string, number[]>> {
  const snap = await captureExperimentState(exp);
  const out: Record<string, number[]> = {};
  for (const [model, ws] of Object.entries(snap.meta.models)) {
    for (const [i, w] of ws.entries()) out[`${model}/${i}`] = Array.from(await snap.tensors[w.key].data());
  }
  for (const w of snap.meta.optimizer!.weights) {
    out[w.model === undefined ? w.name : `slot ${w.model}/${w.index}/${w.suffix}`] = Array.from(await snap.tensors[w.key].data());
  }
  for (const [name, b] of Object.entries(snap.meta.buffers)) out[`buffer ${name}`] = Array.from(await snap.tensors[b.key].data());
  expect(Object.keys(out)).toHaveLength(Object.keys(snap.tensors).length);
  disposeSnapshot(snap);
  return out;
}

describe('exact resume of a MoCo run (in-process): the queue is checkpointed', () => {
  it.each([
    ['at an epoch boundary', { stopAfterEpoch: 0 }],
    ['mid-epoch', { stopAtStep: 4 }],
  ] as const)('interrupted %s, resumed by a fresh experiment: same losses, weights, optimizer slots, queue and pointer', async (label, how) => {
    const ref: Array<[number, number]> = [];
    const straight = moco();
    await run(straight, [], ref);
    expect(ref).toHaveLength(EPOCHS * STEPS);
    // the queue was full and wrapped: 6 steps × 4 keys through 6 slots
    expect(straight.queue.pointer.dataSync()[0]).toBe((EPOCHS * STEPS * 4) % 6);

    const dir = path.join(tmp, label.replace(/\W+/g, '-'));
    const first: Array<[number, number]> = [];
    const a = moco();
    const stop =
      'stopAfterEpoch' in how
        ? onEpochEnd({ name: 'stop', order: CallbackOrder.STOPPING })((e) => { if (e.state.epoch === how.stopAfterEpoch) e.stop('interrupted'); })
        : onBatchEnd({ name: 'stop' })((e) => { if (e.state.globalStep === how.stopAtStep) e.stop('interrupted'); });
    await run(a, [new CheckpointCallback({ dir, monitor: 'loss', mode: 'min' }, { warn: () => undefined }), stop], first);
    const meta = await readCheckpointMeta(path.join(dir, 'last'));
    const at = meta.counters;
    expect(at).toEqual('stopAfterEpoch' in how ? { epoch: 1, globalStep: 3, batchIndex: 0 } : { epoch: 1, globalStep: 4, batchIndex: 1 });
    expect(meta.buffers.queue).toMatchObject({ shape: [2, 6, 8], dtype: 'float32' });
    expect(meta.buffers.queue_ptr).toMatchObject({ shape: [], dtype: 'int32' });
    // where the pointer was: 0 after 3 steps (a full queue, written over once), 4 after 4
    expect(a.queue.pointer.dataSync()[0]).toBe((at.globalStep * 4) % 6);
    a.dispose();

    const resumed: Array<[number, number]> = [];
    const b = moco();
    const counts: number[] = [];
    const count = onBatchEnd({ name: 'count', order: CallbackOrder.EXTERNAL })(() => { counts.push(tf.memory().numTensors); });
    await run(b, [new CheckpointCallback({ dir, monitor: 'loss', mode: 'min', resumeFrom: dir }, { log: () => undefined }), count], resumed);

    expect(first).toEqual(ref.slice(0, at.globalStep));
    expect(resumed[0][0]).toBe(at.globalStep + 1);
    expect(resumed).toEqual(ref.slice(at.globalStep));
    // every weight (query, key, BN statistics), every SGD slot, the queue and its pointer
    expect(await state(b)).toEqual(await state(straight));
    expect(b.augmentRng.getState()).toEqual(straight.augmentRng.getState());
    expect(new Set(counts.slice(1)).size).toBe(1);
    straight.dispose();
    b.dispose();
  });

  it('a resume that does not restore the queue continues with other losses', async () => {
    const ref: Array<[number, number]> = [];
    const straight = moco();
    await run(straight, [], ref);
    const dir = path.join(tmp, 'forgetful');
    const a = moco();
    const stop = onBatchEnd({ name: 'stop' })((e) => { if (e.state.globalStep === 4) e.stop('interrupted'); });
    await run(a, [new CheckpointCallback({ dir, monitor: 'loss', mode: 'min' }, { warn: () => undefined }), stop], []);
    a.dispose();

    // the same method, except that its queue is not declared as state: the checkpoint's is dropped
    class Forgetful extends MoCoExperiment {
      override buffers(): Record<string, tf.Variable> {
        return {};
      }
    }
    const b = moco(Forgetful);
    const resumed: Array<[number, number]> = [];
    const warnings: string[] = [];
    await b.restore(dir, { warn: (m) => warnings.push(m) });
    await run(b, [], resumed);
    expect(warnings.join('\n')).toMatch(/holds buffer\(s\) "queue", "queue_ptr", which Forgetful does not declare/);
    expect(resumed.map(([s]) => s)).toEqual(ref.slice(4).map(([s]) => s));
    expect(resumed).not.toEqual(ref.slice(4));
    straight.dispose();
    b.dispose();
  });
});
