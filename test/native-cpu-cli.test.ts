// `--native-kernels` / trainer.nativeKernels through the CLI, and what `selfsup info` says
// about @selfsup/native-cpu. The refusals run everywhere; the training runs where the addon
// can be built.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nativeCpuForTests } from './helpers/native-cpu';

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'packages/cli/dist/bin.js');
const tiny = path.join(root, 'examples/configs/tiny.yaml');
const native = nativeCpuForTests();

function selfsup(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, SELFSUP_DEBUG: '', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Exit 2 and one `selfsup: ` line (after the dataset's `[selfsup] ` notices) holding `needle`. */
function expectOneLine(r: ReturnType<typeof selfsup>, needle: string | RegExp): void {
  expect(r.code, r.err).toBe(2);
  const lines = r.err.trimEnd().split('\n').filter((l) => !l.startsWith('[selfsup] '));
  expect(lines, r.err).toHaveLength(1);
  expect(lines[0]).toMatch(/^selfsup: /);
  if (typeof needle === 'string') expect(lines[0]).toContain(needle);
  else expect(lines[0]).toMatch(needle);
}

let out: string;
beforeAll(() => {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`npm test\` (it builds with tsc -b first)`);
  out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-native-cli-')), 'runs');
});

describe('selfsup CLI and the native kernels', () => {
  it('info names the addon with its oneDNN version and ISA, or why it is unavailable', () => {
    const r = selfsup(['info']);
    expect(r.code, r.err).toBe(0);
    if (native.load.ok) {
      expect(r.out).toMatch(/native kernels \(@selfsup\/native-cpu\): available: oneDNN \d+\.\d+\.\d+, ISA \w+, \w+ runtime/);
      expect(r.out).toContain(`addon ${native.load.path}`);
    } else {
      expect(r.out).toMatch(/native kernels \(@selfsup\/native-cpu\): unavailable: /);
    }
    const off = selfsup(['info'], { SELFSUP_NATIVE_CPU_SKIP: '1' });
    expect(off.out).toMatch(/native kernels \(@selfsup\/native-cpu\): unavailable: .*SELFSUP_NATIVE_CPU_SKIP/);
  });

  it('--native-kernels on without the addon, on with the cpu backend, or a bad value: one line, exit 2, no run', () => {
    expectOneLine(selfsup(['train', tiny, '--native-kernels', 'on', '--out', out], { SELFSUP_NATIVE_CPU_SKIP: '1' }),
      'nativeKernels is on (trainer.nativeKernels, --native-kernels) but the addon is switched off (SELFSUP_NATIVE_CPU_SKIP is set)');
    expectOneLine(selfsup(['train', tiny, '--set', 'trainer.nativeKernels=on', '--backend', 'cpu', '--out', out]),
      'the native kernels run under the wasm backend and backend is cpu');
    expectOneLine(selfsup(['train', tiny, '--native-kernels', 'maybe', '--out', out]), '--native-kernels must be one of auto, on, off, got "maybe"');
    expectOneLine(selfsup(['train', tiny, '--set', 'trainer.nativeKernels=maybe', '--out', out]), /trainer\.nativeKernels/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it.skipIf(native.skipReason !== undefined)('trains on them (the backend line says so) and, with --native-kernels off, without', () => {
    const args = ['train', tiny, '--backend', 'wasm', '--max-steps', '2', '--no-baselines', '--out', out];
    const on = selfsup([...args, '--native-kernels', 'on']);
    expect(on.code, on.err).toBe(0);
    expect(on.err).toMatch(/^selfsup: backend wasm \(tfjs 4\.22\.0, \d+ threads?, SIMD, native kernels: oneDNN \d+\.\d+\.\d+ \w+\)$/m);
    const off = selfsup([...args, '--native-kernels', 'off']);
    expect(off.code, off.err).toBe(0);
    expect(off.err).toMatch(/^selfsup: backend wasm \(tfjs 4\.22\.0, \d+ threads?, SIMD\)$/m);
    const envOf = (err: string) => {
      const dir = /^selfsup: run directory (.*)$/m.exec(err)![1];
      return JSON.parse(fs.readFileSync(path.join(dir, 'env.json'), 'utf8'));
    };
    expect(envOf(on.err).nativeKernels).toMatch(/^oneDNN /);
    expect(envOf(off.err).nativeKernels).toBeNull();
  });
});
