import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { decodeIdx, encodeIdx, readIdxFile, writeIdxFile } from '../src/data/idx';
import { loadIdxImages } from '../src/data/idx-dataset';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-idx-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, bytes);
  return f;
};

describe('IDX encoding', () => {
  it('writes the header LeCun describes: 00 00 08 <ndims>, big-endian dims, then the bytes', () => {
    // Hand-assembled: magic 0x00000802, dims 2 and 3, six values.
    const expected = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 250];
    expect(Array.from(encodeIdx(Uint8Array.from([1, 2, 3, 4, 5, 250]), [2, 3]))).toEqual(expected);
  });

  it('round-trips plain and gzip files, detected by content rather than name', async () => {
    const data = Uint8Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 37) % 256);
    const plain = path.join(tmp, 'plain.gz'); // misleading extension on purpose
    const packed = path.join(tmp, 'packed-idx3-ubyte'); // gzip without .gz
    await writeIdxFile(plain, data, [3, 4, 5]);
    await writeIdxFile(packed, data, [3, 4, 5], { gzip: true });
    expect(fs.readFileSync(packed)[0]).toBe(0x1f);
    for (const f of [plain, packed]) {
      const idx = await readIdxFile(f, { type: 'ubyte', ndims: 3 });
      expect(idx.dims).toEqual([3, 4, 5]);
      expect(idx.type).toBe('ubyte');
      expect(Array.from(idx.data)).toEqual(Array.from(data));
    }
  });

  it('decodes big-endian int and float types', () => {
    // 0x00000C01: int32, 1 dim of 2: values -2 and 258.
    const ints = Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 2]);
    expect(Array.from(decodeIdx(ints, 'ints').data)).toEqual([-2, 258]);
    // 1.5f = 0x3FC00000
    const floats = Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0]);
    expect(Array.from(decodeIdx(floats, 'floats').data)).toEqual([1.5]);
  });
});

describe('IDX validation errors name the file and what was expected', () => {
  it('wrong magic number (a PNG header)', async () => {
    const f = file('not-idx', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
    await expect(readIdxFile(f, { type: 'ubyte', ndims: 3 })).rejects.toThrow(`${f}: wrong magic number 0x89504e47, expected magic number 0x00000803 (IDX images)`);
  });

  it('labels file where images are expected', async () => {
    const f = file('labels-as-images', encodeIdx(Uint8Array.from([1, 2]), [2]));
    await expect(readIdxFile(f, { type: 'ubyte', ndims: 3 })).rejects.toThrow(/wrong magic number 0x00000801, expected magic number 0x00000803/);
  });

  it('truncated data', async () => {
    const full = encodeIdx(new Uint8Array(2 * 3 * 3), [2, 3, 3]);
    const f = file('truncated', full.subarray(0, full.length - 5));
    await expect(readIdxFile(f)).rejects.toThrow(`${f}: truncated: the header declares dims [2, 3, 3] = 18 data bytes, but only 13 are present`);
  });

  it('truncated header and too-short file', () => {
    expect(() => decodeIdx(Uint8Array.from([0, 0, 8, 3, 0, 0]), 'h.idx')).toThrow('h.idx: truncated IDX header: 3 dimensions need 16 header bytes, the file has 6');
    expect(() => decodeIdx(Uint8Array.from([0, 0]), 'tiny.idx')).toThrow(/tiny.idx: only 2 bytes/);
  });

  it('trailing bytes', () => {
    const bytes = new Uint8Array([...encodeIdx(Uint8Array.from([7]), [1]), 0, 0]);
    expect(() => decodeIdx(bytes, 'extra.idx')).toThrow('extra.idx: 2 unexpected bytes after the 1 data bytes');
  });

  it('truncated gzip stream', async () => {
    const gz = gzipSync(encodeIdx(new Uint8Array(1000).fill(3), [10, 10, 10]));
    const f = file('cut.gz', gz.subarray(0, gz.length - 12));
    await expect(readIdxFile(f)).rejects.toThrow(`${f}: gzip data is corrupt or truncated`);
  });

  it('missing file', async () => {
    const f = path.join(tmp, 'nope-idx1-ubyte');
    await expect(readIdxFile(f)).rejects.toThrow(`cannot read IDX file ${f}: no such file`);
  });

  it('image/label count mismatch names both files', async () => {
    const images = file('m-images', encodeIdx(new Uint8Array(3 * 2 * 2), [3, 2, 2]));
    const labels = file('m-labels', encodeIdx(Uint8Array.from([0, 1]), [2]));
    await expect(loadIdxImages({ images, labels }, 10)).rejects.toThrow(`image/label count mismatch: ${images} holds 3 images but ${labels} holds 2 labels`);
  });

  it('label out of range', async () => {
    const images = file('r-images', encodeIdx(new Uint8Array(2 * 2 * 2), [2, 2, 2]));
    const labels = file('r-labels', encodeIdx(Uint8Array.from([3, 10]), [2]));
    await expect(loadIdxImages({ images, labels }, 10)).rejects.toThrow(`${labels}: label 10 at index 1 is out of range; expected 0..9`);
  });
});
