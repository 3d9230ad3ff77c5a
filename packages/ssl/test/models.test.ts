import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  backboneFeatureDim,
  buildResNet,
  countAllParams,
  countTrainableParams,
  createBackbone,
  resnetFeatureDim,
  trainableVariables,
  wrapBackbone,
  type ResNetOptions,
} from '../src/models';
import { useBackend } from '../../../test/helpers/backend';

// Builds and tiny forwards only; cpu is deterministic and needs no wasm start-up.
beforeAll(async () => {
  await useBackend('cpu');
});

const built: tf.LayersModel[] = [];
const keep = <T extends tf.LayersModel>(m: T) => (built.push(m), m);
afterEach(() => {
  built.splice(0).forEach((m) => m.dispose());
});

describe('buildResNet: torchvision golden parameter counts (no fc, 3 channels, width 1)', () => {
  // torchvision totals minus the fc layer (512·1000 + 1000 or 2048·1000 + 1000):
  // resnet18 11,689,512 − 513,000; resnet34 21,797,672 − 513,000; resnet50 25,557,032 − 2,049,000.
  // The CIFAR stem swaps the 7×7×3×64 conv (9,408) for a 3×3×3×64 one (1,728): −7,680.
  const cases = [
    { depth: 18, stem: 'imagenet', params: 11_176_512, features: 512 },
    { depth: 18, stem: 'cifar', params: 11_168_832, features: 512 },
    { depth: 34, stem: 'imagenet', params: 21_284_672, features: 512 },
    { depth: 50, stem: 'imagenet', params: 23_508_032, features: 2048 },
  ] as const;
  for (const c of cases) {
    it(`resnet${c.depth} ${c.stem}: ${c.params} trainable params, ${c.features} features`, () => {
      const m = keep(buildResNet({ depth: c.depth, stem: c.stem, inputShape: [32, 32, 3] }));
      expect(countTrainableParams(m)).toBe(c.params);
      expect(m.outputs[0].shape).toEqual([null, c.features]);
      expect(resnetFeatureDim(c.depth)).toBe(c.features);
    });
  }

  it('keeps the batch-norm moving statistics out of the trainable count', () => {
    const m = keep(buildResNet({ depth: 18, stem: 'cifar', inputShape: [8, 8, 3] }));
    // 2 moving-statistics vectors per BN channel; ResNet-18 has 4,800 BN channels.
    expect(countAllParams(m) - countTrainableParams(m)).toBe(2 * 4800);
  });
});

describe('buildResNet: shapes', () => {
  it('accepts 1-channel input and a width multiplier', () => {
    const r18 = keep(buildResNet({ depth: 18, stem: 'cifar', inputShape: [28, 28, 1], width: 0.25 }));
    expect(r18.outputs[0].shape).toEqual([null, 128]);
    const r50 = keep(buildResNet({ depth: 50, stem: 'imagenet', inputShape: [32, 32, 1], width: 0.25 }));
    expect(r50.outputs[0].shape).toEqual([null, 512]);
    expect(resnetFeatureDim(50, 0.25)).toBe(512);
    const y = tf.tidy(() => (r18.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor).shape);
    expect(y).toEqual([2, 128]);
  });

  it('down-samples like PyTorch for odd sizes (floor((H + 2p − k)/s) + 1)', () => {
    const m = keep(buildResNet({ depth: 18, stem: 'imagenet', inputShape: [33, 33, 3], width: 1 / 16, name: 'odd' }));
    // 33 → conv1 17 → maxpool 9 → layer2 5 → layer3 3 → layer4 2
    expect(m.getLayer('odd/relu').outputShape).toEqual([null, 17, 17, 4]);
    expect(m.getLayer('odd/maxpool').outputShape).toEqual([null, 9, 9, 4]);
    expect(m.getLayer('odd/layer2.1.relu').outputShape).toEqual([null, 5, 5, 8]);
    expect(m.getLayer('odd/layer3.1.relu').outputShape).toEqual([null, 3, 3, 16]);
    expect(m.getLayer('odd/layer4.1.relu').outputShape).toEqual([null, 2, 2, 32]);
  });

  it('pads stride-2 convs symmetrically like PyTorch (padding=3 for the 7×7 stem)', () => {
    const m = keep(buildResNet({ depth: 18, stem: 'imagenet', inputShape: [8, 8, 1], width: 1 / 16, name: 'pad' }));
    const conv1 = m.getLayer('pad/conv1');
    conv1.setWeights([tf.ones([7, 7, 1, 4])]);
    // The probe shares m's layers: disposing m frees them, so the probe is not disposed itself.
    const probe = tf.model({ inputs: m.inputs, outputs: conv1.output as tf.SymbolicTensor });
    const x = Array.from({ length: 64 }, (_, i) => (i * 37) % 11);
    const out = tf.tidy(() => Array.from((probe.predict(tf.tensor4d(x, [1, 8, 8, 1])) as tf.Tensor).dataSync()));
    // Plain-JS conv with PyTorch semantics: out[i][j] = Σ x[2i + di − 3][2j + dj − 3], zero outside.
    const expected: number[] = [];
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let di = 0; di < 7; di++) {
          for (let dj = 0; dj < 7; dj++) {
            const r = 2 * i + di - 3;
            const c = 2 * j + dj - 3;
            if (r >= 0 && r < 8 && c >= 0 && c < 8) s += x[r * 8 + c];
          }
        }
        expected.push(...Array(4).fill(s));
      }
    }
    expect(out).toEqual(expected);
  });
});

