import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadLayersModelFromDir, saveLayersModel } from '../src/io';
import { useBackend } from '../../../test/helpers/backend';

let dir: string;
beforeAll(async () => {
  await useBackend('cpu');
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-model-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** conv → BN → relu → GAP → dense, with non-trivial BN moving statistics. */
function smallConvBnModel(): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 2] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, name: 'head' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'tiny' });
  const bn = model.getLayer('bn');
  // gamma, beta, moving mean, moving variance
  bn.setWeights([
    tf.tensor1d([1.5, 0.5, 2, 1]),
    tf.tensor1d([0.1, -0.2, 0.3, 0]),
    tf.tensor1d([0.3, -0.1, 0.05, 0.2]),
    tf.tensor1d([2, 0.5, 1.5, 0.8]),
  ]);
  return model;
}

/** Serves files of `dir` as if from http://host/models/…, like a browser would fetch them. */
function fetchFromDir(root: string) {
  const requested: string[] = [];
  const fetchFunc = async (url: RequestInfo | URL) => {
    const u = new URL(url instanceof Request ? url.url : String(url));
    requested.push(u.pathname);
    const file = path.join(root, path.basename(u.pathname));
    if (!u.pathname.startsWith('/models/') || !fs.existsSync(file)) return new Response('not found', { status: 404 });
    return new Response(fs.readFileSync(file), { status: 200 });
  };
  return { fetchFunc, requested };
}

describe('saveLayersModel / loadLayersModelFromDir', () => {
  it('writes the standard tfjs layout and loads back with identical predictions', async () => {
    const model = smallConvBnModel();
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 7);
    const expected = (model.predict(x) as tf.Tensor).dataSync().slice();

    const result = await saveLayersModel(model, dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    const names: string[] = json.weightsManifest[0].weights.map((w: { name: string }) => w.name);
    expect(names).toEqual(expect.arrayContaining(['bn/moving_mean', 'bn/moving_variance', 'conv/kernel']));
    // conv 3·3·2·4 + 4, BN 4·4, dense 4·3 + 3 = 72 + 4 + 16 + 15 = 107 floats.
    expect(fs.statSync(path.join(dir, 'weights.bin')).size).toBe(107 * 4);
    expect(result.modelArtifactsInfo.weightDataBytes).toBe(107 * 4);

    const loaded = await loadLayersModelFromDir(dir);
    const got = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(got)).toEqual(Array.from(expected));
    const bnBack = loaded.getLayer('bn').getWeights();
    expect(Array.from(bnBack[3].dataSync())).toEqual([2, 0.5, 1.5, 0.8].map(Math.fround));
    tf.dispose([x]);
    model.dispose();
    loaded.dispose();
  });

  it('is readable by tf.loadLayersModel over HTTP, as another program would load it', async () => {
    const model = smallConvBnModel();
    await saveLayersModel(model, dir);
    const { fetchFunc, requested } = fetchFromDir(dir);
    const other = await tf.loadLayersModel('http://example.test/models/model.json', { fetchFunc });
    expect(requested).toEqual(['/models/model.json', '/models/weights.bin']);
    const x = tf.ones([1, 6, 6, 2]);
    expect(Array.from((other.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((model.predict(x) as tf.Tensor).dataSync()),
    );
    x.dispose();
    model.dispose();
    other.dispose();
  });

  it('gives actionable errors for a missing model.json and truncated weights', async () => {
    await expect(loadLayersModelFromDir(dir)).rejects.toThrow(`cannot read "${path.join(dir, 'model.json')}" (ENOENT)`);
    const model = smallConvBnModel();
    await saveLayersModel(model, dir);
    fs.truncateSync(path.join(dir, 'weights.bin'), 100);
    await expect(loadLayersModelFromDir(dir)).rejects.toThrow('have 100 bytes but');
    fs.rmSync(path.join(dir, 'weights.bin'));
    await expect(loadLayersModelFromDir(dir)).rejects.toThrow(`weight file "${path.join(dir, 'weights.bin')}"`);
    model.dispose();
  });
});
