/**
 * examples/configs/<method>-fashion-mnist.yaml for every method besides BYOL: each resolves
 * the way the CLI resolves it (method registered by name, its own loss: section validated), has
 * the BYOL main job's backbone, and trains 2 steps through the CLI's train() into a run
 * directory with an exported encoder and a checkpoint holding the method's buffers (MoCo's queue).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile, readCheckpointMeta, resolveConfig } from '@selfsup/core';
import { train } from '@selfsup/cli';

const ROOT = path.resolve(__dirname, '..');
const config = (name: string) => path.join(ROOT, 'examples/configs', `${name}-fashion-mnist.yaml`);
const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** `buffers`: the state besides weights its checkpoints hold (exp.buffers()). */
const METHODS: Array<{ method: string; loss: Record<string, unknown> | undefined; logs: string[]; buffers: string[] }> = [
  { method: 'simclr', loss: { temperature: 0.2 }, logs: ['z_std'], buffers: [] },
  { method: 'vicreg', loss: { invariance: 25, variance: 25, covariance: 1 }, logs: ['z_std', 'vicreg_inv', 'vicreg_var', 'vicreg_cov'], buffers: [] },
  { method: 'barlow-twins', loss: { lambda: 5e-3, scale: 0.024 }, logs: ['z_std', 'bt_on_diag', 'bt_off_diag'], buffers: [] },
  { method: 'simsiam', loss: undefined, logs: ['z_std'], buffers: [] },
  { method: 'moco', loss: { temperature: 0.2, queueSize: 4096, queueInit: 'empty' }, logs: ['z_std', 'moco_pos', 'moco_neg', 'tau'], buffers: ['queue', 'queue_ptr'] },
];

describe.each(METHODS)('examples/configs/$method-fashion-mnist.yaml', ({ method, loss, logs, buffers }) => {
  it('resolves: the method by name, the BYOL main job backbone, the loss section', async () => {
    const byol = await resolveConfig(loadConfigFile(config('byol')), { file: config('byol') });
    const r = await resolveConfig(loadConfigFile(config(method)), { file: config(method) });
    expect(r.method.name).toBe(method);
    const m = (r.methodConfig as { model: Record<string, unknown> }).model;
    const b = (byol.methodConfig as { model: Record<string, unknown> }).model;
    expect({ backbone: m.backbone, stem: m.stem, width: m.width }).toEqual({ backbone: b.backbone, stem: b.stem, width: b.width });
    if (loss) expect((r.methodConfig as { loss: object }).loss).toMatchObject(loss);
    expect(r.root.trainer).toMatchObject({ epochs: byol.root.trainer.epochs, batchSize: byol.root.trainer.batchSize });
  });

  it('trains 2 steps through the CLI, logging the collapse metric', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), `selfsup-${method}-`));
    tmpDirs.push(out);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let result;
    try {
      result = await train({
        config: config(method),
        overrides: ['trainer.batchSize=16', 'data.limit=64', 'val.limit=64', 'model.width=0.0625', 'model.projectorHiddenDim=32', 'model.projectorDim=16'],
        maxSteps: 2,
        backend: 'wasm',
        out,
        io: { out: () => {}, err: () => {} },
      });
    } finally {
      stderr.mockRestore();
    }
    expect(result.history.loss).toHaveLength(1);
    expect(Number.isFinite(result.history.loss[0])).toBe(true);
    for (const k of logs) expect(Number.isFinite(result.history[k]?.[0]), k).toBe(true);
    expect(fs.existsSync(path.join(result.runDir, 'export/encoder/model.json'))).toBe(true);
    const resolved = fs.readFileSync(path.join(result.runDir, 'config.resolved.yaml'), 'utf8');
    expect(resolved).toMatch(new RegExp(`^method: ${method}$`, 'm'));
    const meta = await readCheckpointMeta(path.join(result.runDir, 'checkpoints', 'last'));
    expect(Object.keys(meta.buffers).sort()).toEqual(buffers);
  });
});
