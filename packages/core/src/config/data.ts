import { IsArray, IsBoolean, IsIn, IsInt, IsNotEmpty, IsNumber, IsOptional, IsString, Min, ValidateBy, ValidateIf, type ValidationOptions } from 'class-validator';
import type { DatasetConfig } from '../data/create-dataset';
import type { ConfigClass, ConfigVariants } from './validate';

export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'image-folder'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export const DATA_SPLITS = ['train', 'val', 'test', 'all'] as const;
export type DataSplit = (typeof DATA_SPLITS)[number];

const positiveInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/** A side length, or [height, width]: positive integers. */
function IsImageSize(opts?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isImageSize',
      validator: {
        validate: (v) => positiveInt(v) || (Array.isArray(v) && v.length === 2 && v.every(positiveInt)),
        defaultMessage: (a) => `${a?.property} must be a positive integer (square) or [height, width]`,
      },
    },
    opts,
  );
}

/** A fraction in [0, 1): holding out everything would leave nothing to train on. */
function IsFraction(opts?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isFraction',
      validator: {
        validate: (v) => typeof v === 'number' && v >= 0 && v < 1,
        defaultMessage: (a) => `${a?.property} must be a fraction in [0, 1)`,
      },
    },
    opts,
  );
}

const requiredFor = (key: string, what: string) => (a: { value: unknown }) =>
  a.value === undefined ? `${key} is required for image-folder: ${what}` : `${key} must be a string`;

/**
 * The `data:` (and `val:`) section: what `createDataset` takes. Each dataset has its own
 * class (its keys and their defaults), picked by `name`: {@link FashionMnistDataConfig},
 * {@link MnistDataConfig}, {@link ImageFolderDataConfig}; this base holds the keys they share
 * (and checks a section whose name is unknown). Rules that depend on the files (which splits
 * exist, whether images decode) are checked by the dataset when it opens.
 */
export class DataConfig implements DatasetConfig {
  @IsIn(DATASET_NAMES)
  name!: DatasetName;

  /** fashion-mnist, mnist: the folder of the IDX files (default: where the dataset looks by itself); image-folder: required. */
  @ValidateIf((o: DataConfig) => o.name === 'image-folder' || o.path !== undefined)
  @IsString({ message: requiredFor('path', 'a directory with one sub-folder of images per class') })
  @IsNotEmpty()
  path?: string;

  /** IDX datasets: train or test (val reads the test split). Image folders: train, val, test or all. */
  @IsIn(DATA_SPLITS)
  split: DataSplit = 'train';

  /** Use only the first N examples (default: all). */
  @IsOptional()
  @IsInt()
  @Min(1)
  limit?: number;

  /** Each dataset's class, by `name` (an unknown name is checked by this base class). */
  static get variants(): ConfigVariants {
    return { by: 'name', classes: DATA_VARIANTS };
  }
}

/** `name: fashion-mnist`. */
export class FashionMnistDataConfig extends DataConfig {
  /** 'embedded' forces the subset shipped with the package; 'auto' looks for the full dataset first (data.path, $SELFSUP_DATA, Debian's package). */
  @IsIn(['auto', 'embedded'])
  source: 'auto' | 'embedded' = 'auto';
}

/** `name: mnist`. */
export class MnistDataConfig extends DataConfig {}

/** `name: image-folder`: a folder with one sub-folder of images per class. */
export class ImageFolderDataConfig extends DataConfig {
  /** Every image is resized to this (a number means square). */
  @ValidateIf((o: DataConfig) => o.name === 'image-folder' || (o as ImageFolderDataConfig).imageSize !== undefined)
  @IsImageSize({
    message: (a) => (a.value === undefined ? 'imageSize is required for image-folder: a side length or [height, width] to resize every image to' : `imageSize must be a positive integer (square) or [height, width]`),
  })
  imageSize?: number | [number, number];

  /** 1 = grayscale, 3 = RGB. Alpha is always dropped. */
  @IsIn([1, 3])
  channels: 1 | 3 = 3;

  /** Fraction of each class held out for validation (image-folder without val.txt). */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsFraction()
  valSize: number = 0.1;

  /** Fraction of each class held out for testing (image-folder without test.txt). */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsFraction()
  testSize: number = 0;

  /** Seed of the train/val/test split (not of the batch order). */
  @IsInt()
  seed: number = 0;

  /** Keep only these files: globs or /regex/ matched against paths relative to `path` (empty: all). */
  @IsArray()
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  include: string[] = [];

  @IsArray()
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  exclude: string[] = [];

  /** true: labels from the class folders; false: every image under path, no labels. */
  @IsBoolean()
  labeled: boolean = true;

  /** Keep decoded images in memory after their first decode (false: streaming). */
  @IsBoolean()
  cache: boolean = false;

  /** Warn about and skip unreadable images instead of failing. */
  @IsBoolean()
  skipBadImages: boolean = false;

  /** Images decoded in parallel (default: the number of CPUs, at least 2). */
  @IsOptional()
  @IsInt()
  @Min(1)
  concurrency?: number;

  /** Batches decoded ahead of the one being consumed. */
  @IsInt()
  @Min(0)
  prefetch: number = 2;

  /** Decode every image once when opening, so bad files fail up front. */
  @IsBoolean()
  verify: boolean = false;

  /** How the aspect ratio maps onto imageSize (sharp's `fit`). */
  @IsIn(['fill', 'cover', 'contain'])
  fit: 'fill' | 'cover' | 'contain' = 'fill';
}

const DATA_VARIANTS: Record<DatasetName, ConfigClass> = {
  'fashion-mnist': FashionMnistDataConfig,
  mnist: MnistDataConfig,
  'image-folder': ImageFolderDataConfig,
};
