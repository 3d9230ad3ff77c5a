import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadTensors, saveTensors, writeDirAtomic } from '../src/io';
import { useBackend } from '../../../test/helpers/backend';

let dir: string;
beforeAll(async () => {
  await useBackend('cpu');
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-tensors-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Float32 values chosen for their bit patterns: a NaN payload, -0, ±Inf, a denormal. */
function trickyFloatBits(): Uint32Array {
  return Uint32Array.from([0x7fc00001, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x3f800000]);
}

describe('saveTensors / loadTensors', () => {
  it('round-trips float32, int32 and bool bit for bit, with meta', async () => {
    const f = tf.tensor(new Float32Array(trickyFloatBits().buffer), [2, 3], 'float32');
    const i = tf.tensor1d([-2147483648, 2147483647, 0, -1], 'int32');
    const b = tf.tensor1d([true, false, true], 'bool');
    const s = tf.scalar(0.1);
    const empty = tf.zeros([0, 3]);
    const meta = { step: 1234, epoch: 3, tau: 0.996, rng: [1, 2, 3], nested: { name: 'byol' } };
    const index = await saveTensors(dir, { 'online/w': f, 'opt/step': i, mask: b, lr: s, empty }, meta);

    // Offsets by hand: 6 floats (24 B), 4 ints (16 B), 3 bools (3 B), 1 float (4 B), 0.
    expect(index.tensors.map((e) => [e.name, e.offset, e.byteLength])).toEqual([
      ['online/w', 0, 24],
      ['opt/step', 24, 16],
      ['mask', 40, 3],
      ['lr', 43, 4],
      ['empty', 47, 0],
    ]);
    expect(fs.statSync(path.join(dir, 'tensors.bin')).size).toBe(47);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'tensors.json'), 'utf8')).byteLength).toBe(47);

    const loaded = await loadTensors<typeof meta>(dir);
    expect(loaded.meta).toEqual(meta);
    expect(Object.keys(loaded.tensors)).toEqual(['online/w', 'opt/step', 'mask', 'lr', 'empty']);
    const lf = loaded.tensors['online/w'];
    expect(lf.shape).toEqual([2, 3]);
    expect(lf.dtype).toBe('float32');
    expect(Array.from(new Uint32Array(lf.dataSync<'float32'>().slice().buffer))).toEqual(Array.from(trickyFloatBits()));
    expect(loaded.tensors['opt/step'].dtype).toBe('int32');
    expect(Array.from(loaded.tensors['opt/step'].dataSync())).toEqual([-2147483648, 2147483647, 0, -1]);
    expect(loaded.tensors.mask.dtype).toBe('bool');
    expect(Array.from(loaded.tensors.mask.dataSync())).toEqual([1, 0, 1]);
    expect(loaded.tensors.lr.shape).toEqual([]);
    expect(loaded.tensors.lr.dataSync()[0]).toBe(Math.fround(0.1));
    expect(loaded.tensors.empty.shape).toEqual([0, 3]);
    tf.dispose([f, i, b, s, empty, ...Object.values(loaded.tensors)]);
  });

  it('round-trips float32 bits on the wasm backend too', async () => {
    await useBackend('wasm');
    try {
      const f = tf.tensor(new Float32Array(trickyFloatBits().buffer), [6]);
      await saveTensors(dir, { f }, {});
      const { tensors } = await loadTensors(dir);
      const back = await tensors.f.data();
      expect(Array.from(new Uint32Array(back.buffer, back.byteOffset, 6))).toEqual(Array.from(trickyFloatBits()));
      tf.dispose([f, tensors.f]);
    } finally {
      await useBackend('cpu');
    }
  });

  it('does not leak tensors across repeated save/load', async () => {
    const w = tf.randomNormal([4, 4]);
    const cycle = async () => {
      await saveTensors(dir, { w }, {});
      const { tensors } = await loadTensors(dir);
      tf.dispose(Object.values(tensors));
    };
    await cycle();
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) await cycle();
    expect(tf.memory().numTensors).toBe(before);
    w.dispose();
  });

  it('composes with writeDirAtomic and leaves only the three files', async () => {
    const w = tf.ones([3]);
    const ckpt = path.join(dir, 'last');
    await writeDirAtomic(ckpt, (tmp) => saveTensors(tmp, { w }, { epoch: 1 }).then(() => undefined));
    expect(fs.readdirSync(ckpt).sort()).toEqual(['meta.json', 'tensors.bin', 'tensors.json']);
    const { tensors, meta } = await loadTensors(ckpt);
    expect(meta).toEqual({ epoch: 1 });
    expect(Array.from(tensors.w.dataSync())).toEqual([1, 1, 1]);
    tf.dispose([w, tensors.w]);
  });

  it('refuses string tensors and disposed tensors with the tensor name', async () => {
    const s = tf.tensor(['a', 'b']);
    await expect(saveTensors(dir, { labels: s }, {})).rejects.toThrow('tensor "labels" has dtype string');
    s.dispose();
    const d = tf.zeros([1]);
    d.dispose();
    await expect(saveTensors(dir, { gone: d }, {})).rejects.toThrow('tensor "gone" is already disposed');
  });

  describe('validation errors name the file', () => {
    beforeEach(async () => {
      const w = tf.ones([2, 2]);
      await saveTensors(dir, { w }, { ok: true });
      w.dispose();
    });

    it('missing tensors.bin', async () => {
      fs.rmSync(path.join(dir, 'tensors.bin'));
      await expect(loadTensors(dir)).rejects.toThrow(`missing tensor data "${path.join(dir, 'tensors.bin')}"`);
    });

    it('missing directory', async () => {
      const nowhere = path.join(dir, 'nope');
      await expect(loadTensors(nowhere)).rejects.toThrow(`missing tensor index "${path.join(nowhere, 'tensors.json')}"`);
    });

    it('truncated tensors.bin', async () => {
      fs.truncateSync(path.join(dir, 'tensors.bin'), 10);
      await expect(loadTensors(dir)).rejects.toThrow(
        `"${path.join(dir, 'tensors.bin')}" has 10 bytes but "${path.join(dir, 'tensors.json')}" expects 16`,
      );
    });

    it('bad JSON in meta.json', async () => {
      fs.writeFileSync(path.join(dir, 'meta.json'), '{"ok": tr');
      await expect(loadTensors(dir)).rejects.toThrow(`"${path.join(dir, 'meta.json')}" is not valid JSON`);
    });

    it('an index whose entry does not match its shape', async () => {
      const p = path.join(dir, 'tensors.json');
      const idx = JSON.parse(fs.readFileSync(p, 'utf8'));
      idx.tensors[0].shape = [2, 3];
      fs.writeFileSync(p, JSON.stringify(idx));
      await expect(loadTensors(dir)).rejects.toThrow(
        `"${p}" is not a valid tensor index: tensors[0] ("w") byteLength 16 does not match shape [2,3] of float32`,
      );
    });

    it('a file that is not a tensor index', async () => {
      const p = path.join(dir, 'tensors.json');
      fs.writeFileSync(p, '{"hello": 1}');
      await expect(loadTensors(dir)).rejects.toThrow(`"${p}" is not a valid tensor index: format is undefined`);
    });
  });
});
