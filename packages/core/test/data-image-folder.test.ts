import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ImageFolderDataset, type ImageFolderOptions } from '../src/data/image-folder';
import { createDataset } from '../src/data/create-dataset';
import { disposeBatch, type ImageBatch, type ImageDataset } from '../src/data/types';
import { FIXTURE_CLASSES, FIXTURE_IMAGES, makeImageFolderFixture, writeImage } from './fixtures/data/image-folder-fixture';
import { useBackend } from '../../../test/helpers/backend';
import sharp from 'sharp';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-imgfolder-'));
let root: string;
const quiet = { log: () => undefined };

beforeAll(async () => {
  await useBackend('cpu');
  root = await makeImageFolderFixture(path.join(tmp, 'base'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh copy of the fixture to modify. */
function copyFixture(name: string): string {
  const dst = path.join(tmp, name);
  fs.cpSync(root, dst, { recursive: true });
  return dst;
}

interface Collected {
  files: string[];
  labels: number[];
  pixels: Float32Array[];
  shapes: number[][];
}

async function collect(ds: ImageFolderDataset, batchSize = 5, extra = {}): Promise<Collected> {
  const out: Collected = { files: [], labels: [], pixels: [], shapes: [] };
  const files = ds.files();
  const per = ds.imageShape[0] * ds.imageShape[1] * ds.imageShape[2];
  for await (const b of ds.batches({ batchSize, ...extra })) {
    out.shapes.push(b.images.shape);
    const px = b.images.dataSync() as Float32Array;
    b.indices.forEach((i, k) => {
      out.files.push(files[i]);
      out.pixels.push(px.slice(k * per, (k + 1) * per));
    });
    if (b.labels) out.labels.push(...b.labels.dataSync());
    disposeBatch(b);
  }
  return out;
}

const open = (o: Partial<ImageFolderOptions>) => ImageFolderDataset.open({ path: root, imageSize: [4, 5], ...quiet, ...o });

/** sRGB → linear light, the luminance libvips' b-w conversion computes (Rec. 709 weights), back to sRGB. */
function expectedGray([r, g, b]: number[]): number {
  const lin = (v: number) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const y = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return 255 * (y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055);
}

describe('ImageFolderDataset on the generated fixture', () => {
  it('RGB: shapes, class labels from folders, pixel values, alpha dropped, gray expanded', async () => {
    const ds = await open({ split: 'all', channels: 3 });
    expect(ds.size).toBe(12);
    expect(ds.classNames).toEqual(FIXTURE_CLASSES);
    expect(ds.imageShape).toEqual([4, 5, 3]);
    const got = await collect(ds);
    expect(got.shapes).toEqual([[5, 4, 5, 3], [5, 4, 5, 3], [2, 4, 5, 3]]);
    expect(got.files).toEqual(FIXTURE_IMAGES.map((f) => f.rel).sort());
    got.files.forEach((rel, k) => {
      const img = FIXTURE_IMAGES.find((f) => f.rel === rel)!;
      expect(got.labels[k]).toBe(FIXTURE_CLASSES.indexOf(rel.split('/')[0]));
      const px = got.pixels[k];
      // Every pixel of a solid image has its colour (JPEG: within a few levels).
      for (let i = 0; i < px.length; i++) expect(Math.abs(px[i] * 255 - img.rgb[i % 3])).toBeLessThanOrEqual(img.kind === 'jpeg' ? 4 : 2);
    });
  });

  it('grayscale: one channel, luminance of the colour', async () => {
    const ds = await open({ split: 'all', channels: 1, imageSize: 3 });
    const got = await collect(ds, 12);
    expect(got.shapes).toEqual([[12, 3, 3, 1]]);
    got.files.forEach((rel, k) => {
      const img = FIXTURE_IMAGES.find((f) => f.rel === rel)!;
      expect(Math.abs(got.pixels[k][4] * 255 - expectedGray(img.rgb))).toBeLessThanOrEqual(img.kind === 'jpeg' ? 4 : 2);
    });
  });

  it('unlabeled folder for pretraining: every image, no labels', async () => {
    const ds = await open({ split: 'all', labeled: false });
    expect(ds.hasLabels).toBe(false);
    expect(ds.classNames).toBeUndefined();
    expect(ds.size).toBe(12);
    for await (const b of ds.batches({ batchSize: 12 })) {
      expect(b.labels).toBeUndefined();
      disposeBatch(b);
    }
    expect(() => ds.labelsArray()).toThrow(/labeled: false/);
  });

  it('include/exclude: globs on names and paths, regular expressions', async () => {
    expect((await open({ split: 'all', include: ['*.png'] })).files()).toEqual(['bird/b0.png', 'bird/b3.png', 'cat/c0.png', 'cat/sub/c3.png', 'dog/d0.png', 'dog/d3.png']);
    expect((await open({ split: 'all', include: ['cat/**'], labeled: false })).files()).toEqual(['cat/c0.png', 'cat/c2.webp', 'cat/c1.jpg', 'cat/sub/c3.png'].sort());
    expect((await open({ split: 'all', exclude: ['/\\.(jpg|webp)$/', 'dog/d3.pn?'] })).files()).toEqual(['bird/b0.png', 'bird/b3.png', 'cat/c0.png', 'cat/sub/c3.png', 'dog/d0.png']);
    // Filtering a class away entirely selects the remaining classes (labels renumbered), and says so.
    const log: string[] = [];
    const two = await ImageFolderDataset.open({ path: root, imageSize: 4, split: 'all', include: ['cat/**', 'dog/*'], log: (m) => log.push(m) });
    expect(two.classNames).toEqual(['cat', 'dog']);
    expect(Array.from(two.labelsArray())).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(log[0]).toBe(`[selfsup] image folder ${root}: class "bird" left out (include/exclude match none of its 4 images)`);
    await expect(open({ split: 'all', include: ['*.gif'] })).rejects.toThrow(`image folder ${root}: include/exclude filters match no image in any class folder`);
  });

  it('seeded stratified split: stable for a seed, disjoint, one val image per class at valSize 0.25', async () => {
    const split = async (s: 'train' | 'val', seed: number) => (await open({ split: s, valSize: 0.25, seed })).files();
    const val = await split('val', 1);
    const train = await split('train', 1);
    expect(await split('val', 1)).toEqual(val);
    expect(val.map((f) => f.split('/')[0])).toEqual(FIXTURE_CLASSES);
    expect(train).toHaveLength(9);
    expect([...train, ...val].sort()).toEqual(FIXTURE_IMAGES.map((f) => f.rel).sort());
    // Another seed picks other images (checked over a few seeds: equal for all would mean the seed is ignored).
    const others = await Promise.all([2, 3, 4, 5].map((s) => split('val', s)));
    expect(others.some((o) => o.join() !== val.join())).toBe(true);
    const test = await open({ split: 'test', valSize: 0.25, testSize: 0.25, seed: 1 });
    const val2 = await open({ split: 'val', valSize: 0.25, testSize: 0.25, seed: 1 });
    expect(test.size).toBe(3);
    expect(test.files().filter((f) => val2.files().includes(f))).toEqual([]);
    await expect(open({ split: 'test' })).rejects.toThrow(/the test split is empty/);
  });

  it('split files define the splits and the labels', async () => {
    const dir = copyFixture('with-split-files');
    fs.writeFileSync(path.join(dir, 'train.txt'), '# train\nbird/b0.png\ncat/c1.jpg\n\ndog/d2.webp\ncat/sub/c3.png\n');
    fs.writeFileSync(path.join(dir, 'val.txt'), 'bird/b1.jpg\ndog/d0.png\n');
    fs.writeFileSync(path.join(dir, 'test.txt'), 'cat/c0.png\n');
    const o = { path: dir, imageSize: 4, ...quiet };
    const train = await ImageFolderDataset.open({ ...o, split: 'train' });
    expect(train.files()).toEqual(['bird/b0.png', 'cat/c1.jpg', 'dog/d2.webp', 'cat/sub/c3.png']);
    expect(Array.from(train.labelsArray())).toEqual([0, 1, 2, 1]);
    expect(train.splitSource).toBe(path.join(dir, 'train.txt'));
    const val = await ImageFolderDataset.open({ ...o, split: 'val' });
    expect(val.files()).toEqual(['bird/b1.jpg', 'dog/d0.png']);
    const got = await collect(val);
    expect(got.labels).toEqual([0, 2]);
    expect((await ImageFolderDataset.open({ ...o, split: 'test' })).files()).toEqual(['cat/c0.png']);
  });

  it('a split-file path that does not exist is an error naming the split file, line and path', async () => {
    const dir = copyFixture('bad-split-file');
    fs.writeFileSync(path.join(dir, 'val.txt'), 'bird/b1.jpg\nbird/missing.png\n');
    await expect(ImageFolderDataset.open({ path: dir, imageSize: 4, split: 'val', ...quiet })).rejects.toThrow(
      `${path.join(dir, 'val.txt')}:2: bird/missing.png does not exist (looked for ${path.join(dir, 'bird/missing.png')})`,
    );
  });

  it('prefetch depth and caching do not change what is produced', async () => {
    const opts = { batchSize: 4, shuffle: true, seed: 9, epoch: 1 };
    const a = await collect(await open({ split: 'all', prefetch: 0, concurrency: 1 }), 4, opts);
    const b = await collect(await open({ split: 'all', prefetch: 3 }), 4, opts);
    expect(a.files).toHaveLength(12);
    expect(b.files).toEqual(a.files);
    expect(b.pixels).toEqual(a.pixels);
    const c = await collect(await open({ split: 'all', limit: 5 }), 4);
    expect(c.files).toHaveLength(5);
  });

  it('decodes `prefetch` batches ahead of the consumer, no more', async () => {
    const settle = async (ds: ImageFolderDataset, target: number) => {
      // Waits (bounded) for background decodes to reach `target`, then a little longer to
      // see that they stop there.
      for (let t = 0; t < 200 && ds.decodedCount < target; t++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
      return ds.decodedCount;
    };
    for (const [prefetch, expected] of [[0, 2], [2, 6]]) {
      const ds = await open({ split: 'all', prefetch });
      const it = ds.batches({ batchSize: 2 })[Symbol.asyncIterator]();
      const first = await it.next();
      expect(await settle(ds, expected)).toBe(expected);
      disposeBatch(first.value as ImageBatch);
      await it.return?.(undefined);
    }
  });

  it('streams from disk unless cache: true', async () => {
    const dir = copyFixture('cache');
    const streamed = await ImageFolderDataset.open({ path: dir, imageSize: 4, split: 'all', ...quiet });
    const cached = await ImageFolderDataset.open({ path: dir, imageSize: 4, split: 'all', cache: true, ...quiet });
    const first = await collect(cached);
    await collect(streamed);
    fs.rmSync(path.join(dir, 'bird', 'b0.png'));
    expect((await collect(cached)).pixels).toEqual(first.pixels);
    await expect(collect(streamed)).rejects.toThrow(`cannot read image ${path.join(dir, 'bird', 'b0.png')}`);
  });

  it('no tensor growth over epochs, nor when the consumer stops early', async () => {
    const ds = await open({ split: 'all' });
    await collect(ds);
    const before = tf.memory().numTensors;
    for (let epoch = 0; epoch < 3; epoch++) await collect(ds, 5, { shuffle: true, epoch });
    for await (const b of ds.batches({ batchSize: 2 })) {
      disposeBatch(b);
      break;
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('createDataset maps the image-folder config', async () => {
    const ds: ImageDataset = await createDataset({ name: 'image-folder', path: root, imageSize: [6, 6], channels: 1, split: 'val', valSize: 0.25, seed: 1 }, quiet);
    expect([ds.size, ds.hasLabels, ...ds.imageShape]).toEqual([3, true, 6, 6, 1]);
    await expect(createDataset({ name: 'image-folder', path: root, imageSize: 4, source: 'embedded' })).rejects.toThrow('data.source applies to fashion-mnist only');
  });
});

describe('images with structure: rows stay rows, resize and crop land where they should', () => {
  // The solid-colour fixture above cannot see a height/width swap, a flip or a misplaced
  // crop. These images can: red rises along x (columns), green along y (rows), each by its
  // own step, and the source is non-square (20 wide × 8 high) and bigger than the target.
  const W = 20;
  const H = 8;
  const red = (x: number) => 10 * x + 5; // per source column
  const green = (y: number) => 30 * y + 15; // per source row
  let dir: string;

  /** Raw RGB of an image whose pixel (y, x) is (r(x), g(y), marker in the top-left 4×2 block). */
  function ramp(width: number, height: number, r: (x: number) => number, g: (y: number) => number): Buffer {
    const px = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        px[o] = r(x);
        px[o + 1] = g(y);
        px[o + 2] = x < 4 && y < 2 ? 255 : 0;
      }
    }
    return px;
  }

  beforeAll(async () => {
    dir = path.join(tmp, 'structured');
    fs.mkdirSync(dir);
    const png = (px: Buffer, width: number, height: number) => sharp(px, { raw: { width, height, channels: 3 } }).png().toBuffer();
    fs.writeFileSync(path.join(dir, 'a-wide.png'), await png(ramp(W, H, red, green), W, H));
    // 5 wide × 4 high: already the target size, so no resampling at all.
    fs.writeFileSync(path.join(dir, 'b-exact.png'), await png(ramp(5, 4, (x) => 50 * x, (y) => 60 * y + 7), 5, 4));
  });

  /** The decoded image `k` as rows of [r, g, b] in 0..255 (rounded). */
  const rows = (got: Collected, k: number, h: number, w: number, c = 3) =>
    Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => Array.from(got.pixels[k].slice((y * w + x) * c, (y * w + x + 1) * c), (v) => Math.round(v * 255))));

  const load = async (o: Partial<ImageFolderOptions>) => {
    const ds = await ImageFolderDataset.open({ path: dir, imageSize: [4, 5], split: 'all', labeled: false, ...quiet, ...o });
    return { ds, got: await collect(ds, 2) };
  };

  it('an image already at imageSize [4, 5] (height 4, width 5) comes back pixel for pixel', async () => {
    const { ds, got } = await load({});
    expect(ds.imageShape).toEqual([4, 5, 3]);
    expect(got.shapes).toEqual([[2, 4, 5, 3]]);
    expect(got.files).toEqual(['a-wide.png', 'b-exact.png']);
    const expected = Array.from({ length: 4 }, (_, y) => Array.from({ length: 5 }, (_, x) => [50 * x, 60 * y + 7, x < 4 && y < 2 ? 255 : 0]));
    expect(rows(got, 1, 4, 5)).toEqual(expected);
  });

  it("fit 'fill' (the default) stretches the whole 20×8 image onto 4×5: each output pixel is the mean of its 4×2 source block", async () => {
    const { got } = await load({});
    const img = rows(got, 0, 4, 5);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 5; x++) {
        // Output column x covers source columns 4x..4x+3 (centre 4x + 1.5), row y covers 2y..2y+1.
        expect(Math.abs(img[y][x][0] - red(4 * x + 1.5))).toBeLessThanOrEqual(2);
        expect(Math.abs(img[y][x][1] - green(2 * y + 0.5))).toBeLessThanOrEqual(2);
      }
    }
    // The marked top-left source block is the top-left output pixel and nowhere else (libvips'
    // kernel blurs it a little into its neighbours).
    expect(img[0][0][2]).toBeGreaterThan(200);
    img.flat().slice(1).forEach(([, , b]) => expect(b).toBeLessThan(40));
  });

  it("fit 'cover' scales by 1/2 and keeps the central 10 of the 20 source columns, every row", async () => {
    const { got } = await load({ fit: 'cover' });
    const img = rows(got, 0, 4, 5);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 5; x++) {
        // Scaled to 10×4, then 5 columns kept from the middle: source columns 5..14 (libvips
        // rounds the odd leftover toward the right, so allow one scaled pixel = 2 source columns).
        expect(Math.abs(img[y][x][0] - red(5 + 2 * x + 0.5))).toBeLessThanOrEqual(red(2) - red(0) + 1);
        expect(Math.abs(img[y][x][1] - green(2 * y + 0.5))).toBeLessThanOrEqual(2);
      }
    }
    // Both ends are cut off: not the leftmost nor the rightmost source column.
    expect(img[0][0][0]).toBeGreaterThan(red(2));
    expect(img[0][4][0]).toBeLessThan(red(W - 3));
  });

  it("fit 'contain' scales by 1/4 to 5×2 and letterboxes it into rows 1–2 with black rows above and below", async () => {
    const { got } = await load({ fit: 'contain' });
    const img = rows(got, 0, 4, 5);
    for (const y of [0, 3]) expect(img[y]).toEqual(Array.from({ length: 5 }, () => [0, 0, 0]));
    for (const [row, y] of [[1, 0], [2, 1]]) {
      for (let x = 0; x < 5; x++) {
        expect(Math.abs(img[row][x][0] - red(4 * x + 1.5))).toBeLessThanOrEqual(2);
        // Row y of the 5×2 image covers source rows 4y..4y+3.
        expect(Math.abs(img[row][x][1] - green(4 * y + 1.5))).toBeLessThanOrEqual(4);
      }
    }
  });

  it('grayscale keeps the layout: each pixel is the luminance of its own colour', async () => {
    const { got } = await load({ channels: 1 });
    const img = rows(got, 1, 4, 5, 1);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 5; x++) {
        expect(Math.abs(img[y][x][0] - expectedGray([50 * x, 60 * y + 7, x < 4 && y < 2 ? 255 : 0]))).toBeLessThanOrEqual(2);
      }
    }
  });
});