describe('buildResNet: names, init and determinism', () => {
  it('prefixes every layer with the model name, in torchvision state_dict paths', () => {
    const m = keep(buildResNet({ depth: 18, stem: 'cifar', inputShape: [8, 8, 1], width: 1 / 16, name: 'online_encoder' }));
    expect(m.name).toBe('online_encoder');
    expect(m.layers.every((l) => l.name.startsWith('online_encoder/'))).toBe(true);
    const names = m.weights.map((w) => w.originalName);
    // tfjs lists trainable weights first, then the non-trainable BN moving statistics.
    expect(names.slice(0, 5)).toEqual([
      'online_encoder/conv1/kernel',
      'online_encoder/bn1/gamma',
      'online_encoder/bn1/beta',
      'online_encoder/layer1.0.conv1/kernel',
      'online_encoder/layer1.0.bn1/gamma',
    ]);
    expect(m.nonTrainableWeights.slice(0, 2).map((w) => w.originalName)).toEqual([
      'online_encoder/bn1/moving_mean',
      'online_encoder/bn1/moving_variance',
    ]);
    expect(names).toContain('online_encoder/layer2.0.downsample.0/kernel');
    expect(names).toContain('online_encoder/layer4.1.bn2/gamma');
    expect(trainableVariables(m).map((v) => v.name)).toEqual(m.trainableWeights.map((w) => w.name));
  });

  it('lists weights in the same order for two builds with different names (EMA pairing)', () => {
    const opts = { depth: 50, stem: 'imagenet', inputShape: [16, 16, 1], width: 1 / 16 } satisfies Partial<ResNetOptions>;
    const a = keep(buildResNet({ ...opts, name: 'online_encoder' }));
    const b = keep(buildResNet({ ...opts, name: 'target_encoder' }));
    const strip = (m: tf.LayersModel) => m.weights.map((w) => w.originalName.replace(/^[^/]+\//, ''));
    expect(strip(a)).toEqual(strip(b));
    expect(a.weights.map((w) => w.shape)).toEqual(b.weights.map((w) => w.shape));
  });

  it('initialises convs with kaiming normal (fan_out, relu), untruncated, and BN with γ=1, β=0', () => {
    const m = keep(buildResNet({ depth: 18, stem: 'cifar', inputShape: [8, 8, 3], name: 'init', seed: 3 }));
    const k = m.getLayer('init/layer3.1.conv2').getWeights()[0]; // 3×3×256×256
    const v = k.dataSync();
    let mean = 0;
    for (const x of v) mean += x;
    mean /= v.length;
    let sq = 0;
    let max = 0;
    for (const x of v) {
      sq += (x - mean) ** 2;
      max = Math.max(max, Math.abs(x));
    }
    const std = Math.sqrt(sq / v.length);
    const expected = Math.sqrt(2 / (3 * 3 * 256)); // torch: gain √2 / √fan_out
    expect(Math.abs(mean)).toBeLessThan(expected * 0.01);
    expect(std / expected).toBeGreaterThan(0.99);
    expect(std / expected).toBeLessThan(1.01);
    // A truncated normal (tfjs's heNormal) never exceeds 2σ; 590k normal draws exceed 4σ (≈ 37 expected).
    expect(max / expected).toBeGreaterThan(4);
    const [gamma, beta, movingMean, movingVar] = m.getLayer('init/bn1').getWeights().map((t) => Array.from(t.dataSync()));
    expect(new Set(gamma)).toEqual(new Set([1]));
    expect(new Set(beta)).toEqual(new Set([0]));
    expect(new Set(movingMean)).toEqual(new Set([0]));
    expect(new Set(movingVar)).toEqual(new Set([1]));
    expect(m.getLayer('init/bn1').getConfig()).toMatchObject({ epsilon: 1e-5, momentum: 0.9 });
    expect(m.getLayer('init/conv1').getConfig()).toMatchObject({ useBias: false });
  });

  it('zeroInitResidual: only the BN closing each residual branch starts at γ = 0, so a stride-1 block starts as the identity', () => {
    const opts = { stem: 'cifar', inputShape: [6, 6, 2], width: 1 / 16, seed: 5 } satisfies Partial<ResNetOptions>;
    const gammaOf = (m: tf.LayersModel, layer: string) => new Set(m.getLayer(`${m.name}/${layer}`).getWeights()[0].dataSync());
    const zero = keep(buildResNet({ ...opts, depth: 18, name: 'zir', zeroInitResidual: true }));
    const plain = keep(buildResNet({ ...opts, depth: 18, name: 'plain' }));
    for (const block of ['layer1.0', 'layer1.1', 'layer2.0', 'layer4.1']) {
      expect(gammaOf(zero, `${block}.bn2`), block).toEqual(new Set([0]));
      expect(gammaOf(zero, `${block}.bn1`), block).toEqual(new Set([1]));
      expect(gammaOf(plain, `${block}.bn2`), block).toEqual(new Set([1]));
    }
    expect(gammaOf(zero, 'bn1')).toEqual(new Set([1]));
    expect(gammaOf(zero, 'layer2.0.downsample.1')).toEqual(new Set([1]));
    // Bottleneck blocks zero their third BN instead.
    const r50 = keep(buildResNet({ ...opts, depth: 50, name: 'zir50', zeroInitResidual: true }));
    expect(gammaOf(r50, 'layer1.0.bn3')).toEqual(new Set([0]));
    expect(gammaOf(r50, 'layer1.0.bn2')).toEqual(new Set([1]));
    // Same draws otherwise: the conv kernels equal the plain build's.
    const kernel = (m: tf.LayersModel) => Array.from(m.getLayer(`${m.name}/layer3.1.conv2`).getWeights()[0].dataSync());
    expect(kernel(zero)).toEqual(kernel(plain));
    // Inference at init: layer1.0 is stride 1 with equal channels, so its output is relu(input) = input
    // for the (non-negative) stem output.
    const stem = tf.model({ inputs: zero.inputs, outputs: zero.getLayer('zir/relu').output as tf.SymbolicTensor });
    const block = tf.model({ inputs: zero.inputs, outputs: zero.getLayer('zir/layer1.0.relu').output as tf.SymbolicTensor });
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 9);
    const [s, b] = [stem.predict(x) as tf.Tensor, block.predict(x) as tf.Tensor];
    expect(Array.from(b.dataSync())).toEqual(Array.from(s.dataSync()));
    const plainBlock = tf.model({ inputs: plain.inputs, outputs: plain.getLayer('plain/layer1.0.relu').output as tf.SymbolicTensor });
    const pb = plainBlock.predict(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(pb, s))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([x, s, b, pb]);
  });
  it('gives identical weights for the same seed and different ones otherwise', () => {
    const opts = { depth: 18, stem: 'cifar', inputShape: [8, 8, 1], width: 1 / 16 } satisfies Partial<ResNetOptions>;
    const first = (m: tf.LayersModel, layer: string) => Array.from(m.getLayer(`${m.name}/${layer}`).getWeights()[0].dataSync());
    const a = keep(buildResNet({ ...opts, name: 'seed_a', seed: 42 }));
    const b = keep(buildResNet({ ...opts, name: 'seed_b', seed: 42 }));
    const c = keep(buildResNet({ ...opts, name: 'seed_c', seed: 43 }));
    expect(first(a, 'layer1.0.conv1')).toEqual(first(b, 'layer1.0.conv1'));
    expect(first(a, 'layer4.1.conv2')).toEqual(first(b, 'layer4.1.conv2'));
    expect(first(a, 'layer1.0.conv1')).not.toEqual(first(c, 'layer1.0.conv1'));
    // Same-shaped layers inside one model draw from different streams.
    expect(first(a, 'layer1.0.conv1')).not.toEqual(first(a, 'layer1.0.conv2'));
  });

  it('round-trips through model.save / tf.loadLayersModel with the same outputs', async () => {
    const m = keep(buildResNet({ depth: 18, stem: 'imagenet', inputShape: [16, 16, 1], width: 1 / 16, name: 'export_encoder', seed: 1 }));
    let artifacts: tf.io.ModelArtifacts | undefined;
    await m.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    expect(artifacts!.weightSpecs![0].name).toBe('export_encoder/conv1/kernel');
    const loaded = keep(await tf.loadLayersModel(tf.io.fromMemory(artifacts!)));
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 5);
    const [a, b] = [m, loaded].map((model) => Array.from((model.predict(x) as tf.Tensor).dataSync()));
    expect(b).toEqual(a);
    expect(a.length).toBe(2 * 32);
    x.dispose();
  });

  it('explains bad options', () => {
    const base = { depth: 18, stem: 'cifar', inputShape: [8, 8, 1] } satisfies Partial<ResNetOptions>;
    expect(() => buildResNet({ ...base, depth: 101 as never })).toThrow('depth 101 is not supported; use 18, 34 or 50');
    expect(() => buildResNet({ ...base, stem: 'tiny' as never })).toThrow(/stem "tiny" is not supported/);
    expect(() => buildResNet({ ...base, inputShape: [8, 8] as never })).toThrow(/inputShape must be \[height, width, channels\].*\[8,8\]/);
    expect(() => buildResNet({ ...base, width: 0 })).toThrow(/width multiplier must be a positive number, got 0/);
  });
});

