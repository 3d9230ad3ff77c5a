import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

// The CLI as a user runs it: the built dist (npm test builds it first with tsc -b).
const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'packages/cli/dist/bin.js');
const tiny = path.join(root, 'examples/configs/tiny.yaml');

function selfsup(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const readJsonl = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('selfsup CLI end to end', () => {
  let out: string;
  let runDir: string;
  let train: ReturnType<typeof selfsup>;

  beforeAll(() => {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`npm test\` (it builds with tsc -b first)`);
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-e2e-'));
    train = selfsup(['train', tiny, '--out', out, '--backend', 'wasm', '--set', 'trainer.epochs=2']);
    runDir = path.join(out, 'tiny', 'version_0');
  }, 300_000);

  it('trains a tiny config and prints the kNN summary next to the baselines', () => {
    expect(train.err).not.toMatch(/failed/);
    expect(train.code).toBe(0);
    expect(train.err).toContain(`selfsup: run directory ${runDir}`);
    expect(train.out).toMatch(/raw pixels +0\.\d{4}\n +untrained encoder +0\.\d{4}\n +byol encoder +0\.\d{4}/);
  });

  it('leaves every file of the run directory, each parsing', () => {
    const resolved = parseYaml(fs.readFileSync(path.join(runDir, 'config.resolved.yaml'), 'utf8'));
    expect(resolved.method).toBe('byol');
    expect(resolved.trainer.epochs).toBe(2);
    expect(resolved.callbacks.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['target-init', 'ema', 'knn-eval', 'checkpoint', 'metrics-logger', 'plots', 'progress']),
    );
    const env = JSON.parse(fs.readFileSync(path.join(runDir, 'env.json'), 'utf8'));
    expect(env.backend).toBe('wasm');
    const log = readJsonl(path.join(runDir, 'train.log'));
    expect(log[0].event).toBe('start');
    expect(log[log.length - 1].event).toBe('end');
    const rows = readJsonl(path.join(runDir, 'metrics.jsonl'));
    const epochs = rows.filter((r) => r.type === 'epoch');
    expect(epochs).toHaveLength(2);
    for (const e of epochs) expect(e.knn_acc).toBeGreaterThan(0);
    // 128 images / batch 32 = 4 steps per epoch, logEvery 2
    expect(rows.filter((r) => r.type === 'step').map((r) => r.step)).toEqual([2, 4, 6, 8]);
    const csv = fs.readFileSync(path.join(runDir, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(csv[0].split(',')).toEqual(expect.arrayContaining(['epoch', 'step', 'loss', 'knn_acc']));
    expect(csv).toHaveLength(1 + rows.length);
    const tfevents = fs.readdirSync(runDir).filter((f) => f.startsWith('events.out.tfevents.'));
    expect(tfevents).toHaveLength(1);
    for (const p of ['loss', 'knn_acc', 'lr', 'tau', 'z_std']) {
      expect(fs.readFileSync(path.join(runDir, 'plots', `${p}.png`)).subarray(1, 4).toString()).toBe('PNG');
      expect(fs.readFileSync(path.join(runDir, 'plots', `${p}.svg`), 'utf8')).toMatch(/^<svg|<\?xml/);
    }
    for (const c of ['last', 'best']) expect(fs.existsSync(path.join(runDir, 'checkpoints', c))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(runDir, 'export/encoder/model.json'), 'utf8')).weightsManifest[0].paths).toEqual(['weights.bin']);
  });

  it('the exported encoder gives the features it had in training: eval reproduces the last kNN accuracy', () => {
    // export.encoder defaults to best: the export holds the online or the target encoder, as summary.json says
    const which = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')).exportedEncoder;
    const last = readJsonl(path.join(runDir, 'metrics.jsonl')).filter((r) => r.type === 'epoch').pop();
    const lastKnn = which === 'target' ? last.knn_acc_target : last.knn_acc;
    const ev = selfsup(['eval', path.join(runDir), '--knn', '--backend', 'wasm']);
    expect(ev.code).toBe(0);
    expect(ev.out).toContain(path.join(runDir, 'export', 'encoder'));
    expect(ev.out).toContain(`knn_acc ${lastKnn.toFixed(4)}`);
  });

  it('eval on the best checkpoint rebuilds the encoder from the config and reproduces the best kNN accuracy', () => {
    const best = Math.max(...readJsonl(path.join(runDir, 'metrics.jsonl')).filter((r) => r.type === 'epoch').map((r) => r.knn_acc));
    const ev = selfsup(['eval', path.join(runDir, 'checkpoints', 'best'), '--encoder', 'online', '--backend', 'wasm']);
    expect(ev.code, ev.err).toBe(0);
    expect(ev.out).toContain(`encoder: ${path.join(runDir, 'checkpoints', 'best')}`);
    expect(ev.out).toContain(`knn_acc ${best.toFixed(4)}`);
  });

  it('export writes a model tf.loadLayersModel reads in another program', () => {
    const dest = path.join(out, 'exported');
    const ex = selfsup(['export', path.join(runDir, 'checkpoints', 'last'), '--out', dest, '--encoder', 'online', '--backend', 'cpu']);
    expect(ex.code).toBe(0);
    // a separate plain-tfjs program with its own file handler (as a user without tfjs-node would write)
    const program = `
      const tf = require('@tensorflow/tfjs'); const fs = require('fs'); const path = require('path');
      (async () => {
        await tf.setBackend('cpu');
        const dir = ${JSON.stringify(dest)};
        const handler = { load: async () => { const j = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
          const w = fs.readFileSync(path.join(dir, 'weights.bin'));
          return { modelTopology: j.modelTopology, weightSpecs: j.weightsManifest[0].weights, weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) }; } };
        const m = await tf.loadLayersModel(handler);
        const y = m.predict(tf.ones([2, 28, 28, 1]));
        console.log(JSON.stringify({ shape: y.shape }));
      })();`;
    const r = spawnSync(process.execPath, ['-e', program], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).shape).toEqual([2, 32]); // width 1/16 ResNet-18: 512/16 features
  });

  it('bad usage and bad configs exit with 2 and say what is wrong', () => {
    const noFile = selfsup(['train', 'no/such.yaml']);
    expect(noFile.code).toBe(2);
    expect(noFile.err).toContain('config file not found: no/such.yaml');

    const badKey = selfsup(['train', tiny, '--set', 'trainer.epochz=3', '--out', out]);
    expect(badKey.code).toBe(2);
    expect(badKey.err).toMatch(/trainer\.epochz: unknown key .*did you mean "epochs"/);

    const badValue = selfsup(['train', tiny, '--set', 'model.width=-1', '--out', out]);
    expect(badValue.code).toBe(2);
    expect(badValue.err).toMatch(/model\.width = -1/);

    const unknownMethod = selfsup(['train', tiny, '--set', 'method=swav', '--out', out]);
    expect(unknownMethod.code).toBe(2);
    expect(unknownMethod.err).toMatch(/unknown method "swav"; registered methods: .*byol/);

    const badFlag = selfsup(['train', tiny, '--epochs', '3']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.err).toContain('unknown option --epochs');
  });

  it('a data file with a wrong IDX header fails naming the file: a user error, exit code 2 and no stack trace', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-badidx-'));
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']) fs.writeFileSync(path.join(dataDir, f), Buffer.from([0, 0, 9, 9, 0, 0, 0, 1]));
    const r = selfsup(['train', tiny, '--set', `data.path=${dataDir}`, '--set', 'data.source=auto', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(path.join(dataDir, 'train-'));
    expect(r.err).toMatch(/wrong magic number 0x00000909/);
    expect(r.err).not.toMatch(/^\s+at /m);
  });

  it('info lists the backends and what is registered', () => {
    const r = selfsup(['info']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/wasm +@tensorflow\/tfjs-backend-wasm +available/);
    expect(r.out).toMatch(/methods: .*byol/);
    expect(r.out).toMatch(/callbacks: .*ema.*knn-eval.*target-init/);
  });
});
