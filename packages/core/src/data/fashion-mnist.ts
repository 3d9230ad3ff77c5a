import * as path from 'path';
import { describeExpectedFiles, findIdxPair, loadIdxImages, type IdxFilePair } from './idx-dataset';
import { InMemoryImageDataset, type InMemoryImageDatasetInit } from './in-memory-dataset';
import { embeddedFashionMnistDir } from './package-root';
import type { DataLogFn } from './types';
import { UserError } from '../config/errors';

/** Class names in label order, from the Fashion-MNIST README. */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** Where Debian's `dataset-fashion-mnist` package installs the official files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export type FashionMnistSourceKind = 'path' | 'env' | 'system' | 'embedded';

export interface FashionMnistSource {
  kind: FashionMnistSourceKind;
  dir: string;
  files: IdxFilePair;
}

export interface FashionMnistLoadOptions {
  split?: 'train' | 'test';
  /** A directory holding the IDX files (or a `fashion-mnist` sub-folder). Must contain them if given. */
  path?: string;
  /** Keep the first N examples. */
  limit?: number;
  /** 'embedded' forces the subset shipped with the package; 'auto' (default) searches first. */
  source?: 'auto' | 'embedded';
  /** Where the line saying which files were used goes (default console.log). */
  log?: DataLogFn;
  /** Environment to read $SELFSUP_DATA from (default process.env). */
  env?: Record<string, string | undefined>;
  /** The system-wide directory searched after $SELFSUP_DATA (default Debian's). */
  systemDir?: string;
}

const SPLIT_PREFIX = { train: 'train', test: 't10k' } as const;

/** Looks up the split's files: configured path, $SELFSUP_DATA, the Debian package, the embedded subset. */
export function locateFashionMnist(opts: FashionMnistLoadOptions = {}): FashionMnistSource {
  const split = opts.split ?? 'train';
  const prefix = SPLIT_PREFIX[split];
  const embedded = (): FashionMnistSource => {
    const dir = embeddedFashionMnistDir();
    const files = findIdxPair(dir, prefix);
    if (!files) throw new Error(`the embedded Fashion-MNIST subset is missing from ${dir} (expected ${describeExpectedFiles(prefix)}); regenerate it with \`node scripts/make-fashion-mnist-subset.cjs\``);
    return { kind: 'embedded', dir, files };
  };
  if (opts.source === 'embedded') return embedded();

  const inDir = (dir: string) => [path.join(dir, 'fashion-mnist'), dir];
  if (opts.path) {
    // An explicit path that lacks the files is a mistake to report, not a reason to train
    // silently on the small embedded subset.
    for (const dir of inDir(path.resolve(opts.path))) {
      const files = findIdxPair(dir, prefix);
      if (files) return { kind: 'path', dir, files };
    }
    throw new UserError(`Fashion-MNIST ${split} split not found in data path ${path.resolve(opts.path)} (nor in its fashion-mnist/ sub-folder): expected ${describeExpectedFiles(prefix)}. Fix data.path, or remove it to use $SELFSUP_DATA, ${DEBIAN_FASHION_MNIST_DIR} or the embedded subset.`);
  }
  const envDir = (opts.env ?? process.env).SELFSUP_DATA;
  if (envDir) {
    for (const dir of inDir(path.resolve(envDir))) {
      const files = findIdxPair(dir, prefix);
      if (files) return { kind: 'env', dir, files };
    }
  }
  const systemDir = opts.systemDir ?? DEBIAN_FASHION_MNIST_DIR;
  const files = findIdxPair(systemDir, prefix);
  if (files) return { kind: 'system', dir: systemDir, files };
  return embedded();
}

const SOURCE_LABEL: Record<FashionMnistSourceKind, string> = {
  path: 'the configured data path',
  env: '$SELFSUP_DATA',
  system: "Debian's dataset-fashion-mnist",
  embedded: 'the embedded subset shipped with @selfsup/core',
};

export class FashionMnistDataset extends InMemoryImageDataset {
  readonly split: 'train' | 'test';
  readonly source: FashionMnistSource;

  private constructor(init: InMemoryImageDatasetInit, split: 'train' | 'test', source: FashionMnistSource) {
    super(init);
    this.split = split;
    this.source = source;
  }

  static async load(opts: FashionMnistLoadOptions = {}): Promise<FashionMnistDataset> {
    const split = opts.split ?? 'train';
    if (split !== 'train' && split !== 'test') throw new Error(`Fashion-MNIST split must be "train" or "test", got ${JSON.stringify(split)}`);
    const source = locateFashionMnist({ ...opts, split });
    const loaded = await loadIdxImages(source.files, FASHION_MNIST_CLASSES.length, opts.limit);
    const ds = new FashionMnistDataset(
      { name: `fashion-mnist-${split}`, pixels: loaded.pixels, labels: loaded.labels, imageShape: loaded.imageShape, classNames: FASHION_MNIST_CLASSES },
      split,
      source,
    );
    const hint = source.kind === 'embedded' ? ' — a small class-balanced subset; for the full 60k/10k install Debian\'s dataset-fashion-mnist or set $SELFSUP_DATA' : '';
    (opts.log ?? console.log)(`[selfsup] Fashion-MNIST ${split}: ${ds.size} images from ${SOURCE_LABEL[source.kind]} (${source.dir})${hint}`);
    return ds;
  }
}
