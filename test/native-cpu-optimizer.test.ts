// LARS and EMA updates on the native kernels (@selfsup/native-cpu under wasm: every variable
// in one call) against the same optimizers' tf ops on the same backend.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { nativeEmaStep, nativeLarsStep, oneDnnKernelStats, selectBackend, setOneDnnKernels, type NativeCpuAddon } from '@selfsup/core';
import { LARS } from '@selfsup/ssl';
import { relErr, seeded } from './helpers/backend-compare';
import { nativeCpuForTests } from './helpers/native-cpu';

const native = nativeCpuForTests();
const addon = (native.load.ok ? native.load.addon : null) as NativeCpuAddon | null;
const quiet = () => undefined;
const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

// conv and dense kernels (adapted), a bias and a BN γ (excluded), an all-zero kernel (‖w‖ = 0:
// no adaptation), one element, an odd size
const SHAPES: [string, number[]][] = [['conv/kernel', [3, 3, 5, 7]], ['dense/kernel', [33, 17]], ['dense/bias', [17]], ['bn/gamma', [7]], ['zero/kernel', [4, 4]], ['one/kernel', [1]], ['odd/kernel', [1001]]];

let uid = 0;
/** Variables (fresh names each time) and three steps' gradients. */
function problem(): { vars: tf.Variable[]; grads: tf.Tensor[][] } {
  uid++;
  const vars = SHAPES.map(([name, shape], i) => tf.variable(name.startsWith('zero') ? tf.zeros(shape) : seeded(shape, 10 + i, 0.5), true, `opt${uid}_${name}`));
  const grads = [0, 1, 2].map((s) => SHAPES.map(([, shape], i) => seeded(shape, 100 * s + i, 0.05)));
  return { vars, grads };
}

/** Runs three LARS steps; returns every variable's and momentum buffer's values, and the native call count. */
async function larsRun(nativeOn: boolean, opts: ConstructorParameters<typeof LARS>[0]): Promise<{ values: Float32Array[]; calls: number }> {
  setOneDnnKernels(addon, { optimizer: nativeOn });
  const { vars, grads } = problem();
  const opt = new LARS(opts);
  oneDnnKernelStats(true);
  for (const g of grads) opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: g[i] })));
  const calls = oneDnnKernelStats(true).native.SelfsupLarsStep ?? 0;
  const slots = (await opt.getWeights()).slice(1);
  const values = [...vars, ...slots.map((s) => s.tensor)].map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([...vars, ...grads.flat(), ...slots.map((s) => s.tensor)]);
  opt.dispose();
  return { values, calls };
}

describe.skipIf(native.skipReason !== undefined)('LARS and EMA on the native kernels', () => {
  beforeAll(async () => {
    if (!native.load.ok) throw new Error(`@selfsup/native-cpu can be built here but does not load: ${native.load.reason}`);
    await selectBackend('wasm', { threads: 1, nativeKernels: 'on', log: quiet });
  });

  const settings = [
    { lr: 0.5, weightDecay: 1e-4, eta: 0.02, clipTrustRatio: true },
    { lr: 0.5, weightDecay: 1e-4, eta: 0.02, clipTrustRatio: true, lrFor: (n: string, lr: number) => (n.includes('dense') ? 10 * lr : lr) },
    { lr: 0.1, weightDecay: 1.5e-6, eta: 1e-3, momentum: 0.8, nesterov: true },
    { lr: 0.2, eta: 0.01, clipTrustRatio: true, exclude: () => false },
  ];
  it.each(settings.map((s, i) => [i, s] as const))('settings %i: three steps update variables and momentum as the tf ops do', async (_, opts) => {
    const ops = await larsRun(false, opts);
    const nat = await larsRun(true, opts);
    expect(ops.calls).toBe(0);
    expect(nat.calls).toBe(3);
    expect(nat.values).toHaveLength(ops.values.length);
    ops.values.forEach((v, i) => expect(relErr(nat.values[i], v), `tensor ${i}`).toBeLessThan(1e-4));
    setOneDnnKernels(addon);
  });

  it('EMA: target·τ + online·(1 − τ) for every pair in one call', () => {
    const pairs = [[3, 3, 4, 8], [5], [1], [257]].map((s, i) => ({ target: seeded(s, i, 1), online: seeded(s, 50 + i, 1) }));
    oneDnnKernelStats(true);
    const out = nativeEmaStep(pairs, 0.996)!;
    expect(oneDnnKernelStats(true).native.SelfsupEmaStep).toBe(1);
    pairs.forEach(({ target, online }, i) => {
      const ref = tf.tidy(() => tf.add(tf.mul(target, 0.996), tf.mul(online, 1 - 0.996)));
      expect(out[i].shape).toEqual(target.shape);
      expect(relErr(out[i].dataSync(), ref.dataSync())).toBeLessThan(1e-6);
      ref.dispose();
    });
    tf.dispose([...out, ...pairs.flatMap((p) => [p.target, p.online])]);
  });

  it('with the native kernels off (or not float32) the helpers answer null', async () => {
    const w = tf.ones([3]);
    const i = tf.ones([3], 'int32');
    expect(nativeEmaStep([{ target: i, online: i }], 0.5)).toBeNull();
    setOneDnnKernels(addon, { optimizer: false });
    expect(nativeEmaStep([{ target: w, online: w }], 0.5)).toBeNull();
    expect(nativeLarsStep([{ w, g: w, buf: w, lr: 1, excluded: false }], { momentum: 0.9, eta: 1, weightDecay: 0, eps: 0, clipTrustRatio: false, nesterov: false })).toBeNull();
    setOneDnnKernels(addon);
    await selectBackend('wasm', { threads: 1, nativeKernels: 'off', log: quiet });
    expect(nativeEmaStep([{ target: w, online: w }], 0.5)).toBeNull();
    await selectBackend('wasm', { threads: 1, nativeKernels: 'on', log: quiet });
    expect(nativeEmaStep([{ target: w, online: w }], 0.5)).not.toBeNull();
    tf.dispose([w, i]);
  });

  it('200 LARS and EMA steps: no tensor or wasm heap growth', () => {
    const { vars, grads } = problem();
    const targets = vars.map((v) => tf.variable(v.clone(), false));
    const opt = new LARS({ lr: 0.3, weightDecay: 1e-5, eta: 0.02, clipTrustRatio: true });
    const step = () => {
      opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[0][i] })));
      tf.tidy(() => nativeEmaStep(targets.map((t, i) => ({ target: t, online: vars[i] })), 0.99)!.forEach((t, i) => targets[i].assign(t)));
    };
    for (let i = 0; i < 3; i++) step();
    const tensors = tf.memory().numTensors;
    const heap = heapBytes();
    oneDnnKernelStats(true);
    for (let i = 0; i < 200; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(heapBytes()).toBe(heap);
    const st = oneDnnKernelStats(true);
    expect(st.native.SelfsupLarsStep).toBe(200);
    expect(st.native.SelfsupEmaStep).toBe(200);
    opt.dispose();
    tf.dispose([...vars, ...targets, ...grads.flat()]);
  });
});
