import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import ts from 'typescript';
import {
  cleanAtomicLeftovers,
  parseAtomicLeftover,
  recoverAtomicDir,
  writeDirAtomic,
  writeFileAtomic,
  writeFileAtomicSync,
  type AtomicDirStep,
} from '../src/io';
import { Rng } from '../src/util/rng';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-atomic-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const siblings = (dir: string) => fs.readdirSync(path.dirname(dir)).filter((n) => n !== path.basename(dir)).sort();
const readVersion = (dir: string) => fs.readFileSync(path.join(dir, 'v.txt'), 'utf8');
const writeVersion = (v: string) => (tmp: string) => {
  fs.writeFileSync(path.join(tmp, 'v.txt'), v);
  fs.mkdirSync(path.join(tmp, 'sub'));
  fs.writeFileSync(path.join(tmp, 'sub', 'w.txt'), v.repeat(3));
};
const crashAt = (target: AtomicDirStep) => (s: AtomicDirStep) => {
  if (s === target) throw new Error(`simulated crash at ${s}`);
};

describe('writeFileAtomic', () => {
  it('replaces content and leaves no temp file', async () => {
    const f = path.join(root, 'a.json');
    await writeFileAtomic(f, 'one');
    await writeFileAtomic(f, [new Uint8Array([116, 119]), new Uint8Array([111])]);
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
    writeFileAtomicSync(f, 'three');
    expect(fs.readFileSync(f, 'utf8')).toBe('three');
    expect(fs.readdirSync(root)).toEqual(['a.json']);
  });

  it('names the path when the directory does not exist, and leaves nothing behind', async () => {
    const f = path.join(root, 'missing', 'a.json');
    await expect(writeFileAtomic(f, 'x')).rejects.toThrow(`could not write "${f}"`);
    expect(() => writeFileAtomicSync(f, 'x')).toThrow(`could not write "${f}"`);
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

describe('writeDirAtomic', () => {
  it('creates, then replaces a directory; no leftovers', async () => {
    const d = path.join(root, 'ckpt', 'last');
    await writeDirAtomic(d, writeVersion('A'));
    expect(readVersion(d)).toBe('A');
    await writeDirAtomic(d, writeVersion('B'));
    expect(readVersion(d)).toBe('B');
    expect(fs.readFileSync(path.join(d, 'sub', 'w.txt'), 'utf8')).toBe('BBB');
    expect(siblings(d)).toEqual([]);
  });

  it('keeps the old directory when the fill callback throws', async () => {
    const d = path.join(root, 'last');
    await writeDirAtomic(d, writeVersion('A'));
    await expect(
      writeDirAtomic(d, (tmp) => {
        fs.writeFileSync(path.join(tmp, 'v.txt'), 'half');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(readVersion(d)).toBe('A');
    expect(siblings(d)).toEqual([]);
  });

  it('crash after the temp dir is complete: old content stays, recovery deletes the temp', async () => {
    const d = path.join(root, 'last');
    await writeDirAtomic(d, writeVersion('A'));
    await expect(writeDirAtomic(d, writeVersion('B'), { onStep: crashAt('tmp-complete') })).rejects.toThrow(
      'simulated crash',
    );
    expect(readVersion(d)).toBe('A');
    expect(siblings(d)).toHaveLength(1);
    expect(parseAtomicLeftover(siblings(d)[0])?.kind).toBe('tmp');
    const report = await recoverAtomicDir(d);
    expect(report.removed).toHaveLength(1);
    expect(report.direction).toBeUndefined();
    expect(readVersion(d)).toBe('A');
    expect(siblings(d)).toEqual([]);
  });

  it('crash between the two renames: the final path is missing until recovery rolls forward', async () => {
    const d = path.join(root, 'last');
    await writeDirAtomic(d, writeVersion('A'));
    await expect(writeDirAtomic(d, writeVersion('B'), { onStep: crashAt('old-moved-aside') })).rejects.toThrow();
    expect(fs.existsSync(d)).toBe(false);
    expect(siblings(d).map((n) => parseAtomicLeftover(n)?.kind)).toEqual(['old', 'tmp']);
    const report = await recoverAtomicDir(d);
    expect(report.direction).toBe('forward');
    expect(readVersion(d)).toBe('B');
    expect(fs.readFileSync(path.join(d, 'sub', 'w.txt'), 'utf8')).toBe('BBB');
    expect(siblings(d)).toEqual([]);
  });

  it('rolls back to the old directory when the new one is gone', async () => {
    const d = path.join(root, 'last');
    await writeDirAtomic(d, writeVersion('A'));
    await expect(writeDirAtomic(d, writeVersion('B'), { onStep: crashAt('old-moved-aside') })).rejects.toThrow();
    const tmp = siblings(d).find((n) => parseAtomicLeftover(n)?.kind === 'tmp')!;
    fs.rmSync(path.join(root, tmp), { recursive: true });
    const report = await recoverAtomicDir(d);
    expect(report.direction).toBe('back');
    expect(readVersion(d)).toBe('A');
    expect(siblings(d)).toEqual([]);
  });

  it('crash after the swap: new content in place, recovery removes the old one', async () => {
    const d = path.join(root, 'last');
    await writeDirAtomic(d, writeVersion('A'));
    await expect(writeDirAtomic(d, writeVersion('B'), { onStep: crashAt('new-in-place') })).rejects.toThrow();
    expect(readVersion(d)).toBe('B');
    expect(siblings(d).map((n) => parseAtomicLeftover(n)?.kind)).toEqual(['old']);
    // The next write recovers by itself before starting.
    await writeDirAtomic(d, writeVersion('C'));
    expect(readVersion(d)).toBe('C');
    expect(siblings(d)).toEqual([]);
  });

  it('a first write that crashed leaves nothing after recovery', async () => {
    const d = path.join(root, 'best');
    await expect(writeDirAtomic(d, writeVersion('A'), { onStep: crashAt('tmp-complete') })).rejects.toThrow();
    await recoverAtomicDir(d);
    expect(fs.existsSync(d)).toBe(false);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('leaves leftovers of a live process alone; cleans them once it is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const d = path.join(root, 'last');
      await writeDirAtomic(d, writeVersion('A'));
      const foreign = path.join(root, `last.tmp-${child.pid}-abcdef`);
      fs.mkdirSync(foreign);
      await recoverAtomicDir(d);
      expect(fs.existsSync(foreign)).toBe(true);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await recoverAtomicDir(d);
      expect(fs.existsSync(foreign)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('cleanAtomicLeftovers recovers every final path in a folder', async () => {
    const a = path.join(root, 'epoch-1');
    const b = path.join(root, 'epoch-2');
    await writeDirAtomic(a, writeVersion('A1'));
    await writeDirAtomic(b, writeVersion('B1'));
    await expect(writeDirAtomic(a, writeVersion('A2'), { onStep: crashAt('old-moved-aside') })).rejects.toThrow();
    await expect(writeDirAtomic(b, writeVersion('B2'), { onStep: crashAt('tmp-complete') })).rejects.toThrow();
    fs.writeFileSync(path.join(root, 'notes.txt.tmp-999999999-00ff'), 'torn');
    const reports = await cleanAtomicLeftovers(root);
    expect(reports).toHaveLength(3);
    expect(readVersion(a)).toBe('A2');
    expect(readVersion(b)).toBe('B1');
    expect(fs.readdirSync(root).sort()).toEqual(['epoch-1', 'epoch-2']);
  });

  it('parseAtomicLeftover recognises only its own names', () => {
    expect(parseAtomicLeftover('last.old-123-0a1b')).toEqual({
      name: 'last.old-123-0a1b',
      base: 'last',
      kind: 'old',
      pid: 123,
      token: '0a1b',
    });
    expect(parseAtomicLeftover('epoch-3')).toBeUndefined();
    expect(parseAtomicLeftover('last.tmp-x-12')).toBeUndefined();
  });
});

describe('writeDirAtomic under SIGKILL', () => {
  it('a writer killed at random moments always leaves the old or the new directory', async () => {
    // The child runs the real module, transpiled from source (it imports only node builtins).
    const src = fs.readFileSync(path.join(__dirname, '../src/io/atomic.ts'), 'utf8');
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    fs.writeFileSync(path.join(root, 'atomic.js'), js);
    fs.writeFileSync(
      path.join(root, 'writer.js'),
      `const fs = require('node:fs');
const { writeDirAtomic } = require('./atomic.js');
const dir = process.argv[2];
const start = Number(process.argv[3]);
(async () => {
  for (let k = start; ; k++) {
    await writeDirAtomic(dir, (tmp) => {
      fs.writeFileSync(tmp + '/data.bin', Buffer.alloc(1 << 20, k % 251));
      fs.writeFileSync(tmp + '/meta.json', JSON.stringify({ k }));
    });
    process.stdout.write(k + '\\n');
  }
})();
`,
    );
    const target = path.join(root, 'ckpt', 'last');
    // The kill delays come from a seeded generator: a failure names its seed, and
    // SELFSUP_TEST_SEED=<seed> replays the same delays (the child's timing still varies).
    const seed = Number(process.env.SELFSUP_TEST_SEED ?? 20240611);
    console.log(`writeDirAtomic under SIGKILL: kill-delay seed ${seed}`);
    const rng = new Rng(seed);
    let committed = 0;
    const rounds = 6;
    for (let round = 0; round < rounds; round++) {
      const child = spawn(process.execPath, [path.join(root, 'writer.js'), target, String(committed + 1)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let last = committed;
      const wantCommits = 1 + (round % 3);
      await new Promise<void>((resolve) => {
        child.stdout!.on('data', (b: Buffer) => {
          const ks = b.toString().trim().split('\n').map(Number);
          last = Math.max(last, ...ks);
          if (last - committed >= wantCommits) {
            // Kill a little later, at an unpredictable point of the next write.
            setTimeout(() => child.kill('SIGKILL'), rng.int(15));
          }
        });
        // 'close', not 'exit': only then has every line the child wrote been read, so
        // `last` is really the last commit it reported.
        child.once('close', () => resolve());
      });
      await recoverAtomicDir(target);
      const meta = JSON.parse(fs.readFileSync(path.join(target, 'meta.json'), 'utf8')) as { k: number };
      const data = fs.readFileSync(path.join(target, 'data.bin'));
      // Old = the last write the child reported; new = the one it was in the middle of.
      expect([last, last + 1], `round ${round}, seed ${seed}`).toContain(meta.k);
      expect(data.length).toBe(1 << 20);
      expect(data.every((x) => x === meta.k % 251)).toBe(true);
      expect(fs.readdirSync(path.dirname(target))).toEqual(['last']);
      committed = meta.k;
    }
  });
});
