/**
 * Exact resume in one process with the real BYOL experiment: a run interrupted (at an epoch
 * boundary, or mid-epoch) and resumed from its checkpoint by a fresh experiment reproduces
 * the uninterrupted run's per-step losses, final weights (online, target, BN statistics)
 * and optimizer slots bit for bit. (test/resume-kill.test.ts does the same across a SIGKILL.)
 */
import { describe, it } from 'vitest';
import * as path from 'node:path';
import { byol } from './helpers/tiny-byol';
import { cpuAndTempDir, expectExactResume, expectHistoryClose, interruptAndResume, INTERRUPTIONS } from './helpers/resume';

const tmp = cpuAndTempDir('selfsup-resume-');

describe('exact resume of a BYOL run (in-process)', () => {
  it.each(INTERRUPTIONS)('interrupted %s, resumed by a fresh experiment: same losses, weights and optimizer slots', async (label, how) => {
    const run = await interruptAndResume(byol, how, path.join(tmp(), label.replace(/\W+/g, '-')));
    // the same losses from the checkpoint on; every weight (online, target, BN statistics),
    // every LARS slot and the step counter
    await expectExactResume(run);
    // one History row per epoch, with the whole epoch's means (a mid-epoch resume merges the
    // checkpoint's partial row with the rest of the epoch, weighted by steps)
    expectHistoryClose(run.resumed.history, run.straight.history);
    run.straight.dispose();
    run.resumed.dispose();
  });
});
