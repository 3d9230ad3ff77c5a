import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'packages/cli/dist/bin.js');
const tiny = path.join(root, 'examples/configs/tiny.yaml');
const args = (out: string) => ['train', tiny, '--out', out, '--backend', 'wasm', '--no-baselines', '--set', 'trainer.epochs=3'];

/** Every row of a finished run's metrics.jsonl (a torn line is an error here). */
const allRows = (runDir: string) =>
  fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const epochRows = (runDir: string) => allRows(runDir).filter((r) => r.type === 'epoch');
/**
 * The complete rows of a metrics.jsonl that a live process is appending to, or that a killed
 * one left: everything up to the last newline (a reader can see half a row).
 */
const completeEpochRows = (runDir: string) => {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
};

describe('selfsup train --resume after a kill', () => {
  it('continues from the last checkpoint and reproduces the uninterrupted run', async () => {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run npm test (it builds first)`);
    const outA = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-full-'));
    const full = spawnSync(process.execPath, [bin, ...args(outA)], { cwd: root, encoding: 'utf8' });
    expect(full.status, full.stderr).toBe(0);
    const reference = epochRows(path.join(outA, 'tiny/version_0'));
    expect(reference).toHaveLength(3);

    const outB = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-killed-'));
    const runDir = path.join(outB, 'tiny/version_0');
    const child = spawn(process.execPath, [bin, ...args(outB)], { cwd: root, stdio: 'ignore' });
    let running = true;
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => {
      running = false;
      resolve(sig);
    }));
    // kill it as soon as the first epoch's checkpoint is complete and its metrics row written
    // (a kill between the two loses that one row: the checkpoint's History still has it)
    const meta = path.join(runDir, 'checkpoints/last/meta.json');
    const epochLogged = () => completeEpochRows(runDir).length > 0;
    const deadline = Date.now() + 180_000;
    while (running && Date.now() < deadline && !(fs.existsSync(meta) && epochLogged())) await new Promise((r) => setTimeout(r, 50));
    expect(running, 'the training process ended before it could be killed').toBe(true);
    expect(fs.existsSync(meta)).toBe(true);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(completeEpochRows(runDir).length).toBeLessThan(3);

    // Resuming is not a config setting: the run's config.resolved.yaml holds none. One that an
    // older selfsup resumed holds callbacks[checkpoint].resumeFrom: ignored and dropped.
    const resolvedFile = path.join(runDir, 'config.resolved.yaml');
    const resolvedYaml = fs.readFileSync(resolvedFile, 'utf8');
    expect(resolvedYaml).not.toMatch(/resume/i);
    const withOldResume = resolvedYaml.replace(/\n  - name: checkpoint\n/, `$&    resumeFrom: ${path.join(outB, 'no-such-checkpoint')}\n`);
    expect(withOldResume).toMatch(/resumeFrom: /);
    fs.writeFileSync(resolvedFile, withOldResume);

    // --backend is recorded like a --set, so a plain --resume continues on the run's backend
    expect(resolvedYaml).toMatch(/^trainer:\n(?:  .*\n)*?  backend: wasm\n/m);

    // a run that trained on other arithmetic (its env.json says so) is refused before anything
    // is written, with the flag that keeps it and the one that switches on purpose
    const envFile = path.join(runDir, 'env.json');
    const env = JSON.parse(fs.readFileSync(envFile, 'utf8'));
    expect(env.backend).toBe('wasm');
    fs.writeFileSync(envFile, JSON.stringify({ ...env, backend: 'cpu' }));
    const metaBefore = fs.readFileSync(meta, 'utf8');
    const metricsBefore = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
    const refused = spawnSync(process.execPath, [bin, 'train', '--resume', runDir], { cwd: root, encoding: 'utf8' });
    expect(refused.status, refused.stderr).toBe(2);
    const last = refused.stderr.trimEnd().split('\n').at(-1)!;
    expect(last).toContain(`--resume ${runDir}: this run trained on cpu (${envFile}), and this machine selected wasm`);
    expect(last).toContain('Add --backend cpu to continue as it started, or --backend wasm to switch on purpose');
    expect(refused.stderr).not.toMatch(/^\s+at /m);
    expect(fs.readFileSync(meta, 'utf8')).toBe(metaBefore);
    expect(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')).toBe(metricsBefore);
    expect(JSON.parse(fs.readFileSync(envFile, 'utf8')).backend).toBe('cpu');

    // --backend wasm switches on purpose (back to what really ran: the rows below still match)
    const resumed = spawnSync(process.execPath, [bin, 'train', '--resume', runDir, '--backend', 'wasm'], { cwd: root, encoding: 'utf8' });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`selfsup: --resume: this run trained on cpu (${envFile}); it continues on wasm`);
    expect(JSON.parse(fs.readFileSync(envFile, 'utf8')).backend).toBe('wasm');
    expect(resumed.stdout).toMatch(/resumed from .*checkpoints\/last: epoch \d+, step \d+/);
    expect(fs.readFileSync(resolvedFile, 'utf8')).not.toMatch(/resume/i);
    expect(fs.readFileSync(resolvedFile, 'utf8')).toBe(resolvedYaml);
    const got = epochRows(runDir);
    expect(got.map((r) => r.epoch)).toEqual([0, 1, 2]);
    // rows logged after the checkpoint were dropped on resume: each step and epoch once, same values
    const strip = (r: Record<string, unknown>) => ({ type: r.type, epoch: r.epoch, step: r.step, loss: Number(r.loss).toFixed(6) });
    expect(allRows(runDir).map(strip)).toEqual(allRows(path.join(outA, 'tiny/version_0')).map(strip));
    const csvLines = (d: string) => fs.readFileSync(path.join(d, 'metrics.csv'), 'utf8').trim().split('\n').length;
    expect(csvLines(runDir)).toBe(csvLines(path.join(outA, 'tiny/version_0')));
    for (let e = 0; e < 3; e++) {
      expect(got[e].step).toBe(reference[e].step);
      expect(got[e].loss).toBeCloseTo(reference[e].loss, 6);
      expect(got[e].knn_acc).toBeCloseTo(reference[e].knn_acc, 6);
    }
  }, 300_000);
});
