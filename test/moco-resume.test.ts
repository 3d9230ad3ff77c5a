/**
 * Exact resume of a MoCo run: the queue of keys and its pointer are training state
 * (`exp.buffers()`), so a run interrupted at an epoch boundary or mid-epoch and resumed by a
 * fresh experiment from its checkpoint reproduces the uninterrupted run's per-step losses, and
 * ends with the same weights, optimizer slots, queue and pointer, bit for bit. A resume that
 * loses the queue gives other losses (the check can fail). The same run and checks as
 * test/resume.test.ts (BYOL): test/helpers/resume.ts.
 */
import { describe, it, expect } from 'vitest';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointCallback } from '@selfsup/callbacks';
import { MoCoExperiment } from '@selfsup/moco';
import { encoder, EPOCHS, IMAGE, STEPS } from './helpers/tiny-byol';
import { cpuAndTempDir, expectExactResume, fitTiny, interruptAndResume, INTERRUPTIONS, stopper, type Losses } from './helpers/resume';

const tmp = cpuAndTempDir('selfsup-moco-resume-');

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

describe('exact resume of a MoCo run (in-process): the queue is checkpointed', () => {
  it.each(INTERRUPTIONS)('interrupted %s, resumed by a fresh experiment: same losses, weights, optimizer slots, queue and pointer', async (label, how) => {
    const run = await interruptAndResume(() => moco(), how, path.join(tmp(), label.replace(/\W+/g, '-')), (a, meta) => {
      expect(meta.buffers.queue).toMatchObject({ shape: [2, 6, 8], dtype: 'float32' });
      expect(meta.buffers.queue_ptr).toMatchObject({ shape: [], dtype: 'int32' });
      // where the pointer was: 0 after 3 steps (a full queue, written over once), 4 after 4
      expect(a.queue.pointer.dataSync()[0]).toBe((meta.counters.globalStep * 4) % 6);
    });
    // the queue was full and wrapped: 6 steps × 4 keys through 6 slots
    expect(run.straight.queue.pointer.dataSync()[0]).toBe((EPOCHS * STEPS * 4) % 6);
    // the same losses from the checkpoint on; every weight (query, key, BN statistics), every
    // SGD slot, the queue and its pointer
    await expectExactResume(run);
    run.straight.dispose();
    run.resumed.dispose();
  });

  it('a resume that does not restore the queue continues with other losses', async () => {
    const ref: Losses = [];
    const straight = moco();
    await fitTiny(straight, ref);
    const dir = path.join(tmp(), 'forgetful');
    const a = moco();
    await fitTiny(a, [], [new CheckpointCallback({ dir, monitor: 'loss', mode: 'min' }, { warn: () => undefined }), stopper({ stopAtStep: 4 })]);
    a.dispose();

    // the same method, except that its queue is not declared as state: the checkpoint's is dropped
    class Forgetful extends MoCoExperiment {
      override buffers(): Record<string, tf.Variable> {
        return {};
      }
    }
    const b = moco(Forgetful);
    const resumed: Losses = [];
    const warnings: string[] = [];
    await b.restore(dir, { warn: (m) => warnings.push(m) });
    await fitTiny(b, resumed);
    expect(warnings.join('\n')).toMatch(/holds buffer\(s\) "queue", "queue_ptr", which Forgetful does not declare/);
    expect(resumed.map(([s]) => s)).toEqual(ref.slice(4).map(([s]) => s));
    expect(resumed).not.toEqual(ref.slice(4));
    straight.dispose();
    b.dispose();
  });
});