describe('createBackbone', () => {
  it('builds the named ResNets with stable names', () => {
    const m = keep(createBackbone('resnet34', { stem: 'cifar', inputShape: [8, 8, 1], width: 1 / 16 }));
    expect(m.name).toBe('resnet34');
    expect(m.outputs[0].shape).toEqual([null, backboneFeatureDim('resnet34', 1 / 16)]);
    expect(backboneFeatureDim('resnet50')).toBe(2048);
    const named = keep(createBackbone('resnet18', { stem: 'cifar', inputShape: [8, 8, 1], width: 1 / 16, name: 'online_encoder_cb' }));
    expect(named.name).toBe('online_encoder_cb');
  });

  it('lists the available names for an unknown one', () => {
    expect(() => createBackbone('resnet101' as never, { stem: 'cifar', inputShape: [8, 8, 1] })).toThrow(
      'Unknown backbone "resnet101"; available: resnet18, resnet34, resnet50. For any other network, build a tf.LayersModel yourself and pass it through wrapBackbone().',
    );
  });
});

describe('wrapBackbone', () => {
  function classifier(name: string): tf.LayersModel {
    const input = tf.input({ shape: [6, 6, 1], name: `${name}/input` });
    const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, name: `${name}/conv`, kernelInitializer: 'glorotUniform' }).apply(input);
    const act = tf.layers.reLU({ name: `${name}/relu` }).apply(conv);
    const flat = tf.layers.flatten({ name: `${name}/flatten` }).apply(act);
    const logits = tf.layers.dense({ units: 5, name: `${name}/logits` }).apply(flat) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: logits, name });
  }

  it('cuts at a named layer and globally pools a feature map', () => {
    const net = keep(classifier('byo_a'));
    // The wrapper shares net's layers; disposing net (afterEach) frees both, disposing the
    // wrapper as well would be a double free.
    const enc = wrapBackbone(net, { featureLayer: 'byo_a/relu' });
    expect(enc.outputs[0].shape).toEqual([null, 3]);
    expect(enc.name).toBe('byo_a_features');
    // Shares weights with the original model.
    expect(enc.getLayer('byo_a/conv').getWeights()[0].dataId).toBe(net.getLayer('byo_a/conv').getWeights()[0].dataId);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 6, 6, 1], 0, 1, 'float32', 9);
      const map = tf.model({ inputs: net.inputs, outputs: net.getLayer('byo_a/relu').output as tf.SymbolicTensor }).predict(x) as tf.Tensor;
      const pooled = enc.predict(x) as tf.Tensor;
      const diff = tf.max(tf.abs(tf.sub(pooled, tf.mean(map, [1, 2])))).dataSync()[0];
      expect(diff).toBeLessThan(1e-6);
    });
  });

  it('takes an index like byol-pytorch hidden_layer (−2 drops the classifier), default the output', () => {
    const net = keep(classifier('byo_b'));
    expect(wrapBackbone(net, { featureLayer: -2 }).outputs[0].shape).toEqual([null, 48]);
    expect(wrapBackbone(net).outputs[0].shape).toEqual([null, 5]);
    expect(wrapBackbone(net, { featureLayer: 1, name: 'byo_b_conv_features' }).outputs[0].shape).toEqual([null, 3]);
  });

  it('works on a ResNet stage', () => {
    const r = keep(buildResNet({ depth: 18, stem: 'cifar', inputShape: [8, 8, 1], width: 1 / 16, name: 'byo_r' }));
    expect(wrapBackbone(r, { featureLayer: 'byo_r/layer3.1.relu' }).outputs[0].shape).toEqual([null, 16]);
  });

  it('names the available layers when the choice is wrong', () => {
    const net = keep(classifier('byo_c'));
    expect(() => wrapBackbone(net, { featureLayer: 'byo_c/nope' })).toThrow(
      'wrapBackbone: model "byo_c" has no layer named "byo_c/nope". Its layers are: byo_c/input, byo_c/conv, byo_c/relu, byo_c/flatten, byo_c/logits.',
    );
    expect(() => wrapBackbone(net, { featureLayer: 9 })).toThrow('featureLayer index 9 is out of range for model "byo_c" with 5 layers (valid: -5 … 4).');
  });
});
