import * as fs from 'fs';
import * as path from 'path';
import { readIdxFile } from './idx';
import { UserError } from '../config/errors';

export type IdxSplitPrefix = 'train' | 't10k';

export interface IdxFilePair {
  images: string;
  labels: string;
}

/** File names MNIST-style datasets are distributed under, compressed or not. */
function candidates(prefix: IdxSplitPrefix, kind: 'images' | 'labels'): string[] {
  const rank = kind === 'images' ? 3 : 1;
  return [`${prefix}-${kind}-idx${rank}-ubyte.gz`, `${prefix}-${kind}-idx${rank}-ubyte`, `${prefix}-${kind}.idx${rank}-ubyte`];
}

/**
 * The images+labels files of one split in `dir`; undefined when neither exists. Only one of
 * the two present is an error: a half-copied dataset should not be silently skipped.
 */
export function findIdxPair(dir: string, prefix: IdxSplitPrefix): IdxFilePair | undefined {
  const find = (kind: 'images' | 'labels') => candidates(prefix, kind).map((n) => path.join(dir, n)).find((f) => fs.existsSync(f));
  const images = find('images');
  const labels = find('labels');
  if (!images && !labels) return undefined;
  if (!images || !labels) {
    const missing = !images ? 'images' : 'labels';
    throw new UserError(`${dir} has ${images ?? labels} but no ${missing} file (looked for ${candidates(prefix, missing).join(', ')})`);
  }
  return { images, labels };
}

export function describeExpectedFiles(prefix: IdxSplitPrefix): string {
  return `${candidates(prefix, 'images')[0]} and ${candidates(prefix, 'labels')[0]} (or uncompressed)`;
}

export interface LoadedIdxImages {
  pixels: Uint8Array;
  labels: Int32Array;
  imageShape: [number, number, number];
}

/** Reads and cross-checks an images/labels pair; `limit` keeps the first N examples. */
export async function loadIdxImages(pair: IdxFilePair, numClasses: number, limit?: number): Promise<LoadedIdxImages> {
  const [images, labels] = await Promise.all([
    readIdxFile(pair.images, { type: 'ubyte', ndims: 3 }),
    readIdxFile(pair.labels, { type: 'ubyte', ndims: 1 }),
  ]);
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) {
    throw new UserError(`image/label count mismatch: ${pair.images} holds ${n} images but ${pair.labels} holds ${labels.dims[0]} labels; they must come from the same split.`);
  }
  const raw = labels.data as Uint8Array;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] >= numClasses) {
      throw new UserError(`${pair.labels}: label ${raw[i]} at index ${i} is out of range; expected 0..${numClasses - 1}`);
    }
  }
  const keep = limit === undefined ? n : Math.min(n, limit);
  const per = h * w;
  return {
    pixels: keep === n ? (images.data as Uint8Array) : (images.data as Uint8Array).slice(0, keep * per),
    labels: Int32Array.from(raw.subarray(0, keep)),
    imageShape: [h, w, 1],
  };
}
