import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { countBatches, epochBatches, resolveBatchOptions } from '../batch-order';
import type { BatchOptions, DataLogFn, ImageBatch, ImageDataset } from '../types';
import { decodeImageFile, type DecodeTarget } from './decode';
import { ConcurrencyLimiter } from './limiter';
import { makePathFilter, type PathPattern } from './path-filter';
import { scanFolder, selectSplit, type FolderEntry, type FolderSplit } from './scan';
import { UserError } from '../../config/errors';
import { ImageFolderDataConfig } from '../../config/data';

/** The defaults of every option: those of the `data:` section (ImageFolderDataConfig). */
const DEFAULTS = new ImageFolderDataConfig();

/** Options of {@link ImageFolderDataset.open}; their defaults are those of {@link ImageFolderDataConfig}, the `data:` section. */
export interface ImageFolderOptions {
  /** Root folder: one sub-folder per class (Quadra layout), or any folder of images when labeled is false. */
  path: string;
  /** [height, width] every image is resized to (a number means square). */
  imageSize: [number, number] | number;
  /** 1 = grayscale, 3 = RGB (default 3). Alpha is always dropped. */
  channels?: 1 | 3;
  /** Default 'train'. */
  split?: FolderSplit;
  /** Fraction of each class held out for val when there is no val.txt (default 0.1). */
  valSize?: number;
  /** Fraction of each class held out for test when there is no test.txt (default 0). */
  testSize?: number;
  /** Seed of the split (not of the batch order, which BatchOptions.seed sets). Default 0. */
  seed?: number;
  /** Keep only files matching one of these (globs on the relative path, or regular expressions). */
  include?: PathPattern[];
  exclude?: PathPattern[];
  /** Default true: labels from class folders. false: every image under path, no labels. */
  labeled?: boolean;
  /** Keep decoded images in memory after their first decode (default false: streaming). */
  cache?: boolean;
  /** Warn about and skip unreadable images instead of failing (default false). */
  skipBadImages?: boolean;
  /** Images decoded in parallel (default: number of CPUs, at least 2). */
  concurrency?: number;
  /** Batches decoded ahead of the one being consumed (default 2). */
  prefetch?: number;
  /** Decode every image of the split once when opening: bad files fail (or are dropped) up front. */
  verify?: boolean;
  fit?: DecodeTarget['fit'];
  /** Keep the first N examples of the split (in its stable order). */
  limit?: number;
  name?: string;
  log?: DataLogFn;
}

interface DecodedBatch {
  indices: number[];
  pixels: Uint8Array[];
}

function checkFraction(key: string, v: number): void {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new UserError(`image folder option ${key} must be a fraction in [0, 1), got ${JSON.stringify(v)}`);
}

/** Images decoded from files on demand with sharp, a few batches ahead of the consumer. */
export class ImageFolderDataset implements ImageDataset {
  readonly name: string;
  readonly root: string;
  readonly split: FolderSplit;
  readonly imageShape: [number, number, number];
  readonly classNames?: string[];
  readonly hasLabels: boolean;
  /** Where the split came from: a split file, a seeded split, or 'all images'. */
  readonly splitSource: string;
  private entries: FolderEntry[];
  private readonly target: DecodeTarget;
  private readonly limiter: ConcurrencyLimiter;
  private readonly prefetch: number;
  private readonly skipBad: boolean;
  private readonly log: DataLogFn;
  private readonly cache?: Map<number, Uint8Array>;
  /** Bad files met while streaming, by dataset index (they stay in `size`, batches shrink). */
  private readonly bad = new Map<number, string>();
  /** Bad files removed by verify before any index was handed out. */
  private readonly dropped: string[] = [];
  private decoded = 0;