describe('bad input: errors name the file', () => {
  async function drain(ds: ImageDataset): Promise<number> {
    let n = 0;
    for await (const b of ds.batches({ batchSize: 4 })) {
      n += b.indices.length;
      disposeBatch(b);
    }
    return n;
  }

  let broken: string;
  let truncated: string;
  let gif: string;
  beforeAll(async () => {
    broken = copyFixture('broken');
    truncated = path.join(broken, 'cat', 'c1.jpg');
    const bytes = fs.readFileSync(truncated);
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    gif = path.join(broken, 'dog', 'fake.png');
    fs.writeFileSync(gif, Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'binary'));
  });

  it('a truncated JPEG', async () => {
    const ds = await ImageFolderDataset.open({ path: broken, imageSize: 4, split: 'all', include: ['*.jpg'], ...quiet });
    await expect(drain(ds)).rejects.toThrow(`cannot decode JPEG image ${truncated}`);
  });

  it('an unsupported format behind an image extension', async () => {
    const ds = await ImageFolderDataset.open({ path: broken, imageSize: 4, split: 'all', include: ['dog/*'], exclude: ['cat/*', 'bird/*'], labeled: false, ...quiet });
    await expect(drain(ds)).rejects.toThrow(`unsupported image format in ${gif} (GIF); only PNG, JPEG and WebP are read`);
  });

  it('verify: true fails at open instead of mid-epoch', async () => {
    await expect(ImageFolderDataset.open({ path: broken, imageSize: 4, split: 'all', verify: true, ...quiet })).rejects.toThrow(/cannot decode JPEG image .*c1\.jpg|unsupported image format in .*fake\.png/);
  });

  it('skipBadImages: warnings, a count, the good images still delivered', async () => {
    const warnings: string[] = [];
    const ds = await ImageFolderDataset.open({ path: broken, imageSize: 4, split: 'all', skipBadImages: true, log: (m) => warnings.push(m) });
    expect(ds.size).toBe(13);
    expect(await drain(ds)).toBe(11);
    expect(ds.skippedCount).toBe(2);
    expect(ds.skippedFiles.sort()).toEqual([truncated, gif].sort());
    expect(warnings.filter((w) => w.includes('warning: skipping'))).toHaveLength(2);
    // Known bad files are not decoded (nor warned about) again.
    expect(await drain(ds)).toBe(11);
    expect(warnings.filter((w) => w.includes('warning: skipping'))).toHaveLength(2);

    const verified = await ImageFolderDataset.open({ path: broken, imageSize: 4, split: 'all', skipBadImages: true, verify: true, cache: true, log: () => undefined });
    expect([verified.size, verified.skippedCount]).toEqual([11, 2]);
    expect(verified.files()).not.toContain('dog/fake.png');
    expect(await drain(verified)).toBe(11);
  });

  it('an empty class folder', async () => {
    const dir = copyFixture('empty-class');
    fs.mkdirSync(path.join(dir, 'eel'));
    await expect(ImageFolderDataset.open({ path: dir, imageSize: 4, ...quiet })).rejects.toThrow(`class folder ${path.join(dir, 'eel')} contains no images`);
  });

  it('an empty dataset, a missing folder, loose images without labeled: false', async () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await expect(ImageFolderDataset.open({ path: empty, imageSize: 4, ...quiet })).rejects.toThrow(`image folder ${empty} is empty`);
    await expect(ImageFolderDataset.open({ path: empty, imageSize: 4, labeled: false, ...quiet })).rejects.toThrow(`image folder ${empty} holds no images`);
    const missing = path.join(tmp, 'does-not-exist');
    await expect(ImageFolderDataset.open({ path: missing, imageSize: 4, ...quiet })).rejects.toThrow(`image folder ${missing} does not exist`);
    const loose = path.join(tmp, 'loose');
    await writeImage(path.join(loose, 'a.png'), FIXTURE_IMAGES[0], [3, 3]);
    await expect(ImageFolderDataset.open({ path: loose, imageSize: 4, ...quiet })).rejects.toThrow(/has 1 images but no class sub-folders; .* set labeled: false/);
    const ds = await ImageFolderDataset.open({ path: loose, imageSize: 4, labeled: false, split: 'all', ...quiet });
    expect(ds.size).toBe(1);
  });

  it('bad options name the option', async () => {
    await expect(open({ channels: 4 as never })).rejects.toThrow('image folder option channels must be 1 (grayscale) or 3 (RGB), got 4');
    await expect(open({ imageSize: [0, 3] })).rejects.toThrow(/imageSize must be \[height, width\]/);
    await expect(open({ valSize: 1.5 })).rejects.toThrow('image folder option valSize must be a fraction in [0, 1), got 1.5');
  });
});

