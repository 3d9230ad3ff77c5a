import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// What a new user gets for a mistake: exit code 2 and one line on stderr naming the file,
// key or path and what to do; a stack trace only with --verbose or SELFSUP_DEBUG=1; and
// nothing created (no run directory, no baselines) before the mistake is found.
const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'packages/cli/dist/bin.js');
const tiny = path.join(root, 'examples/configs/tiny.yaml');

let tmp: string;
let out: string;

function selfsup(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, SELFSUP_DEBUG: '', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const STACK_FRAME = /^\s+at /m;

/**
 * Exit code 2, stderr is the one error line (after the dataset's own `[selfsup] ...` notices
 * when `afterData`), holding every needle, with no stack frame; and no run directory.
 */
function expectUserError(r: ReturnType<typeof selfsup>, needles: string[], afterData = false): string {
  expect(r.code, r.err).toBe(2);
  const lines = r.err.trimEnd().split('\n').filter((l) => !(afterData && l.startsWith('[selfsup] ')));
  expect(lines, r.err).toHaveLength(1);
  expect(lines[0]).toMatch(/^selfsup: /);
  for (const n of needles) expect(lines[0]).toContain(n);
  expect(r.err).not.toMatch(STACK_FRAME);
  expect(fs.existsSync(out), 'no run directory before the checks pass').toBe(false);
  return lines[0];
}

function write(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

beforeAll(() => {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`npm test\` (it builds with tsc -b first)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-user-errors-'));
  out = path.join(tmp, 'runs');
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('selfsup CLI: user errors are one line with exit code 2', () => {
  it('--resume on a missing directory, a file, or a folder that is not a run', () => {
    const missing = path.join(tmp, 'no-such-run');
    expectUserError(selfsup(['train', '--resume', missing, '--out', out]), [`--resume ${missing}: no such directory`, 'runs/<name>/version_<N>']);
    const file = write('a-file', 'x');
    expectUserError(selfsup(['train', '--resume', file, '--out', out]), [`--resume ${file}`, 'not a directory']);
    const empty = fs.mkdtempSync(path.join(tmp, 'not-a-run-'));
    expectUserError(selfsup(['train', '--resume', empty, '--out', out]), [`--resume ${empty}`, 'no config.resolved.yaml']);
  });

  it('data.path that does not exist, or is a file, names the key, the value and its origin', () => {
    const missing = path.join(tmp, 'no-such-data');
    expectUserError(selfsup(['train', tiny, '--set', `data.path=${missing}`, '--set', 'data.source=auto', '--out', out]), [
      `${tiny}: data.path = "${missing}": no such directory`,
      `(from --set data.path=${missing})`,
    ]);
    const file = write('data-file', 'not a folder');
    expectUserError(selfsup(['train', tiny, '--set', `data.path=${file}`, '--set', 'data.source=auto', '--out', out]), [
      `data.path = "${file}"`,
      'is a file, not a directory',
    ]);
    // written in the file: the line is named
    const cfg = write('bad-data.yaml', `method: byol\ntrainer:\n  epochs: 1\ndata:\n  name: fashion-mnist\n  path: ${missing}\n`);
    expectUserError(selfsup(['train', cfg, '--out', out]), [`${cfg}: data.path = "${missing}"`, '(line 6)']);
  });

  it('a data folder without the dataset files names the section and the folder', () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-data-'));
    expectUserError(selfsup(['train', tiny, '--set', `data.path=${empty}`, '--set', 'data.source=auto', '--out', out]), [
      `${tiny}: data: Fashion-MNIST train split not found in data path ${empty}`,
      'Fix data.path',
    ]);
  });

  it('a corrupt or mismatched IDX file names the file and what is wrong (exit 2, no stack)', () => {
    // images header: magic 0x00000803, dims [2, 28, 28]; labels: magic 0x00000801, dims [n]
    const header = (magic: number, dims: number[]) => {
      const b = Buffer.alloc(4 + 4 * dims.length);
      b.writeUInt32BE(magic, 0);
      dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
      return b;
    };
    const dataDir = (name: string, images: Buffer, labels: Buffer) => {
      const d = fs.mkdtempSync(path.join(tmp, name));
      fs.writeFileSync(path.join(d, 'train-images-idx3-ubyte'), images);
      fs.writeFileSync(path.join(d, 'train-labels-idx1-ubyte'), labels);
      return d;
    };
    const goodImages = Buffer.concat([header(0x803, [2, 28, 28]), Buffer.alloc(2 * 28 * 28)]);
    const goodLabels = Buffer.concat([header(0x801, [2]), Buffer.from([1, 2])]);
    const run = (d: string) => selfsup(['train', tiny, '--set', `data.path=${d}`, '--set', 'data.source=auto', '--out', out]);
    // the labels file in the images' place: wrong magic number
    const swapped = dataDir('swapped-', goodLabels, goodLabels);
    expectUserError(run(swapped), [path.join(swapped, 'train-images-idx3-ubyte'), 'wrong magic number 0x00000801', 'expected magic number 0x00000803'], true);
    // a download cut short: fewer data bytes than the header declares
    const cut = dataDir('truncated-', goodImages.subarray(0, goodImages.length - 100), goodLabels);
    expectUserError(run(cut), [path.join(cut, 'train-images-idx3-ubyte'), 'truncated', 'Re-download the file'], true);
    // two images, three labels
    const mismatch = dataDir('mismatch-', goodImages, Buffer.concat([header(0x801, [3]), Buffer.from([1, 2, 3])]));
    expectUserError(run(mismatch), ['image/label count mismatch', 'holds 2 images', 'holds 3 labels'], true);
  });

  it('a plugin from plugins: that does not load', () => {
    const cfg = write('plugin.yaml', 'method: byol\nplugins:\n  - ./no-such-plugin.js\ndata:\n  name: fashion-mnist\n  source: embedded\n');
    expectUserError(selfsup(['train', cfg, '--out', out]), [`${cfg}: plugins[0]: plugin "./no-such-plugin.js" failed to load`, 'check the path', '(line 3)']);
    expectUserError(selfsup(['train', tiny, '--plugin', './no-such-cli-plugin.js', '--out', out]), ['no-such-cli-plugin.js', 'check the path']);
  });

  it('a YAML alias bomb ("billion laughs") is refused by the YAML guard as a config problem', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) levels.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9).fill(`*${'abcdefghi'[i - 1]}`).join(', ')}]`);
    const bomb = write('bomb.yaml', `${levels.join('\n')}\n`);
    expectUserError(selfsup(['train', bomb, '--out', out]), [`${bomb}: YAML aliases`, 'write the values out']);
  });

  it('a batch larger than the training set fails before the run directory and the kNN baselines', () => {
    const r = selfsup(['train', tiny, '--set', 'trainer.batchSize=256', '--backend', 'wasm', '--out', out]);
    const line = expectUserError(r, [`${tiny}: trainer.batchSize = 256`, 'has 128 images', 'at most 128', '(from --set trainer.batchSize=256)'], true);
    expect(line).not.toContain('baselines');
    expect(r.err).not.toContain('kNN baselines');
    expect(r.err).not.toContain('run directory');
    expect(r.err).not.toContain('selfsup: backend'); // nothing was set up
  });

  it('what a dataset, a callback or the optimizer rejects fails before the run directory, naming the key', () => {
    // after the notices of the data and the backend, one error line
    const afterSetup = (r: ReturnType<typeof selfsup>) => ({ ...r, err: r.err.split('\n').filter((l) => !l.startsWith('selfsup: backend')).join('\n') });
    expectUserError(selfsup(['train', tiny, '--set', 'val.split=all', '--out', out]), [`${tiny}: val.split: fashion-mnist has splits train and test`], true);
    expectUserError(afterSetup(selfsup(['train', tiny, '--set', 'callbacks[checkpoint].keepLast=2', '--backend', 'wasm', '--out', out])), [
      `${tiny}: callbacks[4]: callback "checkpoint": keepLast applies to the epoch-<E>/ checkpoints`,
    ], true);
    expectUserError(afterSetup(selfsup(['train', tiny, '--set', 'optimizer.nesterov=true', '--set', 'optimizer.momentum=0', '--backend', 'wasm', '--out', out])), [
      `${tiny}: SGD: nesterov needs momentum > 0`,
    ], true);
  });

  it('an unreadable config, an unknown --set key, a bad --backend, an unknown command, eval of a missing directory', () => {
    expectUserError(selfsup(['train', path.join(root, 'examples'), '--out', out]), ['cannot read config', 'is a directory']);
    expectUserError(selfsup(['train', path.join(tmp, 'nope.yaml'), '--out', out]), ['config file not found']);
    expectUserError(selfsup(['train', tiny, '--set', 'trainer.epochz=3', '--out', out]), ['trainer.epochz: unknown key', 'did you mean "epochs"']);
    expectUserError(selfsup(['train', tiny, '--backend', 'gpu', '--out', out]), ['--backend must be one of auto, tensorflow, webgpu, wasm, cpu, got "gpu"']);
    expectUserError(selfsup(['trian', tiny]), ['unknown command "trian"', 'train']);
    const missing = path.join(tmp, 'no-run');
    expectUserError(selfsup(['eval', missing, '--knn']), [`${missing}: no such directory`]);
    expectUserError(selfsup(['export', missing, '--out', path.join(tmp, 'x')]), [`${missing}: no such directory`]);
  });

  it('a YAML syntax error is one line with the file, line and column', () => {
    const cfg = write('syntax.yaml', 'method: byol\ntrainer:\n  batchSize: 4: 5\n');
    expectUserError(selfsup(['train', cfg, '--out', out]), [`${cfg}: YAML syntax error`, 'line 3, column']);
  });

  it('SELFSUP_DEBUG=1 and --verbose add the stack trace; the exit code stays 2', () => {
    const missing = path.join(tmp, 'no-such-data');
    const args = ['train', tiny, '--set', `data.path=${missing}`, '--set', 'data.source=auto', '--out', out];
    const debug = selfsup(args, { SELFSUP_DEBUG: '1' });
    expect(debug.code).toBe(2);
    expect(debug.err.split('\n')[0]).toContain(`data.path = "${missing}": no such directory`);
    expect(debug.err).toMatch(STACK_FRAME);
    expect(debug.err).toContain('ConfigError');
    const verbose = selfsup(['--verbose', 'train', '--resume', missing, '--out', out]);
    expect(verbose.code).toBe(2);
    expect(verbose.err).toMatch(STACK_FRAME);
    expect(selfsup(['train', '--resume', missing, '--verbose', '--out', out]).err).toMatch(STACK_FRAME);
    // a plugin's own error comes with it (as the cause)
    const cfg = write('plugin-debug.yaml', 'method: byol\nplugins:\n  - ./no-such-plugin.js\ndata:\n  name: fashion-mnist\n  source: embedded\n');
    const plugin = selfsup(['train', cfg, '--out', out], { SELFSUP_DEBUG: '1' });
    expect(plugin.code).toBe(2);
    expect(plugin.err).toMatch(/caused by: Error: Cannot find module/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