  private constructor(opts: ImageFolderOptions, root: string, entries: FolderEntry[], classNames: string[] | undefined, splitSource: string) {
    const [h, w] = typeof opts.imageSize === 'number' ? [opts.imageSize, opts.imageSize] : opts.imageSize;
    const channels = opts.channels ?? DEFAULTS.channels;
    this.root = root;
    this.split = opts.split ?? DEFAULTS.split;
    this.name = opts.name ?? `${path.basename(root)}-${this.split}`;
    this.entries = entries;
    this.classNames = classNames;
    this.hasLabels = classNames !== undefined;
    this.splitSource = splitSource;
    this.imageShape = [h, w, channels];
    this.target = { height: h, width: w, channels, fit: opts.fit ?? DEFAULTS.fit };
    this.limiter = new ConcurrencyLimiter(opts.concurrency ?? Math.max(2, os.cpus().length));
    this.prefetch = opts.prefetch ?? DEFAULTS.prefetch;
    this.skipBad = opts.skipBadImages ?? DEFAULTS.skipBadImages;
    this.log = opts.log ?? console.log;
    if (opts.cache ?? DEFAULTS.cache) this.cache = new Map();
  }

  static async open(opts: ImageFolderOptions): Promise<ImageFolderDataset> {
    if (!opts || typeof opts.path !== 'string' || opts.path === '') throw new UserError('image folder dataset: path is required (data.path)');
    const size = typeof opts.imageSize === 'number' ? [opts.imageSize, opts.imageSize] : opts.imageSize;
    if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v > 0)) {
      throw new UserError(`image folder option imageSize must be [height, width] (positive integers), got ${JSON.stringify(opts.imageSize)}`);
    }
    if (opts.channels !== undefined && opts.channels !== 1 && opts.channels !== 3) {
      throw new UserError(`image folder option channels must be 1 (grayscale) or 3 (RGB), got ${JSON.stringify(opts.channels)}`);
    }
    const split = opts.split ?? DEFAULTS.split;
    if (!['train', 'val', 'test', 'all'].includes(split)) throw new UserError(`image folder option split must be train, val, test or all, got ${JSON.stringify(split)}`);
    const valSize = opts.valSize ?? DEFAULTS.valSize;
    const testSize = opts.testSize ?? DEFAULTS.testSize;
    checkFraction('valSize', valSize);
    checkFraction('testSize', testSize);
    if (valSize + testSize >= 1) throw new UserError(`image folder options valSize (${valSize}) + testSize (${testSize}) must be < 1`);
    if (opts.prefetch !== undefined && !(Number.isInteger(opts.prefetch) && opts.prefetch >= 0)) {
      throw new UserError(`image folder option prefetch must be an integer ≥ 0, got ${JSON.stringify(opts.prefetch)}`);
    }
    const log = opts.log ?? console.log;

    const keep = makePathFilter(opts.include, opts.exclude);
    const listing = scanFolder(opts.path, opts.labeled ?? DEFAULTS.labeled, keep, log);
    if (listing.entries.length === 0) {
      throw new UserError(`image folder ${listing.root} holds no images${opts.include?.length || opts.exclude?.length ? ' matching include/exclude' : ''} (looked for .png, .jpg, .jpeg, .webp)`);
    }
    const { entries, source } = selectSplit(listing, { split, valSize, testSize, seed: opts.seed ?? DEFAULTS.seed, keep, log });
    if (entries.length === 0) {
      throw new UserError(`image folder ${listing.root}: the ${split} split is empty (${source}); use a larger ${split === 'test' ? 'testSize' : split === 'val' ? 'valSize' : 'share of the data'}, add a ${split}.txt, or choose another split`);
    }
    if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1)) {
      throw new UserError(`image folder option limit must be an integer ≥ 1, got ${JSON.stringify(opts.limit)}`);
    }
    const ds = new ImageFolderDataset(opts, listing.root, entries.slice(0, opts.limit), listing.classNames, source);
    if (opts.verify ?? DEFAULTS.verify) await ds.verifyAll();
    const classes = ds.classNames ? `${ds.classNames.length} classes` : 'unlabeled';
    log(`[selfsup] image folder ${ds.root}: ${split} split, ${ds.size} images, ${classes} (${source})`);
    return ds;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Files skipped as unreadable (only with skipBadImages). */
  get skippedFiles(): string[] {
    return [...this.dropped, ...this.bad.values()];
  }

  /** Images decoded from disk so far (cache hits not counted). */
  get decodedCount(): number {
    return this.decoded;
  }

  get skippedCount(): number {
    return this.dropped.length + this.bad.size;
  }

  /** Relative path of every example, by dataset index. */
  files(): string[] {
    return this.entries.map((e) => e.rel);
  }

  labelsArray(): Int32Array {
    if (!this.hasLabels) throw new Error(`image folder ${this.root} was opened with labeled: false; it has no labels`);
    return Int32Array.from(this.entries, (e) => e.label);
  }

  numBatches(opts: BatchOptions): number {
    return countBatches(this.size, resolveBatchOptions(opts, this.name));
  }

  /**
   * One epoch. Batch i+1..i+prefetch decode while batch i is consumed; tensors are created
   * only when a batch is handed out, so breaking out of the loop leaks none. A skipped bad
   * image makes its batch one shorter.
   */
  async *batches(opts: BatchOptions): AsyncGenerator<ImageBatch> {
    const plan = epochBatches(this.size, resolveBatchOptions(opts, this.name));
    const pending: Promise<DecodedBatch>[] = [];
    let next = 0;
    // Keeps `prefetch` batches decoding while one is consumed; `atLeast` starts the first.
    const fill = (atLeast: number) => {
      while (next < plan.length && pending.length < Math.max(atLeast, this.prefetch)) {
        const p = this.decodeBatch(plan[next++]);
        // Rejections are re-raised when the batch is awaited; this only stops Node reporting
        // a batch the consumer never reached as an unhandled rejection.
        p.catch(() => undefined);
        pending.push(p);
      }
    };
    fill(1);
    while (pending.length > 0) {
      const decoded = await pending.shift()!;
      fill(0);
      if (decoded.indices.length > 0) yield this.toBatch(decoded);
      // With prefetch 0 the next batch is decoded only when asked for.
      fill(1);
    }
  }

  /** Decodes every image once; bad ones fail here, or with skipBadImages leave the dataset. */
  private async verifyAll(): Promise<void> {
    // Pixels are dropped as soon as each decode finishes (unless cached): never all in memory.
    await Promise.all(this.entries.map((_, i) => this.decodeOne(i).then(() => undefined)));
    if (this.bad.size === 0) return;
    const remap = new Map<number, number>();
    const kept: FolderEntry[] = [];
    this.entries.forEach((e, i) => {
      if (this.bad.has(i)) return;
      remap.set(i, kept.length);
      kept.push(e);
    });
    this.dropped.push(...this.bad.values());
    this.bad.clear();
    this.entries = kept;
    if (this.cache) {
      const old = [...this.cache];
      this.cache.clear();
      for (const [i, px] of old) this.cache.set(remap.get(i)!, px);
    }
  }

  private async decodeBatch(indices: Int32Array): Promise<DecodedBatch> {
    const results = await Promise.all(Array.from(indices, (i) => this.decodeOne(i)));
    const out: DecodedBatch = { indices: [], pixels: [] };
    results.forEach((px, k) => {
      if (px) {
        out.indices.push(indices[k]);
        out.pixels.push(px);
      }
    });
    return out;
  }

  private async decodeOne(index: number): Promise<Uint8Array | undefined> {
    const cached = this.cache?.get(index);
    if (cached) return cached;
    if (this.bad.has(index)) return undefined;
    const file = path.join(this.root, this.entries[index].rel);
    try {
      const px = await this.limiter.run(() => decodeImageFile(file, this.target));
      this.decoded++;
      this.cache?.set(index, px);
      return px;
    } catch (err) {
      if (!this.skipBad) throw err;
      if (!this.bad.has(index)) {
        this.bad.set(index, file);
        this.log(`[selfsup] warning: skipping ${(err as Error).message} (${this.skippedCount} skipped so far)`);
      }
      return undefined;
    }
  }

  private toBatch(decoded: DecodedBatch): ImageBatch {
    const [h, w, c] = this.imageShape;
    const per = h * w * c;
    const n = decoded.indices.length;
    const floats = new Float32Array(n * per);
    decoded.pixels.forEach((px, b) => {
      const off = b * per;
      for (let i = 0; i < per; i++) floats[off + i] = px[i] / 255;
    });
    const indices = Int32Array.from(decoded.indices);
    const images = tf.tensor4d(floats, [n, h, w, c], 'float32');
    if (!this.hasLabels) return { images, indices };
    const labels = Int32Array.from(decoded.indices, (i) => this.entries[i].label);
    return { images, labels: tf.tensor1d(labels, 'int32'), indices };
  }
}
