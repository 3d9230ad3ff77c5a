import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { createRunDir, writeEnvJson } from '../src/io';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-runs-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('createRunDir', () => {
  it('numbers versions from 0 and creates the sub-folders', async () => {
    const a = await createRunDir({ root, name: 'byol' });
    const b = await createRunDir({ root, name: 'byol' });
    expect(a).toEqual({ dir: path.join(root, 'byol', 'version_0'), version: 0 });
    expect(b.version).toBe(1);
    expect(fs.readdirSync(a.dir).sort()).toEqual(['checkpoints', 'export', 'plots']);
  });

  it('continues after the highest existing version, ignoring other entries', async () => {
    fs.mkdirSync(path.join(root, 'exp', 'version_7'), { recursive: true });
    fs.mkdirSync(path.join(root, 'exp', 'version_x'));
    fs.writeFileSync(path.join(root, 'exp', 'notes.txt'), '');
    expect((await createRunDir({ root, name: 'exp' })).version).toBe(8);
  });

  it('gives every racing caller its own version', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => createRunDir({ root, name: 'race' })));
    expect(runs.map((r) => r.version).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const r of runs) expect(fs.existsSync(path.join(r.dir, 'checkpoints'))).toBe(true);
  });

  it('rejects a name that is not one path segment', async () => {
    await expect(createRunDir({ root, name: 'a/b' })).rejects.toThrow('run name "a/b" must be a single non-empty path segment');
    await expect(createRunDir({ root, name: '' })).rejects.toThrow('must be a single non-empty path segment');
  });
});

describe('writeEnvJson', () => {
  it('records versions, platform and the git commit of a repository', async () => {
    const repo = path.join(root, 'repo');
    fs.mkdirSync(repo);
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: repo,
        env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
      })
        .toString()
        .trim();
    git('init', '-q');
    fs.writeFileSync(path.join(repo, 'f.txt'), 'x');
    git('add', 'f.txt');
    git('commit', '-q', '-m', 'init');
    const head = git('rev-parse', 'HEAD');

    const info = await writeEnvJson(root, { threads: 2, backend: 'wasm' }, repo);
    const onDisk = JSON.parse(fs.readFileSync(path.join(root, 'env.json'), 'utf8'));
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(info)));
    expect(onDisk.node).toBe(process.version);
    expect(onDisk.tfjs['tfjs-core']).toBe(tf.version_core);
    expect(onDisk.cpus).toBe(os.cpus().length);
    expect(onDisk.platform).toBe(process.platform);
    expect(onDisk.gitCommit).toBe(head);
    expect(onDisk.gitDirty).toBe(false);
    expect(onDisk.threads).toBe(2);
    expect(onDisk.backend).toBe('wasm'); // extra wins over the collected value
    expect(Number.isNaN(Date.parse(onDisk.time))).toBe(false);
  });

  it('writes null for the commit outside a repository', async () => {
    const info = await writeEnvJson(root, {}, root);
    expect(info.gitCommit).toBeNull();
    expect(info.gitDirty).toBeNull();
  });
});
