/**
 * Checkpoints written before the loop owned resume (format version 1, by commit 98541ce:
 * test/fixtures/checkpoint-v1, made by its make.cjs) still resume, and the resumed run
 * continues exactly as the uninterrupted run did then: the same per-step losses, read from
 * the fixture's reference.json (written by that code, not by this one).
 */
import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CallbackOrder,
  CHECKPOINT_VERSION,
  decodeNonFiniteJson,
  disposeSnapshot,
  loadCheckpoint,
  onExperimentStart,
  readCheckpointMeta,
  type HistoryJSON,
} from '@selfsup/core';
import { CheckpointCallback } from '@selfsup/callbacks';
import { byol, EPOCHS, STEPS } from './helpers/tiny-byol';
import { cpuAndTempDir, expectHistoryClose, fitTiny, type Losses } from './helpers/resume';

const FIXTURES = path.join(__dirname, 'fixtures', 'checkpoint-v1');

const tmp = cpuAndTempDir('selfsup-checkpoint-v1-');

const reference = decodeNonFiniteJson(JSON.parse(fs.readFileSync(path.join(FIXTURES, 'reference.json'), 'utf8'))) as {
  losses: Array<[number, number]>;
  history: HistoryJSON;
};

describe('version-1 checkpoints (written by the code before the loop owned resume)', () => {
  it('the fixtures are version 1 and hold what make.cjs says', async () => {
    const boundary = await readCheckpointMeta(path.join(FIXTURES, 'epoch-boundary'));
    const mid = await readCheckpointMeta(path.join(FIXTURES, 'mid-epoch'));
    expect([boundary.version, mid.version]).toEqual([1, 1]);
    expect(boundary.counters).toEqual({ epoch: 1, globalStep: 3, batchIndex: 0 });
    expect(mid.counters).toEqual({ epoch: 1, globalStep: 4, batchIndex: 1 });
    // read in this build's shape
    expect(mid.callbackRngs).toEqual({});
    expect(mid.buffers).toEqual({});
    expect(Object.keys(mid.rngs).sort()).toEqual(['augmentRng', 'rng']);
  });

  it('this build, uninterrupted, still trains exactly as the build that wrote them', async () => {
    const losses: Losses = [];
    const exp = byol();
    const history = await fitTiny(exp, losses);
    expect(losses).toEqual(reference.losses);
    expect(history.toJSON()).toEqual(reference.history);
    exp.dispose();
  });

  it.each([
    ['epoch-boundary', 3],
    ['mid-epoch', 4],
  ] as const)('%s: fit(data, { resumeFrom }) continues with the uninterrupted run\'s losses', async (name, at) => {
    const losses: Losses = [];
    const exp = byol();
    const dir = path.join(tmp(), name);
    const ckpt = new CheckpointCallback({ dir, monitor: 'loss', mode: 'min' }, { log: () => undefined });
    let bestAtStart: number | undefined;
    const peek = onExperimentStart({ name: 'peek', order: CallbackOrder.WEIGHT_UPDATE })(() => { bestAtStart = ckpt.best; });
    const history = await fitTiny(exp, losses, [ckpt, peek], { resumeFrom: path.join(FIXTURES, name) });
    expect(exp.resumedFrom?.meta.counters.globalStep).toBe(at);
    expect(losses).toEqual(reference.losses.slice(at));
    expectHistoryClose(history.toJSON(), reference.history);
    // the callbacks' state came back too (the checkpoint callback's best value)
    const saved = (await readCheckpointMeta(path.join(FIXTURES, name))).callbacks.checkpoint;
    expect(bestAtStart).toBe(saved.best);
    // and what it writes now is the current version, resumable in turn
    const written = await readCheckpointMeta(path.join(dir, 'last'));
    expect(written.version).toBe(CHECKPOINT_VERSION);
    expect(written.counters).toEqual({ epoch: 2, globalStep: EPOCHS * STEPS, batchIndex: 0 });
    exp.dispose();
  });

  it('exp.restore(dir) before fit: the target network is restored after target-init built it', async () => {
    const exp = byol();
    const warnings: string[] = [];
    const meta = await exp.restore(path.join(FIXTURES, 'mid-epoch'), { warn: (m) => warnings.push(m) });
    expect(meta.counters).toEqual({ epoch: 1, globalStep: 4, batchIndex: 1 });
    // nothing restored yet: the target network does not exist before fit
    expect(exp.state.globalStep).toBe(0);
    expect(exp.targetEncoder).toBeUndefined();
    let seen: { step: number; target: number[] } | undefined;
    const peek = onExperimentStart({ name: 'peek', order: CallbackOrder.WEIGHT_UPDATE })((e) => {
      seen = { step: e.state.globalStep, target: Array.from(exp.targetEncoder!.getWeights()[0].dataSync()) };
    });
    const losses: Losses = [];
    await fitTiny(exp, losses, [peek]);
    const snap = await loadCheckpoint(path.join(FIXTURES, 'mid-epoch'));
    const savedTarget = Array.from(snap.tensors[snap.meta.models.target_encoder[0].key].dataSync());
    const savedOnline = Array.from(snap.tensors[snap.meta.models.online_encoder[0].key].dataSync());
    disposeSnapshot(snap);
    expect(seen!.step).toBe(4);
    expect(savedTarget).not.toEqual(savedOnline);
    expect(seen!.target).toEqual(savedTarget);
    expect(losses).toEqual(reference.losses.slice(4));
    // this run has no checkpoint callback: its saved state is reported as dropped
    expect(warnings).toEqual([expect.stringMatching(/state for callback "checkpoint", which is not registered in this run/)]);
    exp.dispose();
  });
});
