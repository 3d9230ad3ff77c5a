import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, resolveConfig, ResolvedConfig, toYaml } from '../src/config';
import { plugins } from '../src/plugins/registry';
import { EveryOptions, FakeMethodConfig, FakeModelConfig } from './fixtures/plugin-demo/fakes';

async function configError(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const base = { method: 'test-fake', data: { name: 'mnist' } };

describe('resolveConfig', () => {
  it('validates the method sections with the method config class and fills defaults', async () => {
    const r = await resolveConfig({ ...base, model: { width: 32 } }, { file: 'configs/fake run.yaml' });
    expect(r).toBeInstanceOf(ResolvedConfig);
    expect(r.name).toBe('fake-run'); // from the file name, made directory-safe
    expect(r.method.name).toBe('test-fake');
    expect(r.methodConfig).toBeInstanceOf(FakeMethodConfig);
    const mc = r.methodConfig as FakeMethodConfig;
    expect(mc.model).toBeInstanceOf(FakeModelConfig);
    expect({ ...mc.model }).toEqual({ width: 32, activation: 'relu' });
    expect(mc.optimizer.lr).toBe(0.1);
    expect(r.root.trainer.batchSize).toBe(128);
  });

  it('method section problems carry key paths like model.width', async () => {
    const err = await configError(resolveConfig({ ...base, model: { width: 0, activaton: 'gelu' }, optimizer: { lr: '0.1' } }, { file: 'f.yaml' }));
    expect(err.message.split('\n').slice(1).sort()).toEqual([
      'f.yaml: model.activaton: unknown key (allowed: width, activation); did you mean "activation"?',
      'f.yaml: model.width = 0: width must not be less than 1',
      'f.yaml: optimizer.lr = "0.1": lr must be a number conforming to the specified constraints',
    ]);
  });

  it('a section the method does not have is an unknown key', async () => {
    const err = await configError(resolveConfig({ ...base, augment: { flip: true } }));
    expect(err.message).toContain('augment: unknown key (allowed: model, optimizer)');
    const bare = await configError(resolveConfig({ method: 'test-bare', data: { name: 'mnist' }, model: { width: 1 } }));
    expect(bare.message).toContain('model: method "test-bare" takes no model: section (it registered no config class); remove it');
  });

  it('an unknown method lists the registered ones', async () => {
    const err = await configError(resolveConfig({ ...base, method: 'byl' }, { file: 'f.yaml' }));
    const names = plugins.methodNames();
    expect(names).toEqual(expect.arrayContaining(['test-bare', 'test-fake', 'test-injected-method']));
    expect(err.message).toContain(`f.yaml: method = "byl": unknown method "byl"; registered methods: ${names.join(', ')}.`);
  });

  it('an unknown callback lists the registered ones, with the entry path', async () => {
    const err = await configError(resolveConfig({ ...base, callbacks: [{ name: 'test-every' }, { name: 'knn-evl', every: 2 }] }));
    const names = plugins.callbackNames();
    expect(names).toEqual(expect.arrayContaining(['test-ema', 'test-every', 'test-injected', 'test-target-init']));
    expect(err.message).toContain(`callbacks[1].name = "knn-evl": unknown callback "knn-evl"; registered callbacks: ${names.join(', ')}.`);
  });

  it('validates each callback entry against its own options class', async () => {
    const r = await resolveConfig({ ...base, callbacks: [{ name: 'test-every', every: 2 }] });
    const every = r.callbacks.find((c) => c.name === 'test-every')!;
    expect(every.options).toBeInstanceOf(EveryOptions);
    expect({ ...every.options }).toEqual({ every: 2 });
    expect(every.where).toBe('callbacks[0]');

    const err = await configError(
      resolveConfig({
        ...base,
        callbacks: [{ name: 'test-target-init', every: 1 }, { name: 'test-every', every: 0, mode: 'up', evry: 3 }, 'checkpoint', { every: 4 }],
      }),
    );
    expect(err.message.split('\n').slice(1).sort()).toEqual([
      'callbacks[0].every: unknown key (allowed: none)',
      'callbacks[1].every = 0: every must not be less than 1',
      'callbacks[1].evry: unknown key (allowed: every, mode); did you mean "every"?',
      'callbacks[1].mode = "up": mode must be one of the following values: min, max',
      'callbacks[2] = "checkpoint": a callback entry must be a mapping with a name, e.g. { name: knn-eval, every: 5 }',
      'callbacks[3].name (missing): name must be a string',
    ]);
  });

  it("adds the method's default callbacks the config does not list, and keeps a listed one's options", async () => {
    const r = await resolveConfig({ ...base, callbacks: [{ name: 'test-every' }] });
    expect(r.callbacks.map((c) => [c.name, c.from, c.where])).toEqual([
      ['test-every', 'config', 'callbacks[0]'],
      ['test-target-init', 'method', 'method test-fake default callback test-target-init'],
    ]);
    const listed = await resolveConfig({ ...base, callbacks: [{ name: 'test-target-init' }] });
    expect(listed.callbacks.map((c) => c.from)).toEqual(['config']);
  });

  it('a callback whose requires is not listed fails naming both callbacks', async () => {
    const err = await configError(resolveConfig({ method: 'test-bare', data: { name: 'mnist' }, callbacks: [{ name: 'test-ema' }] }, { file: 'f.yaml' }));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain(
      'f.yaml: callbacks[0]: callback "test-ema" requires callback "test-target-init", which this config does not list; add { name: test-target-init } to callbacks:',
    );
    // The method's defaults satisfy it.
    const ok = await resolveConfig({ ...base, callbacks: [{ name: 'test-ema' }] });
    expect(ok.callbacks.map((c) => c.name)).toEqual(['test-ema', 'test-target-init']);
  });

  it('a callback listed twice is rejected', async () => {
    const err = await configError(resolveConfig({ ...base, callbacks: [{ name: 'test-every' }, { name: 'test-every', every: 2 }] }));
    expect(err.message).toContain('callbacks[1].name = "test-every": callback "test-every" is already listed at callbacks[0]');
  });

  it('root, method and callback problems are reported together', async () => {
    const err = await configError(
      resolveConfig({ ...base, trainer: { epochs: 0 }, model: { width: -1 }, callbacks: [{ name: 'test-every', every: 'often' }], extra: 1 }),
    );
    expect(err.problems.map((p) => p.path).sort()).toEqual(['callbacks[0].every', 'extra', 'model.width', 'trainer.epochs']);
  });

  it('toYaml of a resolved config holds every default and resolves again to the same config', async () => {
    const r = await resolveConfig({ ...base, name: 'r1', callbacks: [{ name: 'test-every', mode: 'max' }] });
    const plain = parse(toYaml(r));
    expect(plain).toEqual({
      name: 'r1',
      method: 'test-fake',
      plugins: [],
      trainer: { epochs: 10, batchSize: 128, backend: 'auto', webgpuAdapter: 'any', nativeKernels: 'auto', threads: null, seed: 0, stepsPerEpoch: null, maxSteps: null, logEvery: 10 },
      data: { name: 'mnist', path: null, split: 'train', limit: null },
      val: null,
      model: { width: 16, activation: 'relu' },
      optimizer: { lr: 0.1 },
      export: { encoder: 'best' },
      callbacks: [
        { name: 'test-every', every: 5, mode: 'max' },
        { name: 'test-target-init' },
      ],
    });
    const again = await resolveConfig(plain);
    expect(again.toPlain()).toEqual(plain);
  });
});
