/**
 * What the in-process resume tests share (test/resume.test.ts for BYOL, test/moco-resume.test.ts
 * for MoCo, test/checkpoint-v1.test.ts for old checkpoints): the tiny run of ./tiny-byol with
 * its callbacks and a recorder of per-step losses, a run interrupted at an epoch boundary or
 * mid-epoch and resumed from its checkpoint by a fresh experiment, and the checks that the
 * resumed run is the uninterrupted one.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CallbackOrder,
  captureExperimentState,
  disposeSnapshot,
  onBatchEnd,
  onEpochEnd,
  readCheckpointMeta,
  type Callback,
  type FitOptions,
  type HistoryJSON,
  type ImageBatch,
  type SnapshotMeta,
} from '@selfsup/core';
import { CheckpointCallback, EmaUpdateCallback, LrSchedulerCallback, TargetInitCallback } from '@selfsup/callbacks';
import type { SslExperiment } from '@selfsup/ssl';
import { useBackend } from './backend';
import { EPOCHS, images, STEPS } from './tiny-byol';

/** [globalStep, loss] at every step. */
export type Losses = Array<[number, number]>;
type AnySslExperiment = SslExperiment<any, any>;

/**
 * The file's setup: the cpu backend, and a temporary folder (removed after the file) that the
 * returned function names.
 */
export function cpuAndTempDir(prefix: string): () => string {
  let tmp = '';
  beforeAll(async () => {
    await useBackend('cpu');
  });
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  return () => tmp;
}

/** The tiny run's callbacks (target init, EMA, LR schedule), one that records `losses`, then `extra`. */
export function tinyCallbacks(losses: Losses, extra: Callback[] = []): Callback[] {
  const record = onBatchEnd({ name: 'losses' })(async (e) => {
    losses.push([e.state.globalStep, (await e.state.logs.get('loss'))!]);
  });
  return [new TargetInitCallback(), new EmaUpdateCallback({ tauBase: 0.9 }), new LrSchedulerCallback({ warmupSteps: 2 }), record, ...extra];
}

/** `exp` trained on the tiny run's batches (EPOCHS × STEPS, a log row a step), its losses recorded. */
export function fitTiny(exp: AnySslExperiment, losses: Losses, extra: Callback[] = [], opts: Partial<FitOptions<ImageBatch | tf.Tensor4D>> = {}) {
  return exp.fit(images, { epochs: EPOCHS, stepsPerEpoch: STEPS, logEvery: 1, ...opts, callbacks: tinyCallbacks(losses, extra) });
}

/** Every tensor of the experiment's state (weights, optimizer slots, buffers), keyed by position (tfjs variable names differ between experiments). */
export async function stateTensors(exp: AnySslExperiment): Promise<Record<string, number[]>> {
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

/** Where a run is interrupted: after an epoch (0-based), or at a global step. */
export type Interruption = { stopAfterEpoch: number } | { stopAtStep: number };
/** The two interruptions the resume tests run, with the counters their checkpoints hold. */
export const INTERRUPTIONS = [
  ['at an epoch boundary', { stopAfterEpoch: 0 }],
  ['mid-epoch', { stopAtStep: 4 }],
] as const satisfies ReadonlyArray<readonly [string, Interruption]>;
const COUNTERS_AT = (how: Interruption) =>
  'stopAfterEpoch' in how ? { epoch: 1, globalStep: 3, batchIndex: 0 } : { epoch: 1, globalStep: 4, batchIndex: 1 };

/** A callback that stops the run where `how` says. */
export function stopper(how: Interruption): Callback {
  return 'stopAfterEpoch' in how
    ? onEpochEnd({ name: 'stop', order: CallbackOrder.STOPPING })((e) => { if (e.state.epoch === how.stopAfterEpoch) e.stop('interrupted'); })
    : onBatchEnd({ name: 'stop' })((e) => { if (e.state.globalStep === how.stopAtStep) e.stop('interrupted'); });
}

export interface ResumedRun<E extends AnySslExperiment> {
  /** The uninterrupted run and its losses. */
  straight: E;
  ref: Losses;
  /** The interrupted run's losses, and the checkpoint it left. */
  first: Losses;
  meta: SnapshotMeta;
  /** The fresh experiment resumed from that checkpoint, its losses and numTensors at each step. */
  resumed: E;
  after: Losses;
  counts: number[];
}

/**
 * Trains `make()` straight through; trains another, interrupted where `how` says with a
 * checkpoint in `dir` (`interrupted` sees it before it is disposed), and resumes a third from
 * that checkpoint. Checks the run lengths and the checkpoint's counters. The caller disposes
 * `straight` and `resumed`.
 */
export async function interruptAndResume<E extends AnySslExperiment>(
  make: () => E,
  how: Interruption,
  dir: string,
  interrupted: (exp: E, meta: SnapshotMeta) => void = () => undefined,
): Promise<ResumedRun<E>> {
  const ref: Losses = [];
  const straight = make();
  await fitTiny(straight, ref);
  expect(ref).toHaveLength(EPOCHS * STEPS);

  const first: Losses = [];
  const a = make();
  await fitTiny(a, first, [new CheckpointCallback({ dir, monitor: 'loss', mode: 'min' }, { warn: () => undefined }), stopper(how)]);
  const meta = await readCheckpointMeta(path.join(dir, 'last'));
  expect(meta.counters).toEqual(COUNTERS_AT(how));
  interrupted(a, meta);
  a.dispose();

  const after: Losses = [];
  const resumed = make();
  const counts: number[] = [];
  const count = onBatchEnd({ name: 'count', order: CallbackOrder.EXTERNAL })(() => { counts.push(tf.memory().numTensors); });
  await fitTiny(resumed, after, [new CheckpointCallback({ dir, monitor: 'loss', mode: 'min', resumeFrom: dir }, { log: () => undefined }), count]);
  return { straight, ref, first, meta, resumed, after, counts };
}

/**
 * The resumed run is the uninterrupted one: the same losses from the checkpoint's step on,
 * every tensor of its state (weights, optimizer slots, buffers) and the views' generator, and
 * a flat tensor count.
 */
export async function expectExactResume(run: ResumedRun<AnySslExperiment>): Promise<void> {
  const at = run.meta.counters;
  expect(run.first).toEqual(run.ref.slice(0, at.globalStep));
  expect(run.after[0][0]).toBe(at.globalStep + 1);
  expect(run.after).toEqual(run.ref.slice(at.globalStep));
  expect(await stateTensors(run.resumed)).toEqual(await stateTensors(run.straight));
  expect(run.resumed.augmentRng.getState()).toEqual(run.straight.augmentRng.getState());
  expect(new Set(run.counts.slice(1)).size).toBe(1);
}

/** Histories alike: the same epochs and columns, values to 6 places (a mid-epoch resume merges the partial row with the rest of the epoch: same mean, other rounding). */
export function expectHistoryClose(got: HistoryJSON, want: HistoryJSON): void {
  expect(got.epoch).toEqual(want.epoch);
  expect(Object.keys(got.history).sort()).toEqual(Object.keys(want.history).sort());
  for (const [k, col] of Object.entries(want.history)) {
    got.history[k].forEach((v, i) => expect(v, `${k}[${i}]`).toBeCloseTo(col[i], 6));
  }
}
