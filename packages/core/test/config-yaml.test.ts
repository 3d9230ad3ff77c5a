import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { applyOverrides, ConfigError, loadConfigFile, parseOverride, RootConfig, sourceOf, toYaml, validateConfig } from '../src/config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

const BASE = `method: byol
data:
  name: fashion-mnist
  include: [a]
trainer:
  epochs: 3
callbacks:
  - name: knn-eval
    every: 5
  - name: checkpoint
    every: 1
`;

describe('loadConfigFile', () => {
  it('parses YAML into plain data with YAML types', () => {
    const plain = loadConfigFile(write('base.yaml', BASE));
    expect(plain).toEqual({
      method: 'byol',
      data: { name: 'fashion-mnist', include: ['a'] },
      trainer: { epochs: 3 },
      callbacks: [
        { name: 'knn-eval', every: 5 },
        { name: 'checkpoint', every: 1 },
      ],
    });
  });

  it('overrides set nested keys, parse values as YAML, index lists and select entries by name', () => {
    const plain = loadConfigFile(write('o.yaml', BASE), [
      'trainer.epochs=5',
      'trainer.backend=wasm',
      'data.include=[cat, dog]',
      'callbacks[1].every=3',
      'callbacks[knn-eval].every=7',
      'callbacks[ema].tau=0.99',
      'model.width="64"',
      'trainer.seed=-2',
    ]);
    expect(plain.trainer).toEqual({ epochs: 5, backend: 'wasm', seed: -2 });
    expect((plain.data as { include: unknown }).include).toEqual(['cat', 'dog']);
    expect(plain.callbacks).toEqual([
      { name: 'knn-eval', every: 7 },
      { name: 'checkpoint', every: 3 },
      { name: 'ema', tau: 0.99 }, // a name not listed is appended
    ]);
    expect(plain.model).toEqual({ width: '64' }); // quoted: stays a string
    // The overridden value goes through the same validation as the file's (include is an
    // image-folder key: a fashion-mnist section does not take it).
    expect(() => validateConfig(RootConfig, plain, { path: '' })).toThrow('data.include: unknown key');
    const t = validateConfig(RootConfig, { ...plain, data: { ...(plain.data as object), name: 'image-folder', path: 'imgs', imageSize: 8 } }, { path: '' });
    expect(t.trainer.epochs).toBe(5);
    expect((t.data as { include?: string[] }).include).toEqual(['cat', 'dog']);
  });

  it('a problem in an overridden value says which --set produced it; others give their line', () => {
    const file = write('lines.yaml', BASE);
    const plain = loadConfigFile(file, ['trainer.epochs=-1']);
    const err = thrown(() => validateConfig(RootConfig, { ...plain, trainer: { ...(plain.trainer as object), batchSize: 0 } }, { source: sourceOf(plain) }));
    expect(err).toBeInstanceOf(ConfigError);
    const lines = err.message.split('\n');
    expect(lines).toContain(`${file}: trainer.epochs = -1: epochs must not be less than 1 (from --set trainer.epochs=-1)`);
    // batchSize is not in the file: the nearest key that is (trainer:) gives the line.
    expect(lines).toContain(`${file}: trainer.batchSize = 0: batchSize must not be less than 1 (line 5)`);
  });

  it('problems in the file give the line of the key', () => {
    const file = write('bad.yaml', BASE.replace('epochs: 3', 'epochs: 0').replace('every: 5', 'every: 5\n    evry: 2'));
    const plain = loadConfigFile(file);
    const src = sourceOf(plain)!;
    expect(src.lines.get('trainer.epochs')).toBe(6);
    expect(src.lines.get('callbacks[0]')).toBe(8);
    expect(src.lines.get('callbacks[0].evry')).toBe(10);
    const err = thrown(() => validateConfig(RootConfig, plain, { source: src }));
    expect(err.message).toContain(`${file}: trainer.epochs = 0: epochs must not be less than 1 (line 6)`);
  });

  it('a malformed override is a clear error naming it', () => {
    const file = write('m.yaml', BASE);
    const cases: Array<[string, string]> = [
      ['foo', '--set foo: expected key=value'],
      ['=5', '--set =5: the key before "=" is empty'],
      ['a..b=1', '--set a..b=1: empty key part'],
      ['callbacks[9].every=1', '--set callbacks[9].every=1: callbacks has 2 entries, so [9] is out of range'],
      ['trainer.epochs.x=1', '--set trainer.epochs.x=1: trainer.epochs is 3, not a mapping, so it has no key "x"'],
      ['trainer[0]=1', '--set trainer[0]=1: trainer is {"epochs":3}, not a list'],
      ['data.include=[a', '--set data.include=[a: the value is not valid YAML'],
      ['__proto__.polluted=1', '--set __proto__.polluted=1: "__proto__" cannot be a config key'],
    ];
    for (const [override, expected] of cases) {
      const err = thrown(() => loadConfigFile(file, [override]));
      expect(err, override).toBeInstanceOf(ConfigError);
      expect(err.message, override).toContain(expected);
      expect(err.message, override).toContain('e.g. trainer.epochs=5');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // All override syntax is checked before any is applied.
    const plain = { trainer: { epochs: 1 } };
    expect(() => applyOverrides(plain, ['trainer.epochs=9', 'nope'])).toThrow(/--set nope: expected key=value/);
    expect(plain.trainer.epochs).toBe(1);
  });

  it('parseOverride keeps everything after the first "=" as the value', () => {
    expect(parseOverride('data.path=/d/a=b').value).toBe('/d/a=b');
    expect(parseOverride('trainer.threads=').value).toBeNull();
    expect(parseOverride('x.y=true').value).toBe(true);
    expect(parseOverride('callbacks[2].every=3').segments).toEqual([{ key: 'callbacks' }, { index: 2 }, { key: 'every' }]);
  });

  it('a YAML syntax error names the file, line and column', () => {
    const file = write('syntax.yaml', 'method: byol\ntrainer:\n  epochs: 3\n  batchSize: 4: 5\n');
    const err = thrown(() => loadConfigFile(file));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(`${file}:4:14: YAML syntax error: Nested mappings are not allowed in compact mappings:\n\n  batchSize: 4: 5\n             ^`);
    const dup = write('dup.yaml', 'method: byol\nmethod: simclr\n');
    expect(thrown(() => loadConfigFile(dup)).message).toMatch(new RegExp(`dup\\.yaml:2:1: YAML syntax error: Map keys must be unique`));
  });

  it('an empty file, a list or a missing file are reported plainly', () => {
    expect(thrown(() => loadConfigFile(write('empty.yaml', '# nothing\n'))).message).toContain('the file must be a mapping of sections (method:, data:, trainer:, ...); it holds an empty document');
    expect(thrown(() => loadConfigFile(write('list.yaml', '- a\n'))).message).toContain('it holds a list');
    const missing = path.join(dir, 'nope.yaml');
    expect(thrown(() => loadConfigFile(missing)).message).toBe(`cannot read config ${missing}: no such file (resolved to ${missing})`);
  });

  it('toYaml writes every option of a config class, an unset one as null, and reads back equal', () => {
    const root = validateConfig(RootConfig, { method: 'byol', data: { name: 'mnist', limit: 5 } });
    const text = toYaml(root);
    expect(text).toContain('  threads: null\n');
    const plain = parse(text);
    expect(plain).toEqual({
      name: 'run',
      method: 'byol',
      plugins: [],
      trainer: { epochs: 10, batchSize: 128, backend: 'auto', webgpuAdapter: 'any', nativeKernels: 'auto', threads: null, seed: 0, stepsPerEpoch: null, maxSteps: null, logEvery: 10 },
      data: { name: 'mnist', path: null, split: 'train', limit: 5 },
      export: { encoder: 'best' },
      callbacks: [],
    });
    // null reads back as unset: the same instance again
    const again = validateConfig(RootConfig, plain);
    expect(again.trainer.threads).toBeUndefined();
    expect(again).toEqual(root);
    // ...but only where the default is unset: a key with a default still needs a value
    expect(() => validateConfig(RootConfig, { ...plain, trainer: { epochs: null } })).toThrow('trainer.epochs = null: epochs must be an integer number');
  });
});
