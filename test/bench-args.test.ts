import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// `npm run bench` takes minutes: a mistyped flag (or --help) must answer before anything runs,
// not start the default benchmark with the flag ignored.
const root = path.resolve(__dirname, '..');
const bench = path.join(root, 'examples/dist/bench/bench.js');
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [bench, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('bench: arguments', () => {
  it('--help prints the usage and exits 0 without benchmarking', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: node examples\/dist\/bench\/bench\.js/);
    expect(r.out).toContain('--native-extras');
    expect(r.out + r.err).not.toContain('GFLOP/s');
  });

  it('an unknown flag or a flag without its value exits 2 naming it', () => {
    const unknown = run(['--only', 'byol', '--byol-configs', 'main']);
    expect(unknown.code).toBe(2);
    expect(unknown.err.split('\n')[0]).toBe('bench: unknown argument --byol-configs');
    const missing = run(['--compare-torch', '--native-kernels']);
    expect(missing.code).toBe(2);
    expect(missing.err.split('\n')[0]).toBe('bench: --native-kernels needs a value');
    expect(unknown.out + missing.out).not.toContain('GFLOP/s');
  });
});
