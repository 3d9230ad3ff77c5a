// config.resolved.yaml shows every option of every section and callback with the value the
// run uses (issue 10, item 3): `selfsup train` writes toYaml(resolved.toPlain()) of the config
// the CLI resolves (loadResolvedConfig), which is what these tests resolve and read back.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { optionKeys, plugins, toPlainData, toYaml, type ResolvedConfig } from '@selfsup/core';
import { AdamOptimizerConfig, AdamWOptimizerConfig, LarsOptimizerConfig, SgdOptimizerConfig } from '@selfsup/byol';
import { loadResolvedConfig } from '../packages/cli/src/context';

const root = path.resolve(__dirname, '..');
const MAIN = path.join(root, 'examples/configs/byol-fashion-mnist.yaml');
const IMAGE_FOLDER = path.join(root, 'examples/configs/byol-image-folder.yaml');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-resolved-keys-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The entries `selfsup train` appends when the config does not list them (CLI_DEFAULT_CALLBACKS in train.ts). */
const CLI_DEFAULTS = ['metrics-logger', 'plots', 'progress', 'checkpoint'].map((name) => ({ name }));

/**
 * The options that may be unset in a resolved config (written as null): their default is
 * decided at run time, or there is none. Any other option must have a default that the YAML
 * shows. A new option without a default fails below until it gets one or is listed here.
 */
const UNSET_BY_DESIGN: Record<string, string> = {
  'trainer.threads': "wasm threads from the machine's cores",
  'trainer.stepsPerEpoch': 'one pass over the data',
  'trainer.maxSteps': 'no cap',
  'data.path': "fashion-mnist, mnist: where the dataset looks by itself; image-folder: required",
  'data.limit': 'all examples',
  'data.concurrency': 'the number of CPUs, at least 2',
  'model.seed': 'the trainer seed',
  'augment.size': "the data's image side",
  'lr-schedule.baseLr': "the experiment's batch-scaled base LR",
  'lr-schedule.warmupSteps': 'from warmupEpochs',
  'knn-eval.bankLimit': 'the whole bank',
  'knn-eval.queryLimit': 'every query',
  'knn-eval.targetModel': "target_<model>, else the method's declared target encoder",
  'linear-probe.bankLimit': 'the whole bank',
  'linear-probe.queryLimit': 'every query',
  'linear-probe.probeBatchSize': 'full batch',
  'collapse-monitor.dim': 'the output size of the model',
  'embedding-plot.dir': '<runDir>/plots',
  'metrics-logger.dir': '<runDir>',
  'plots.dir': '<runDir>/plots',
  'progress.batchSize': "the experiment's batch size",
  'progress.tty': 'whether stderr is a TTY',
  'checkpoint.dir': '<runDir>/checkpoints',
  'checkpoint.every': 'no epoch-<E>/ checkpoints',
  'checkpoint.keepLast': 'keep them all',
};

interface Resolved {
  config: ResolvedConfig;
  /** config.resolved.yaml, parsed. */
  yaml: Record<string, unknown>;
  text: string;
}

async function resolve(file: string, overrides: string[] = []): Promise<Resolved> {
  const config = await loadResolvedConfig({ file, overrides, defaultCallbacks: CLI_DEFAULTS });
  const text = toYaml(config.toPlain());
  return { config, yaml: parse(text), text };
}

