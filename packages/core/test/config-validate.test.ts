import { describe, expect, it } from 'vitest';
import { Type } from 'class-transformer';
import { IsInt, IsString, Min, ValidateNested } from 'class-validator';
import { ConfigError, DataConfig, ImageFolderDataConfig, RootConfig, Section, TrainerConfig, validateConfig } from '../src/config';

/** The ConfigError a call throws (fails the test if it does not throw one). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const minimal = { method: 'byol', data: { name: 'fashion-mnist' } };

describe('validateConfig', () => {
  it('applies the defaults and keeps the given values', () => {
    const t = validateConfig(TrainerConfig, { epochs: 3 });
    expect(t).toBeInstanceOf(TrainerConfig);
    expect({ ...t }).toEqual({ epochs: 3, batchSize: 128, backend: 'auto', webgpuAdapter: 'any', nativeKernels: 'auto', seed: 0, logEvery: 10 });
    const root = validateConfig(RootConfig, minimal);
    expect(root.trainer).toBeInstanceOf(TrainerConfig);
    expect(root.trainer.epochs).toBe(10);
    expect(root.data).toBeInstanceOf(DataConfig);
    expect(root.plugins).toEqual([]);
    expect(root.callbacks).toEqual([]);
    expect(root.name).toBe('run');
  });

  it('an unknown key names its full path and the allowed keys, with a hint for a typo', () => {
    const err = configError(() =>
      validateConfig(RootConfig, { ...minimal, trainer: { epochz: 5 } }, { file: 'examples/configs/x.yaml' }),
    );
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain(
      'examples/configs/x.yaml: trainer.epochz: unknown key (allowed: epochs, batchSize, backend, webgpuAdapter, nativeKernels, threads, seed, stepsPerEpoch, maxSteps, logEvery); did you mean "epochs"?',
    );
  });

  it('an unknown top-level key suggests the section it was meant to be (swapped letters)', () => {
    const err = configError(() => validateConfig(RootConfig, { ...minimal, modle: { width: 2 } }));
    expect(err.message).toContain('modle: unknown key (allowed: name, method, plugins, trainer, data, val, export, callbacks, model, augment, optimizer, schedule); did you mean "model"?');
  });

  it('a wrong type names key path, value and rule, and is not converted implicitly', () => {
    const err = configError(() => validateConfig(RootConfig, { ...minimal, trainer: { epochs: '10' } }, { file: 'x.yaml' }));
    // Only the type rule: "10" breaking "must not be less than 1" would be noise.
    expect(err.message.split('\n').slice(1)).toEqual(['x.yaml: trainer.epochs = "10": epochs must be an integer number']);
    const b = configError(() => validateConfig(DataConfig, { name: 'image-folder', path: 'imgs', imageSize: 8, cache: 'yes' }, { path: 'data' }));
    expect(b.message).toContain('data.cache = "yes": cache must be a boolean value');
  });

  it('an out-of-range value names key path, value and rule (the example of the issue)', () => {
    const err = configError(() => validateConfig(RootConfig, { ...minimal, trainer: { epochs: -1 } }, { file: 'examples/configs/x.yaml' }));
    expect(err.message).toContain('examples/configs/x.yaml: trainer.epochs = -1: epochs must not be less than 1');
    const b = configError(() => validateConfig(RootConfig, { ...minimal, trainer: { backend: 'gpu' } }));
    expect(b.message).toContain('trainer.backend = "gpu": backend must be one of the following values: auto, tensorflow, webgpu, wasm, cpu');
  });

  it('export.encoder defaults to best and rejects a value outside online | target | best, naming file, key and value', () => {
    expect(validateConfig(RootConfig, minimal).export.encoder).toBe('best');
    expect(validateConfig(RootConfig, { ...minimal, export: { encoder: 'target' } }).export.encoder).toBe('target');
    const err = configError(() => validateConfig(RootConfig, { ...minimal, export: { encoder: 'ema' } }, { file: 'x.yaml' }));
    expect(err.message.split('\n').slice(1)).toEqual(['x.yaml: export.encoder = "ema": encoder must be one of the following values: online, target, best']);
    const typo = configError(() => validateConfig(RootConfig, { ...minimal, export: { encodr: 'online' } }));
    expect(typo.message).toContain('export.encodr: unknown key (allowed: encoder); did you mean "encoder"?');
  });

  it('reports every problem at once, one per line', () => {
    const err = configError(() =>
      validateConfig(
        RootConfig,
        {
          method: 'byol',
          trainer: { epochs: 0, batchSize: 1.5, threads: 0, oops: true },
          data: { name: 'image-folder', include: ['*.png', 3] },
          val: { name: 'cifar' },
        },
        { file: 'c.yaml' },
      ),
    );
    expect(err.problems.map((p) => p.path).sort()).toEqual(
      ['data.imageSize', 'data.include', 'data.path', 'trainer.batchSize', 'trainer.epochs', 'trainer.oops', 'trainer.threads', 'val.name'].sort(),
    );
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('invalid config c.yaml: 8 problems (fix the file, or override a key with --set key=value)');
    expect(lines.slice(1).sort()).toEqual(
      [
        'c.yaml: data.imageSize (missing): imageSize is required for image-folder: a side length or [height, width] to resize every image to',
        'c.yaml: data.include = ["*.png",3]: each value in include must be a string',
        'c.yaml: data.path (missing): path is required for image-folder: a directory with one sub-folder of images per class',
        'c.yaml: trainer.batchSize = 1.5: batchSize must be an integer number',
        'c.yaml: trainer.epochs = 0: epochs must not be less than 1',
        'c.yaml: trainer.oops: unknown key (allowed: epochs, batchSize, backend, webgpuAdapter, nativeKernels, threads, seed, stepsPerEpoch, maxSteps, logEvery)',
        'c.yaml: trainer.threads = 0: threads must not be less than 1',
        'c.yaml: val.name = "cifar": name must be one of the following values: fashion-mnist, mnist, image-folder',
      ].sort(),
    );
  });

  it('data: image sizes and hold-out fractions', () => {
    const ok = validateConfig(DataConfig, { name: 'image-folder', path: 'imgs', imageSize: [32, 48], valSize: 0.2, testSize: 0 });
    expect(ok).toBeInstanceOf(ImageFolderDataConfig);
    expect((ok as ImageFolderDataConfig).imageSize).toEqual([32, 48]);
    const err = configError(() => validateConfig(DataConfig, { name: 'image-folder', path: 'imgs', imageSize: [32], valSize: 1, testSize: -0.1 }, { path: 'data' }));
    expect(err.message.split('\n').slice(1).sort()).toEqual([
      'data.imageSize = [32]: imageSize must be a positive integer (square) or [height, width]',
      'data.testSize = -0.1: testSize must be a fraction in [0, 1)',
      'data.valSize = 1: valSize must be a fraction in [0, 1)',
    ]);
  });

  it('missing and empty sections say what to write', () => {
    const err = configError(() => validateConfig(RootConfig, { trainer: null }));
    expect(err.message).toContain('method (missing): method is required: the registered method to train (e.g. byol)');
    expect(err.message).toContain('data (missing): data is required: add a data: section');
    expect(err.message).toContain('trainer = null: trainer is empty: write its keys under it, or remove the line to get the defaults');
    const list = configError(() => validateConfig(RootConfig, { ...minimal, trainer: [1, 2] }));
    expect(list.message.split('\n').slice(1)).toEqual(['trainer = [1,2]: trainer must be a mapping (key: value lines)']);
  });

  it('nested lists get indexed key paths', () => {
    class Item {
      @IsString() id!: string;
      @IsInt() @Min(0) n: number = 0;
    }
    class List {
      @ValidateNested({ each: true })
      @Type(() => Item)
      items: Item[] = [];

      @Section(() => Item, { optional: true })
      one?: Item;
    }
    const err = configError(() =>
      validateConfig(List, { items: [{ id: 'a' }, { id: 'b', n: -2 }, { id: 3, extra: 1 }], one: { id: 'x', n: 'many' } }, { path: 'root' }),
    );
    expect(err.message.split('\n').slice(1).sort()).toEqual([
      'root.items[1].n = -2: n must not be less than 0',
      'root.items[2].extra: unknown key (allowed: id, n)',
      'root.items[2].id = 3: id must be a string',
      'root.one.n = "many": n must be an integer number',
    ]);
    const ok = validateConfig(List, { items: [{ id: 'a' }] });
    expect(ok.items[0]).toBeInstanceOf(Item);
    expect(ok.items[0].n).toBe(0);
    expect(ok.one).toBeUndefined();
  });

  it('a value that is not a mapping at all is one clear problem', () => {
    const err = configError(() => validateConfig(TrainerConfig, 'fast', { path: 'trainer' }));
    expect(err.message).toContain('trainer = "fast": must be a mapping with the keys epochs, batchSize');
  });

  it('long values are shortened in messages', () => {
    const err = configError(() => validateConfig(DataConfig, { name: 'mnist', path: 'x'.repeat(500), limit: 'y'.repeat(500) }));
    const line = err.message.split('\n').find((l) => l.startsWith('limit'))!;
    expect(line.length).toBeLessThan(140);
    expect(line).toMatch(/^limit = "y+\.\.\.: limit must be an integer number$/);
  });
});
