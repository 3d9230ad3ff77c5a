import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Issue 12 item 4: a method from outside the repository. examples/plugin-method is a package of
// its own (not a workspace) whose plain-JS plugin uses only the published @selfsup/* names; the
// CLI (built dist, as a user runs it) loads it through the config's `plugins:`.
const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'packages/cli/dist/bin.js');
const dir = path.join(root, 'examples/plugin-method');
const pluginFile = path.join(dir, 'align-uniform.js');
const config = path.join(dir, 'align-uniform-fashion-mnist.yaml');

const readJsonl = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('a method plugin from outside the repo (align-uniform)', () => {
  it('depends only on published package names, and is not a workspace', () => {
    const src = fs.readFileSync(pluginFile, 'utf8');
    const specs = [...src.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]);
    expect(specs.length).toBeGreaterThan(0);
    for (const s of specs) expect(['reflect-metadata', '@tensorflow/tfjs', 'class-validator', '@selfsup/core', '@selfsup/ssl']).toContain(s);
    const workspaces: string[] = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).workspaces;
    expect(workspaces).not.toContain('examples/plugin-method');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).main).toBe('align-uniform.js');
  });

  describe('selfsup train with plugins: [./align-uniform.js]', () => {
    let out: string;
    let train: { code: number | null; out: string; err: string };

    beforeAll(() => {
      if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`npm test\` (it builds with tsc -b first)`);
      out = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-plugin-'));
      const sets = ['trainer.epochs=1', 'trainer.batchSize=16', 'trainer.logEvery=1', 'data.limit=32', 'val.limit=16', 'model.width=0.0625', 'model.projectorHiddenDim=32', 'model.projectorDim=16'];
      const r = spawnSync(process.execPath, [bin, 'train', config, '--out', out, '--backend', 'wasm', ...sets.flatMap((s) => ['--set', s])], { cwd: root, encoding: 'utf8', timeout: 240_000 });
      train = { code: r.status, out: r.stdout, err: r.stderr };
    }, 300_000);

    it('exits 0 and logs the plugin method\'s loss terms, all finite', () => {
      expect(train.code, train.err).toBe(0);
      expect(train.out).toContain('align-uniform encoder');
      const runDir = path.join(out, 'align-uniform-fashion-mnist', 'version_0');
      const rows = readJsonl(path.join(runDir, 'metrics.jsonl'));
      const steps = rows.filter((r) => r.type === 'step');
      expect(steps.map((r) => r.step)).toEqual([1, 2]); // 32 images / batch 16, logEvery 1
      for (const r of rows) {
        for (const k of ['loss', 'au_align', 'au_uniform', 'z_std']) expect(Number.isFinite(r[k]), `${k} in ${JSON.stringify(r)}`).toBe(true);
        expect(r.loss).toBeCloseTo(r.au_align + r.au_uniform, 4); // weights 1, 1
        expect(r.au_align).toBeGreaterThanOrEqual(0);
        expect(r.au_align).toBeLessThanOrEqual(4); // unit vectors: ‖a − b‖² ≤ 4
        expect(r.au_uniform).toBeLessThanOrEqual(0);
      }
    });
  });

  it('golden: the loss on fixed tiny tensors matches a float64 loop', async () => {
    // Loaded by Node itself (not vitest's transform), as the CLI does: the built dist packages.
    const req = createRequire(pluginFile);
    const tf = req('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
    await tf.setBackend('cpu');
    const { alignUniformTerms } = req('./align-uniform.js') as {
      alignUniformTerms: (a: unknown, b: unknown, w?: { alignment?: number; uniformity?: number }) => Record<'loss' | 'align' | 'uniform', import('@tensorflow/tfjs').Scalar>;
    };
    const n = 5;
    const d = 3;
    const v1 = Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => Math.sin(1 + i * 1.7 + j * 0.9) + 0.1 * j));
    const v2 = Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => Math.cos(0.5 + i * 1.3 - j * 0.7) - 0.2 * i));

    const norm = (m: number[][]) => m.map((r) => { const s = Math.sqrt(r.reduce((a, x) => a + x * x, 0)); return r.map((x) => x / s); });
    const dist2 = (a: number[], b: number[]) => a.reduce((s, x, k) => s + (x - b[k]) ** 2, 0);
    const U = (z: number[][]) => {
      let sum = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) sum += Math.exp(-2 * dist2(z[i], z[j]));
      return Math.log(sum / (n * (n - 1)));
    };
    const a = norm(v1);
    const b = norm(v2);
    const align = a.reduce((s, r, i) => s + dist2(r, b[i]), 0) / n;
    const uniform = (U(a) + U(b)) / 2;

    for (const w of [{}, { alignment: 0.5, uniformity: 2 }]) {
      const t = alignUniformTerms(tf.tensor2d(v1), tf.tensor2d(v2), w);
      const want = (w.alignment ?? 1) * align + (w.uniformity ?? 1) * uniform;
      expect(t.align.dataSync()[0]).toBeCloseTo(align, 5);
      expect(t.uniform.dataSync()[0]).toBeCloseTo(uniform, 5);
      expect(t.loss.dataSync()[0]).toBeCloseTo(want, 5);
    }
    expect(() => alignUniformTerms(tf.tensor2d(v1), tf.tensor2d([[1, 2, 3]]))).toThrow(/equal shapes/);
  });
});
