/**
 * Exact resume in one process with the real BYOL experiment: a run interrupted (at an epoch
 * boundary, or mid-epoch) and resumed from its checkpoint by a fresh experiment reproduces
 * the uninterrupted run's per-step losses, final weights (online, target, BN statistics)
 * and optimizer slots bit for bit. (test/resume-kill.test.ts does the same across a SIGKILL.)
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CallbackOrder, captureExperimentState, disposeSnapshot, onBatchEnd, onEpochEnd, readCheckpointMeta, type Callback } from '@selfsup/core';
import { CheckpointCallback, EmaUpdateCallback, LrSchedulerCallback, TargetInitCallback } from '@selfsup/callbacks';
import { ByolExperiment } from '@selfsup/byol';
import { useBackend } from './helpers/backend';
import { byol, EPOCHS, images, STEPS } from './helpers/tiny-byol';

beforeAll(async () => {
  await useBackend('cpu');
});

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-resume-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


function run(exp: ByolExperiment, extra: Callback[], losses: Array<[number, number]>) {
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

async function state(exp: ByolExperiment): Promise<Record<string, number[]>> {
  const snap = await captureExperimentState(exp);
  const out: Record<string, number[]> = {};
  // tensor keys carry tfjs variable names, which differ between experiments: key by position
  for (const [model, ws] of Object.entries(snap.meta.models)) {
    for (const [i, w] of ws.entries()) out[`${model}/${i}`] = Array.from(await snap.tensors[w.key].data());
  }
  for (const w of snap.meta.optimizer!.weights) {
    out[w.model === undefined ? w.name : `slot ${w.model}/${w.index}/${w.suffix}`] = Array.from(await snap.tensors[w.key].data());
  }
  expect(Object.keys(out)).toHaveLength(Object.keys(snap.tensors).length);
  disposeSnapshot(snap);
  return out;
}

describe('exact resume of a BYOL run (in-process)', () => {
  it.each([
    ['at an epoch boundary', { stopAfterEpoch: 0 }],
    ['mid-epoch', { stopAtStep: 4 }],
  ] as const)('interrupted %s, resumed by a fresh experiment: same losses, weights and optimizer slots', async (_label, how) => {
    const ref: Array<[number, number]> = [];
    const straight = byol();
    await run(straight, [], ref);
    expect(ref).toHaveLength(EPOCHS * STEPS);

    const dir = path.join(tmp, _label.replace(/\W+/g, '-'));
    const first: Array<[number, number]> = [];
    const a = byol();
    const stop =
      'stopAfterEpoch' in how
        ? onEpochEnd({ name: 'stop', order: CallbackOrder.STOPPING })((e) => { if (e.state.epoch === how.stopAfterEpoch) e.stop('interrupted'); })
        : onBatchEnd({ name: 'stop' })((e) => { if (e.state.globalStep === how.stopAtStep) e.stop('interrupted'); });
    await run(a, [new CheckpointCallback({ dir, monitor: 'loss', mode: 'min' }, { warn: () => undefined }), stop], first);
    const at = (await readCheckpointMeta(path.join(dir, 'last'))).counters;
    expect(at).toEqual('stopAfterEpoch' in how ? { epoch: 1, globalStep: 3, batchIndex: 0 } : { epoch: 1, globalStep: 4, batchIndex: 1 });
    a.dispose();

    const resumed: Array<[number, number]> = [];
    const b = byol();
    const counts: number[] = [];
    const count = onBatchEnd({ name: 'count', order: CallbackOrder.EXTERNAL })(() => { counts.push(tf.memory().numTensors); });
    await run(b, [new CheckpointCallback({ dir, monitor: 'loss', mode: 'min', resumeFrom: dir }, { log: () => undefined }), count], resumed);

    expect(first).toEqual(ref.slice(0, at.globalStep));
    expect(resumed[0][0]).toBe(at.globalStep + 1);
    expect(resumed).toEqual(ref.slice(at.globalStep));
    // every weight (online, target, BN statistics), every LARS slot and the step counter
    expect(await state(b)).toEqual(await state(straight));
    expect(b.augmentRng.getState()).toEqual(straight.augmentRng.getState());
    // one History row per epoch, with the whole epoch's means (a mid-epoch resume merges the
    // checkpoint's partial row with the rest of the epoch, weighted by steps)
    expect(b.history.epoch).toEqual(straight.history.epoch);
    expect(Object.keys(b.history.history).sort()).toEqual(Object.keys(straight.history.history).sort());
    for (const [k, col] of Object.entries(straight.history.history)) {
      b.history.history[k].forEach((v, i) => expect(v, `${k}[${i}]`).toBeCloseTo(col[i], 6));
    }
    expect(new Set(counts.slice(1)).size).toBe(1);
    straight.dispose();
    b.dispose();
  });
});
