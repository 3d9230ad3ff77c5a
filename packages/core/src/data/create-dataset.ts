import { FashionMnistDataset } from './fashion-mnist';
import { ImageFolderDataset, type ImageFolderOptions } from './image-folder';
import { MnistDataset } from './mnist';
import type { DataLogFn, ImageDataset } from './types';
import { UserError } from '../config/errors';
import { DATASET_NAMES, type DatasetName } from '../config/data';

export { DATASET_NAMES, type DatasetName };

/** The YAML `data:` section, one dataset. */
export interface DatasetConfig extends Partial<Omit<ImageFolderOptions, 'path' | 'split' | 'log' | 'name'>> {
  name: DatasetName;
  path?: string;
  /** IDX datasets: train or test ('val' reads the official test split). Image folders: train, val, test or all. */
  split?: 'train' | 'val' | 'test' | 'all';
  limit?: number;
  /** Fashion-MNIST only: 'embedded' forces the subset shipped with the package. */
  source?: 'auto' | 'embedded';
}

const COMMON_KEYS = ['name', 'path', 'split', 'limit'];
const IMAGE_FOLDER_KEYS = ['imageSize', 'channels', 'valSize', 'testSize', 'seed', 'include', 'exclude', 'labeled', 'cache', 'skipBadImages', 'concurrency', 'prefetch', 'verify', 'fit'];
/** Every key createDataset understands (for config schemas). */
export const DATASET_CONFIG_KEYS = [...COMMON_KEYS, 'source', ...IMAGE_FOLDER_KEYS];

export interface CreateDatasetOptions {
  log?: DataLogFn;
  /** Passed to Fashion-MNIST's lookup (tests). */
  env?: Record<string, string | undefined>;
  systemDir?: string;
}

function idxSplit(name: string, split: DatasetConfig['split'], log: DataLogFn): 'train' | 'test' {
  if (split === undefined || split === 'train' || split === 'test') return split ?? 'train';
  if (split === 'val') {
    // As solo-learn does for CIFAR: these datasets have no val split, evaluation uses test.
    log(`[selfsup] ${name} has no val split; using the official test split for val`);
    return 'test';
  }
  throw new UserError(`data.split: ${name} has splits train and test (val = test), got ${JSON.stringify(split)}`);
}

/** Builds the dataset a `data:` config section describes. */
export async function createDataset(config: DatasetConfig, opts: CreateDatasetOptions = {}): Promise<ImageDataset> {
  if (!config || typeof config !== 'object') throw new UserError(`data: expected a mapping with a name (${DATASET_NAMES.join(', ')}), got ${JSON.stringify(config)}`);
  const log = opts.log ?? console.log;
  const set = Object.entries(config)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  const unknown = set.filter((k) => !DATASET_CONFIG_KEYS.includes(k));
  if (unknown.length > 0) throw new UserError(`data.${unknown[0]}: unknown key (known: ${DATASET_CONFIG_KEYS.join(', ')})`);
  if (!DATASET_NAMES.includes(config.name)) throw new UserError(`data.name: unknown dataset ${JSON.stringify(config.name)}; expected one of ${DATASET_NAMES.join(', ')}`);

  if (config.name === 'image-folder') {
    if (config.source !== undefined) throw new UserError('data.source applies to fashion-mnist only');
    if (!config.path) throw new UserError('data.path is required for image-folder: the folder holding one sub-folder per class');
    if (config.imageSize === undefined) throw new UserError('data.imageSize is required for image-folder: [height, width] to resize every image to');
    const { name: _name, ...rest } = config;
    return ImageFolderDataset.open({ ...rest, path: config.path, imageSize: config.imageSize, log });
  }

  const misplaced = set.find((k) => IMAGE_FOLDER_KEYS.includes(k));
  if (misplaced) throw new UserError(`data.${misplaced} applies to image-folder datasets only, not ${config.name} (its images are 28x28x1; resize in the augmentation)`);
  const split = idxSplit(config.name, config.split, log);
  if (config.name === 'mnist') {
    if (config.source !== undefined) throw new UserError('data.source applies to fashion-mnist only');
    return MnistDataset.load({ split, path: config.path, limit: config.limit, log });
  }
  return FashionMnistDataset.load({ split, path: config.path, limit: config.limit, source: config.source, log, env: opts.env, systemDir: opts.systemDir });
}
