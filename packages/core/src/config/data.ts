import { IsArray, IsBoolean, IsIn, IsInt, IsNotEmpty, IsNumber, IsOptional, IsString, Min, ValidateBy, ValidateIf, type ValidationOptions } from 'class-validator';
import { DATASET_NAMES, type DatasetConfig, type DatasetName } from '../data/create-dataset';

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
 * The `data:` (and `val:`) section: what `createDataset` takes. Rules that depend on the
 * files (which splits exist, whether images decode) are checked by the dataset when it opens.
 */
export class DataConfig implements DatasetConfig {
  @IsIn(DATASET_NAMES)
  name!: DatasetName;

  @ValidateIf((o: DataConfig) => o.name === 'image-folder' || o.path !== undefined)
  @IsString({ message: requiredFor('path', 'a directory with one sub-folder of images per class') })
  @IsNotEmpty()
  path?: string;

  @IsOptional()
  @IsIn(DATA_SPLITS)
  split?: DataSplit;

  /** Use only the first N examples. */
  @IsOptional()
  @IsInt()
  @Min(1)
  limit?: number;

  /** Fashion-MNIST: 'embedded' forces the subset shipped with the package. */
  @IsOptional()
  @IsIn(['auto', 'embedded'])
  source?: 'auto' | 'embedded';

  /** image-folder: every image is resized to this (a number means square). */
  @ValidateIf((o: DataConfig) => o.name === 'image-folder' || o.imageSize !== undefined)
  @IsImageSize({
    message: (a) => (a.value === undefined ? 'imageSize is required for image-folder: a side length or [height, width] to resize every image to' : `imageSize must be a positive integer (square) or [height, width]`),
  })
  imageSize?: number | [number, number];

  @IsOptional()
  @IsIn([1, 3])
  channels?: 1 | 3;

  /** Fraction of each class held out for validation (image-folder without val.txt). */
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsFraction()
  valSize?: number;

  /** Fraction of each class held out for testing (image-folder without test.txt). */
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsFraction()
  testSize?: number;

  /** Seed of the train/val/test split (not of the batch order). */
  @IsOptional()
  @IsInt()
  seed?: number;

  /** Globs or /regex/ matched against paths relative to `path`. */
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  include?: string[];

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  exclude?: string[];

  @IsOptional()
  @IsBoolean()
  labeled?: boolean;

  @IsOptional()
  @IsBoolean()
  cache?: boolean;

  @IsOptional()
  @IsBoolean()
  skipBadImages?: boolean;

  /** Images decoded in parallel. */
  @IsOptional()
  @IsInt()
  @Min(1)
  concurrency?: number;

  /** Batches decoded ahead of the one being consumed. */
  @IsOptional()
  @IsInt()
  @Min(0)
  prefetch?: number;

  /** Decode every image once when opening, so bad files fail up front. */
  @IsOptional()
  @IsBoolean()
  verify?: boolean;

  /** How the aspect ratio maps onto imageSize (sharp's `fit`). */
  @IsOptional()
  @IsIn(['fill', 'cover', 'contain'])
  fit?: 'fill' | 'cover' | 'contain';
}