function writeConfig(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

/**
 * A YAML section against the validated instance the run uses: exactly the keys its class
 * declares (the variant's, for data and optimizer), each with the instance's value; null only
 * where the instance leaves the option unset, and only for options listed in UNSET_BY_DESIGN.
 */
function expectEveryOption(where: string, shown: unknown, instance: object): void {
  expect(shown, `${where} is a mapping`).toBeTypeOf('object');
  const keys = optionKeys(instance.constructor);
  expect(keys.length, `${where}: ${instance.constructor.name} declares options`).toBeGreaterThan(0);
  expect(Object.keys(shown as object).sort(), `${where}: the keys of ${instance.constructor.name}`).toEqual([...keys].sort());
  for (const key of keys) {
    const value = (instance as Record<string, unknown>)[key];
    const yamlValue = (shown as Record<string, unknown>)[key];
    if (value === undefined) {
      expect(yamlValue, `${where}.${key}: unset, shown as null`).toBeNull();
      expect(UNSET_BY_DESIGN, `${where}.${key} has no default: give it one, or list it in UNSET_BY_DESIGN with the reason`).toHaveProperty([`${where}.${key}`]);
    } else {
      expect(yamlValue, `${where}.${key}`).toEqual(toPlainData(value));
    }
  }
}

/** Every section of the root and of the method, and every callback entry, has all its options. */
function expectComplete(r: Resolved): void {
  const { config, yaml } = r;
  const methodSections = Object.keys(toPlainData(config.methodConfig) as object);
  expect(methodSections).toEqual(expect.arrayContaining(['model', 'augment', 'optimizer']));
  expect(Object.keys(yaml).sort()).toEqual(['name', 'method', 'plugins', 'trainer', 'data', 'val', 'export', 'callbacks', ...methodSections].sort());
  expectEveryOption('trainer', yaml.trainer, config.root.trainer);
  expectEveryOption('data', yaml.data, config.root.data);
  if (config.root.val) expectEveryOption('data', yaml.val, config.root.val);
  else expect(yaml.val).toBeNull();
  expectEveryOption('export', yaml.export, config.root.export);
  for (const section of methodSections) expectEveryOption(section, yaml[section], (config.methodConfig as Record<string, object>)[section]);

  const entries = yaml.callbacks as Array<Record<string, unknown>>;
  expect(entries.map((e) => e.name)).toEqual(config.callbacks.map((c) => c.name));
  config.callbacks.forEach((cb, i) => {
    const { name, ...options } = entries[i];
    expect(name).toBe(cb.name);
    if (cb.info.options) {
      expect(cb.options).toBeInstanceOf(cb.info.options);
      expectEveryOption(cb.name, options, cb.options);
    } else {
      expect(options, `${cb.name} registered no options class`).toEqual({});
    }
  });
}

describe('config.resolved.yaml shows every option with its value', () => {
  it('the main config with every registered callback listed', async () => {
    const listed = new Set(((await resolve(MAIN)).yaml.callbacks as Array<{ name: string }>).map((c) => c.name));
    const rest = plugins.callbackNames().filter((n) => !listed.has(n));
    // the README's main job, plus the registered callbacks it does not list, with their defaults
    const file = writeConfig('main-all-callbacks.yaml', `${fs.readFileSync(MAIN, 'utf8').trimEnd()}\n${rest.map((n) => `  - name: ${n}\n`).join('')}`);
    const r = await resolve(file);
    expect(new Set((r.yaml.callbacks as Array<{ name: string }>).map((c) => c.name))).toEqual(new Set(plugins.callbackNames()));
    expectComplete(r);
    // the values the file sets, and defaults it does not mention
    const byName = (n: string) => (r.yaml.callbacks as Array<Record<string, unknown>>).find((c) => c.name === n)!;
    expect(byName('ema')).toMatchObject({ tauBase: 0.97, bnStats: 'ema', schedule: 'cosine' });
    expect(byName('lr-schedule')).toMatchObject({ schedule: 'cosine', warmupEpochs: 0.8, minLr: 0, baseLr: null });
    expect(byName('linear-probe')).toMatchObject({ epochs: 100, lr: 0.01, every: 1, probeBatchSize: null });
    expect(r.yaml.optimizer).toEqual({
      name: 'lars',
      lr: 1,
      scaleLr: true,
      weightDecay: 1e-5,
      microBatches: 1,
      predictorLrMultiplier: 10,
      predictorFixedLr: true,
      momentum: 0.9,
      nesterov: false,
      eta: 0.02,
      clipTrustRatio: true,
    });
    expect(r.yaml.augment).toEqual({ preset: 'byol-small-gray', size: null, t: {}, tPrime: {}, localCrops: null });
  });

  it('a minimal config: the defaults of every section and of the default callbacks', async () => {
    const r = await resolve(writeConfig('minimal.yaml', 'method: byol\ndata:\n  name: fashion-mnist\n'));
    expectComplete(r);
    expect(r.yaml.trainer).toEqual({ epochs: 10, batchSize: 128, backend: 'auto', webgpuAdapter: 'any', nativeKernels: 'auto', threads: null, seed: 0, stepsPerEpoch: null, maxSteps: null, logEvery: 10 });
    expect(r.yaml.data).toEqual({ name: 'fashion-mnist', path: null, split: 'train', limit: null, source: 'auto' });
    expect(r.yaml.model).toEqual({ backbone: 'resnet18', stem: 'cifar', width: 1, projectorHiddenDim: 4096, projectorDim: 256, zeroInitResidual: false, predictorHiddenDim: 4096, seed: null });
    // no augment: section: the preset follows the data's channels
    expect(r.yaml.augment).toMatchObject({ preset: 'auto' });
    expect(r.yaml.optimizer).toMatchObject({ name: 'lars', lr: 0.2, scaleLr: true, momentum: 0.9, weightDecay: 1.5e-6, eta: 1e-3, clipTrustRatio: false });
    const names = (r.yaml.callbacks as Array<{ name: string }>).map((c) => c.name);
    expect(names).toEqual(['metrics-logger', 'plots', 'progress', 'checkpoint', 'target-init', 'ema']);
    expect((r.yaml.callbacks as Array<Record<string, unknown>>)[5]).toEqual({
      name: 'ema',
      tauBase: 0.99,
      schedule: 'cosine',
      bnStats: 'ema',
      pairs: [
        ['online_encoder', 'target_encoder'],
        ['online_projector', 'target_projector'],
      ],
    });
  });

  it("each optimizer shows its own keys and defaults, not another's", async () => {
    const minimal = writeConfig('minimal-opt.yaml', 'method: byol\ndata:\n  name: fashion-mnist\n');
    const cases = [
      ['lars', LarsOptimizerConfig, { weightDecay: 1.5e-6, momentum: 0.9, nesterov: false, eta: 1e-3, clipTrustRatio: false }],
      ['sgd', SgdOptimizerConfig, { weightDecay: 1.5e-6, momentum: 0.9, nesterov: false }],
      ['adam', AdamOptimizerConfig, { weightDecay: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }],
      ['adamw', AdamWOptimizerConfig, { weightDecay: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }],
    ] as const;
    for (const [name, cls, own] of cases) {
      const r = await resolve(minimal, [`optimizer.name=${name}`]);
      expectComplete(r);
      const section = (r.config.methodConfig as { optimizer: object }).optimizer;
      expect(section).toBeInstanceOf(cls);
      expect(r.yaml.optimizer).toEqual({ name, lr: 0.2, scaleLr: true, microBatches: 1, predictorLrMultiplier: 1, predictorFixedLr: false, ...own });
    }
    // a key of another optimizer is named as such, not dropped
    await expect(resolve(MAIN, ['optimizer.name=adam'])).rejects.toThrow(/optimizer\.eta: unknown key .*; eta is a key of name: lars, not of name: adam/);
  });

  it('an image folder shows the image-folder keys with their defaults', async () => {
    const r = await resolve(IMAGE_FOLDER, ['data.path=/somewhere/images']);
    expectComplete(r);
    expect(r.yaml.data).toMatchObject({ name: 'image-folder', path: '/somewhere/images', imageSize: 32, fit: 'cover', include: [], labeled: true, verify: false, concurrency: null });
    expect(r.yaml.val).toMatchObject({ name: 'image-folder', path: '/somewhere/images', split: 'val' });
    expect(r.yaml.data).not.toHaveProperty('source');
  });

  it('resolving config.resolved.yaml again gives the same file (null reads back as unset)', async () => {
    for (const [name, file, overrides] of [
      ['main', MAIN, []],
      ['minimal', writeConfig('minimal-rt.yaml', 'method: byol\ndata:\n  name: fashion-mnist\n'), ['optimizer.name=adamw']],
      ['folder', IMAGE_FOLDER, ['data.path=/somewhere/images']],
    ] as const) {
      const first = await resolve(file, [...overrides]);
      const again = await resolve(writeConfig(`${name}.resolved.yaml`, first.text));
      expect(again.text).toBe(first.text);
      expect(again.config.root.trainer.threads).toBeUndefined();
    }
  });
});
