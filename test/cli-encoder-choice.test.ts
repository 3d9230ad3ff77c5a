import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { disposeSnapshot, loadCheckpoint, loadLayersModelFromDir } from '@selfsup/core';
import { chooseEncoder, parseEncoderChoice } from '@selfsup/cli';

// The CLI as a user runs it: the built dist (npm test builds it first with tsc -b).
const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'packages/cli/dist/bin.js');
const tiny = path.join(root, 'examples/configs/tiny.yaml');

function selfsup(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const readJson = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));
const epochRows = (runDir: string) =>
  fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');

/** Every weight of a model in layer order (the order a checkpoint stores them in). */
const layerWeights = (m: tf.LayersModel) => m.layers.flatMap((l) => l.weights).map((w) => Array.from(w.read().dataSync()));

async function exportedWeights(dir: string): Promise<number[][]> {
  const m = await loadLayersModelFromDir(dir);
  const w = layerWeights(m);
  m.dispose();
  return w;
}

async function checkpointWeights(dir: string, model: string): Promise<number[][]> {
  const s = await loadCheckpoint(dir);
  const w = s.meta.models[model].map((e) => Array.from(s.tensors[e.key].dataSync()));
  disposeSnapshot(s);
  return w;
}

describe('export.encoder and --encoder', () => {
  let out: string;
  let best: string; // a run with the default export.encoder: best
  let target: string; // a run with export.encoder: target
  let trainBest: ReturnType<typeof selfsup>;
  let trainTarget: ReturnType<typeof selfsup>;

  beforeAll(async () => {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`npm test\` (it builds with tsc -b first)`);
    await tf.setBackend('cpu');
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-export-choice-'));
    trainBest = selfsup(['train', tiny, '--out', out, '--backend', 'wasm', '--set', 'name=best']);
    trainTarget = selfsup(['train', tiny, '--out', out, '--backend', 'wasm', '--no-baselines', '--set', 'name=target', '--set', 'trainer.epochs=1', '--set', 'export.encoder=target']);
    best = path.join(out, 'best', 'version_0');
    target = path.join(out, 'target', 'version_0');
  }, 300_000);

  it('chooseEncoder: best takes the higher kNN, online on ties and without a target or numbers', () => {
    expect(chooseEncoder('best', { online: 0.5, target: 0.6 }, true).encoder).toBe('target');
    expect(chooseEncoder('best', { online: 0.6, target: 0.5 }, true).encoder).toBe('online');
    expect(chooseEncoder('best', { online: 0.5, target: 0.5 }, true)).toEqual({ encoder: 'online', reason: 'export.encoder: best; kNN 0.5000 vs target 0.5000, online on ties' });
    expect(chooseEncoder('best', { online: 0.5 }, true).encoder).toBe('online');
    expect(chooseEncoder('best', { online: 0.5, target: 0.9 }, false).encoder).toBe('online');
    expect(chooseEncoder('online', { online: 0.1, target: 0.9 }, true).encoder).toBe('online');
    expect(chooseEncoder('target', { online: 0.9, target: 0.1 }, true).encoder).toBe('target');
    expect(() => chooseEncoder('target', {}, false)).toThrow('export.encoder = "target": the method has no target encoder');
    expect(parseEncoderChoice(undefined)).toBeUndefined();
    expect(() => parseEncoderChoice('ema')).toThrow('--encoder must be online or target, got "ema"');
  });

  it('default best: logs knn_acc_target, exports the encoder with the higher final kNN, and the summary says which', async () => {
    expect(trainBest.code, trainBest.err).toBe(0);
    const last = epochRows(best).pop();
    expect(last.knn_acc_target).toBeGreaterThan(0);
    const summary = readJson(path.join(best, 'summary.json'));
    expect(summary.knn).toMatchObject({ trained: last.knn_acc, target: last.knn_acc_target });
    const which = last.knn_acc_target > last.knn_acc ? 'target' : 'online';
    expect(summary.exportedEncoder).toBe(which);
    expect(summary.exportReason).toMatch(/^export\.encoder: best; kNN /);
    // the four lines (format kept), then which one was exported
    expect(trainBest.out).toMatch(/raw pixels +0\.\d{4}\n +untrained encoder +0\.\d{4}\n +byol encoder +0\.\d{4}\n +byol target encoder +0\.\d{4}\nexported: the byol (target )?encoder \(export\.encoder: best; /);
    expect(trainBest.out).toContain(`  byol encoder         ${last.knn_acc.toFixed(4)}\n  byol target encoder  ${last.knn_acc_target.toFixed(4)}`);
    expect(trainBest.out).toContain(`exported: the byol ${which === 'target' ? 'target ' : ''}encoder`);
    // the export holds that network's final weights (= the last checkpoint's)
    const exported = await exportedWeights(path.join(best, 'export', 'encoder'));
    expect(exported).toEqual(await checkpointWeights(path.join(best, 'checkpoints', 'last'), `${which}_encoder`));
    const resolved = fs.readFileSync(path.join(best, 'config.resolved.yaml'), 'utf8');
    expect(resolved).toMatch(/\nexport:\n {2}encoder: best\n/);
    expect(resolved).toMatch(/- name: knn-eval\n(?: {4}.*\n)* {4}target: auto\n/);
  });

  it('export.encoder: target exports the target weights (not frozen), different from the online ones', async () => {
    expect(trainTarget.code, trainTarget.err).toBe(0);
    expect(readJson(path.join(target, 'summary.json')).exportedEncoder).toBe('target');
    expect(trainTarget.out).toContain('exported: the byol target encoder (export.encoder: target)');
    const dir = path.join(target, 'export', 'encoder');
    const exported = await exportedWeights(dir);
    const ckpt = path.join(target, 'checkpoints', 'last');
    expect(exported).toEqual(await checkpointWeights(ckpt, 'target_encoder'));
    expect(exported).not.toEqual(await checkpointWeights(ckpt, 'online_encoder'));
    expect(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).not.toContain('"trainable":false');
  });

  it('selfsup export --encoder online|target writes that network of a checkpoint; without it, the run\'s choice', async () => {
    const ckpt = path.join(best, 'checkpoints', 'last');
    for (const which of ['online', 'target'] as const) {
      const dest = path.join(out, `exported-${which}`);
      const r = selfsup(['export', ckpt, '--out', dest, '--encoder', which, '--backend', 'cpu']);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`exported the ${which} encoder of ${ckpt} → ${dest}`);
      expect(await exportedWeights(dest)).toEqual(await checkpointWeights(ckpt, `${which}_encoder`));
    }
    const last = epochRows(best).pop();
    const r = selfsup(['export', ckpt, '--out', path.join(out, 'exported-default'), '--backend', 'cpu']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`exported the ${last.knn_acc_target > last.knn_acc ? 'target' : 'online'} encoder of ${ckpt}`);
  });

  it('selfsup eval --encoder target reproduces knn_acc_target (bank and queries through the target)', () => {
    const last = epochRows(target).pop();
    const r = selfsup(['eval', path.join(target, 'checkpoints', 'last'), '--encoder', 'target', '--backend', 'wasm']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('(target)');
    expect(r.out).toContain(`knn_acc ${last.knn_acc_target.toFixed(4)}`);
    // the run directory with --encoder online: its export holds the target, so the checkpoint is used
    const o = selfsup(['eval', target, '--encoder', 'online', '--backend', 'wasm']);
    expect(o.code, o.err).toBe(0);
    expect(o.out).toContain(`encoder: ${path.join(target, 'checkpoints')}`);
    expect(o.out).toContain(`knn_acc ${last.knn_acc.toFixed(4)}`);
  });

  it('bad values exit with 2 and name the flag or key and the value', () => {
    const flag = selfsup(['export', best, '--out', path.join(out, 'x'), '--encoder', 'ema']);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain('--encoder must be online or target, got "ema"');
    const key = selfsup(['train', tiny, '--out', out, '--set', 'export.encoder=ema']);
    expect(key.code).toBe(2);
    expect(key.err).toContain(`${tiny}: export.encoder = "ema": encoder must be one of the following values: online, target, best (from --set export.encoder=ema)`);
    const mismatch = selfsup(['export', path.join(target, 'export', 'encoder'), '--out', path.join(out, 'y'), '--encoder', 'online']);
    expect(mismatch.code).toBe(2);
    expect(mismatch.err).toContain('an exported model holds one network (the target encoder); for --encoder online pass a checkpoint directory or the run directory');
  });
});
