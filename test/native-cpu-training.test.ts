// Training on the oneDNN kernels (@selfsup/native-cpu, batch norm included): a BYOL step gives
// the update the wasm kernels give, and a hundred small steps grow neither the tensor count nor the wasm heap.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { oneDnnKernelStats, selectBackend, type NativeCpuAddon, type NativeKernelsPreference } from '@selfsup/core';
import { EmaUpdateCallback, TargetInitCallback } from '@selfsup/callbacks';
import { ByolExperiment } from '@selfsup/byol';
import { nativeCpuForTests } from './helpers/native-cpu';

const native = nativeCpuForTests();
const quiet = () => undefined;
const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

async function use(nativeKernels: NativeKernelsPreference): Promise<void> {
  if (nativeKernels === 'on' && !native.load.ok) throw new Error(`@selfsup/native-cpu can be built here but does not load: ${native.load.reason}`);
  const info = await selectBackend('wasm', { threads: 1, nativeKernels, log: quiet });
  expect(info.nativeKernels !== undefined).toBe(nativeKernels === 'on');
}

/**
 * The main job's recipe (LARS, predictor at 10× LR, EMA target) on a ResNet-18 at width 1/8,
 * 16×16×1, heads 512/16.
 */
const byol = () =>
  new ByolExperiment({
    inputShape: [16, 16, 1],
    batchSize: 8,
    seed: 5,
    model: { backbone: 'resnet18', stem: 'cifar', width: 1 / 8, projectorHiddenDim: 512, projectorDim: 16, predictorHiddenDim: 512 },
    optimizer: { name: 'lars', lr: 1, scaleLr: false, weightDecay: 1e-5, eta: 0.02, clipTrustRatio: true, predictorLrMultiplier: 10, predictorFixedLr: true },
  });

async function byolStep(nativeKernels: NativeKernelsPreference): Promise<{ delta: Float32Array[]; targetDelta: Float32Array[]; loss: number }> {
  await use(nativeKernels);
  const exp = byol();
  await exp.setup();
  const before = exp.trainableVariables().map((v) => Float32Array.from(v.dataSync()));
  const layerWeights = (m: tf.LayersModel) => m.layers.flatMap((l) => l.weights).map((w) => Float32Array.from(w.read().dataSync()));
  const encoderBefore = layerWeights(exp.encoder);
  exp.addCallback(new TargetInitCallback());
  exp.addCallback(new EmaUpdateCallback({ schedule: 'constant', tauBase: 0.9 }));
  const x = tf.randomUniform([8, 16, 16, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
  const h = await exp.fit(function* () { yield x; }, { epochs: 1, logEvery: 1 });
  const delta = exp.trainableVariables().map((v, i) => {
    const after = Float32Array.from(v.dataSync());
    return after.map((a, j) => a - before[i][j]);
  });
  // the target encoder started as a copy of the online one: after the EMA it moved by (1 − τ)·Δ
  const targetDelta = layerWeights(exp.targetEncoder!).map((w, i) => w.map((a, j) => a - encoderBefore[i][j]));
  exp.dispose();
  return { delta, targetDelta, loss: h.history.loss[0] };
}

describe.skipIf(native.skipReason !== undefined)('training on the oneDNN kernels', () => {
  it('one BYOL step (ResNet-18, LARS) updates the parameters as the wasm kernels do', async () => {
    const wasm = await byolStep('off');
    oneDnnKernelStats(true);
    const nat = await byolStep('on');
    const st = oneDnnKernelStats(true);
    // the step's convolutions and dense layers did run on oneDNN
    // and so did batch norm (the addon's loops)
    for (const k of ['FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', '_FusedMatMul', 'BatchMatMul', 'SelfsupBatchNormStats', 'SelfsupBatchNormForward', 'SelfsupBatchNormBackward']) {
      expect(st.native[k] ?? 0, `${k}: ${JSON.stringify(st)}`).toBeGreaterThan(0);
    }
    expect(st.fallback.FusedConv2D ?? 0).toBe(0);
    // online (backbone, projector, predictor) and target (backbone, projector) batch norms:
    // statistics for all, backward for the online ones only
    expect(st.native.SelfsupBatchNormStats).toBeGreaterThan(st.native.SelfsupBatchNormBackward!);
    expect(nat.loss).toBeCloseTo(wasm.loss, 4);
    let maxDelta = 0;
    let maxErr = 0;
    wasm.delta.forEach((w, i) => w.forEach((v, j) => {
      maxDelta = Math.max(maxDelta, Math.abs(v));
      maxErr = Math.max(maxErr, Math.abs(v - nat.delta[i][j]));
    }));
    expect(maxDelta).toBeGreaterThan(1e-3); // the step did move the weights
    expect(maxErr / maxDelta).toBeLessThan(1e-4); // measured ~1e-6
    // LARS and the EMA ran natively too, and the target moved as with the tf ops
    expect(st.native.SelfsupLarsStep).toBe(1);
    expect(st.native.SelfsupEmaStep).toBe(1);
    let maxT = 0;
    let errT = 0;
    wasm.targetDelta.forEach((w, i) => w.forEach((v, j) => {
      maxT = Math.max(maxT, Math.abs(v));
      errT = Math.max(errT, Math.abs(v - nat.targetDelta[i][j]));
    }));
    expect(maxT).toBeGreaterThan(1e-5);
    expect(errT / maxT).toBeLessThan(1e-4);
  });

  it('100 small training steps: no tensor growth, no wasm heap growth, no new oneDNN primitives', async () => {
    await use('on');
    const addon = (native.load as { addon: NativeCpuAddon }).addon;
    const net = tf.sequential();
    net.add(tf.layers.conv2d({ inputShape: [10, 10, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: 'heNormal' }));
    net.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }));
    net.add(tf.layers.reLU());
    net.add(tf.layers.conv2d({ filters: 16, kernelSize: 1, padding: 'valid', kernelInitializer: 'heNormal' }));
    net.add(tf.layers.flatten());
    net.add(tf.layers.dense({ units: 64, activation: 'relu' }));
    net.add(tf.layers.dense({ units: 4 }));
    const opt = tf.train.momentum(0.01, 0.9);
    const x = tf.randomUniform([16, 10, 10, 3], 0, 1, 'float32', 3);
    const y = tf.randomUniform([16, 4], 0, 1, 'float32', 4);
    const step = () => tf.tidy(() => opt.minimize(() => tf.losses.meanSquaredError(y, net.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!.dataSync()[0]);
    const first = step();
    for (let i = 0; i < 4; i++) step(); // warm-up: optimizer slots, primitives, the heap's high-water mark
    oneDnnKernelStats(true);
    const tensors = tf.memory().numTensors;
    const heap = heapBytes();
    const primitives = addon.info().cachedPrimitives;
    let last = first;
    for (let i = 0; i < 100; i++) last = step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(heapBytes()).toBe(heap);
    expect(addon.info().cachedPrimitives).toBe(primitives);
    expect(last).toBeLessThan(first);
    const st = oneDnnKernelStats(true);
    expect((st.native.FusedConv2D ?? 0) + (st.native.Conv2D ?? 0), JSON.stringify(st)).toBe(300);
    expect(st.native.Conv2DBackpropFilter).toBe(300);
    expect(st.native.Conv2DBackpropInput).toBe(200); // the first layer needs no dx
    net.dispose();
    opt.dispose();
    tf.dispose([x, y]);
  });
});
