import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildMlpHead } from '../src/models';
import { Adam, AdamW, createOptimizer, isBiasOrNormParam, LARS, SGD, type SlotOptimizer } from '../src/optim';
import { useBackend } from '../../../test/helpers/backend';

beforeAll(async () => {
  await useBackend('wasm');
});

let counter = 0;
/** Fresh variables with unique names ending in the given weight names. */
function vars(values: Record<string, number[]>): Record<string, tf.Variable> {
  const prefix = `optim_test_${++counter}`;
  const out: Record<string, tf.Variable> = {};
  // Inside tidy so the initial-value tensors are freed; variables survive tidy.
  tf.tidy(() => {
    for (const [k, v] of Object.entries(values)) out[k] = tf.variable(tf.tensor1d(v), true, `${prefix}/dense/${k}`);
  });
  return out;
}
const grads = (vs: Record<string, tf.Variable>, g: Record<string, number[]>) =>
  Object.keys(g).map((k) => ({ name: vs[k].name, tensor: tf.tensor1d(g[k]) }));
function step(opt: { applyGradients(list: Array<{ name: string; tensor: tf.Tensor }>): unknown }, vs: Record<string, tf.Variable>, g: Record<string, number[]>): void {
  const list = grads(vs, g);
  opt.applyGradients(list);
  tf.dispose(list.map((x) => x.tensor));
}
const read = (v: tf.Tensor) => Array.from(v.dataSync());
const expectClose = (actual: number[], expected: number[], digits = 6) => {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], digits));
};

/** Three steps of `ours` and of tfjs's own optimizer from the same weights end at the same weights. */
function expectSameAsTfjs(ours: SlotOptimizer, theirs: tf.Optimizer): void {
  const a = vars({ kernel: [0.3, -0.7, 1.1] });
  const b = vars({ kernel: [0.3, -0.7, 1.1] });
  for (const g of [[1, 2, 3], [-1, 0.5, 0], [0.2, 0.2, -0.4]]) {
    step(ours, a, { kernel: g });
    step(theirs, b, { kernel: g });
  }
  expectClose(read(a.kernel), read(b.kernel));
  tf.dispose([...Object.values(a), ...Object.values(b)]);
  ours.dispose();
  theirs.dispose();
}

const norm = (x: number[]) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));

/** The LARS formula in plain JS (You et al. 2017 local LR, as solo-learn applies it). */
function larsReference(
  w: number[], g: number[], buf: number[],
  o: { lr: number; momentum: number; eta: number; wd: number; excluded: boolean; clip?: boolean; eps?: number },
) {
  let d = g.slice();
  const wn = norm(w);
  const gn = norm(g);
  if (!o.excluded && wn > 0 && gn > 0) {
    let trust = (o.eta * wn) / (gn + o.wd * wn + (o.eps ?? 1e-8));
    if (o.clip) trust = Math.min(trust / o.lr, 1);
    d = g.map((gi, i) => (gi + o.wd * w[i]) * trust);
  }
  const nextBuf = buf.map((b, i) => o.momentum * b + d[i]);
  return { w: w.map((wi, i) => wi - o.lr * nextBuf[i]), buf: nextBuf };
}

describe('isBiasOrNormParam', () => {
  it('matches biases and batch-norm scale/offset, including uniquified names', () => {
    expect(isBiasOrNormParam('online_encoder/bn1/gamma')).toBe(true);
    expect(isBiasOrNormParam('online_encoder/layer1.0.bn2/beta_1')).toBe(true);
    expect(isBiasOrNormParam('online_projector/linear1/bias')).toBe(true);
    expect(isBiasOrNormParam('online_encoder/conv1/kernel')).toBe(false);
    expect(isBiasOrNormParam('online_projector/linear2/kernel_3')).toBe(false);
    expect(isBiasOrNormParam('my_beta_layer/kernel')).toBe(false);
  });

  it('selects exactly the bias/BN weights of an MLP head', () => {
    const head = buildMlpHead({ inputDim: 4, hiddenDim: 8, outputDim: 2, name: 'lars_exclude_head' });
    const excluded = head.trainableWeights.filter((w) => isBiasOrNormParam(w.name)).map((w) => w.name);
    expect(excluded).toEqual([
      'lars_exclude_head/linear1/bias',
      'lars_exclude_head/bn1/gamma',
      'lars_exclude_head/bn1/beta',
      'lars_exclude_head/linear2/bias',
    ]);
    head.dispose();
  });
});

describe('LARS', () => {
  const w0 = [0.5, -1.0, 2.0, 0.25];
  const b0 = [0.1, -0.2];
  const g1 = { kernel: [0.1, 0.2, -0.3, 0.05], bias: [0.5, -0.5] };
  const g2 = { kernel: [-0.2, 0.1, 0.4, 0.3], bias: [0.1, 0.3] };

  it('matches the formula for one and two steps, leaving the bias unadapted and undecayed', () => {
    const hp = { lr: 0.5, momentum: 0.9, eta: 0.02, wd: 0.01 };
    const vs = vars({ kernel: w0, bias: b0 });
    const opt = new LARS({ lr: hp.lr, momentum: hp.momentum, eta: hp.eta, weightDecay: hp.wd });

    step(opt, vs, g1);
    const k1 = larsReference(w0, g1.kernel, [0, 0, 0, 0], { ...hp, excluded: false });
    expectClose(read(vs.kernel), k1.w);
    // Excluded bias, by hand: plain momentum SGD, b − lr·g = (0.1 − 0.25, −0.2 + 0.25).
    expectClose(read(vs.bias), [-0.15, 0.05]);

    step(opt, vs, g2);
    const k2 = larsReference(k1.w, g2.kernel, k1.buf, { ...hp, excluded: false });
    expectClose(read(vs.kernel), k2.w);
    // buf = 0.9·(0.5, −0.5) + (0.1, 0.3) = (0.55, −0.15); b = (−0.15, 0.05) − 0.5·buf.
    expectClose(read(vs.bias), [-0.425, 0.125]);
    // The kernel really was adapted: a plain SGD step would have moved it by lr·g = 0.05.
    expect(Math.abs(k1.w[0] - w0[0])).toBeLessThan(0.01);

    tf.dispose(Object.values(vs));
    opt.dispose();
  });

  it('clips the trust ratio at the global rate like solo-learn', () => {
    // eta large enough that η‖w‖/(‖g‖ + wd‖w‖) / lr > 1 for the kernel → clipped to 1.
    const hp = { lr: 0.1, momentum: 0.9, eta: 0.5, wd: 1e-4, clip: true };
    const vs = vars({ kernel: w0, bias: b0 });
    const opt = new LARS({ lr: hp.lr, momentum: hp.momentum, eta: hp.eta, weightDecay: hp.wd, clipTrustRatio: true });
    step(opt, vs, g1);
    const k1 = larsReference(w0, g1.kernel, [0, 0, 0, 0], { ...hp, excluded: false });
    expectClose(read(vs.kernel), k1.w);
    // trust clipped to 1 ⇒ d = g + wd·w, so w − 0.1·(g + 1e-4·w).
    expectClose(k1.w, w0.map((w, i) => w - 0.1 * (g1.kernel[i] + 1e-4 * w)));
    tf.dispose(Object.values(vs));
    opt.dispose();
  });

  it('uses the default trust coefficient 1e-3 and a custom exclude', () => {
    const vs = vars({ kernel: w0, bias: b0 });
    const opt = new LARS({ lr: 1, weightDecay: 0.1, exclude: () => false });
    step(opt, vs, g1);
    const hp = { lr: 1, momentum: 0.9, eta: 1e-3, wd: 0.1, excluded: false };
    expectClose(read(vs.kernel), larsReference(w0, g1.kernel, [0, 0, 0, 0], hp).w);
    expectClose(read(vs.bias), larsReference(b0, g1.bias, [0, 0], hp).w);
    tf.dispose(Object.values(vs));
    opt.dispose();
  });

  it('falls back to the plain gradient when a norm is zero', () => {
    const vs = vars({ kernel: [0, 0] });
    const opt = new LARS({ lr: 0.1, weightDecay: 0.5 });
    step(opt, vs, { kernel: [1, -2] });
    expectClose(read(vs.kernel), [-0.1, 0.2]);
    tf.dispose(Object.values(vs));
    opt.dispose();
  });

  it('rejects bad hyper-parameters by name', () => {
    expect(() => new LARS({ lr: 0.1, momentum: 1.2 })).toThrow('LARS: momentum must be in [0, 1), got 1.2.');
    expect(() => new LARS({ lr: -1 })).toThrow(/lr must be a finite number ≥ 0, got -1/);
  });
});

describe('SGD', () => {
  it('matches torch SGD with momentum and weight decay (by hand)', () => {
    const vs = vars({ kernel: [1, -2], bias: [1, -2] });
    const opt = new SGD({ lr: 0.1, momentum: 0.9, weightDecay: 0.1, exclude: (n) => n.endsWith('/bias') });
    step(opt, vs, { kernel: [0.5, 0.5], bias: [0.5, 0.5] });
    // d = g + 0.1·w = (0.6, 0.3); w − 0.1·d
    expectClose(read(vs.kernel), [0.94, -2.03]);
    expectClose(read(vs.bias), [0.95, -2.05]); // excluded: no decay
    step(opt, vs, { kernel: [0, 1], bias: [0, 1] });
    // d = (0.094, 0.797); buf = 0.9·(0.6, 0.3) + d = (0.634, 1.067)
    expectClose(read(vs.kernel), [0.8766, -2.1367]);
    tf.dispose(Object.values(vs));
    opt.dispose();
  });

  it('lrFor gives chosen variables their own learning rate', () => {
    const vs = vars({ kernel: [1, -2], bias: [1, -2] });
    const opt = new SGD({ lr: 0.1, momentum: 0, lrFor: (name, lr) => (name.endsWith('/bias') ? lr * 10 : lr) });
    step(opt, vs, { kernel: [0.5, 0.5], bias: [0.5, 0.5] });
    expectClose(read(vs.kernel), [0.95, -2.05]);
    expectClose(read(vs.bias), [0.5, -2.5]); // 1 − 1.0·0.5
    opt.setLearningRate(0.2);
    step(opt, vs, { kernel: [1, 1], bias: [0.1, 0.1] });
    expectClose(read(vs.kernel), [0.75, -2.25]);
    expectClose(read(vs.bias), [0.3, -2.7]); // the scheduled LR reaches lrFor: 0.2·10·0.1
    tf.dispose(Object.values(vs));
    opt.dispose();
  });

  it('agrees with tf.train.momentum without weight decay', () => {
    expectSameAsTfjs(new SGD({ lr: 0.05, momentum: 0.8 }), tf.train.momentum(0.05, 0.8));
  });
});

describe('Adam / AdamW', () => {
  it('Adam agrees with tf.train.adam over three steps (bias correction)', () => {
    expectSameAsTfjs(new Adam({ lr: 0.01 }), tf.train.adam(0.01, 0.9, 0.999, 1e-8));
  });

  it('AdamW one step: decoupled decay then a unit-size Adam step (by hand)', () => {
    // Step 1: m̂ = g, v̂ = g², so the Adam step is lr·g/(|g| + ε) ≈ lr·sign(g).
    // w·(1 − lr·wd) − lr·sign(g), lr 0.01, wd 0.1: 1·0.999 − 0.01 = 0.989, −2·0.999 − 0.01 = −2.008,
    // 0.5·0.999 + 0.01 = 0.5095. The excluded bias only takes the Adam step.
    const vs = vars({ kernel: [1, -2, 0.5], bias: [1, -2, 0.5] });
    const opt = new AdamW({ lr: 0.01, weightDecay: 0.1, exclude: isBiasOrNormParam });
    step(opt, vs, { kernel: [0.1, 0.2, -0.3], bias: [0.1, 0.2, -0.3] });
    expectClose(read(vs.kernel), [0.989, -2.008, 0.5095]);
    expectClose(read(vs.bias), [0.99, -2.01, 0.51]);
    tf.dispose(Object.values(vs));
    opt.dispose();
  });

  it('Adam weight decay is coupled (added to the gradient)', () => {
    // g' = g + wd·w = 0.1 + 0.1·1 = 0.2 → step lr·sign(g') = 0.01 → 0.99 (AdamW would give 0.989).
    const vs = vars({ kernel: [1] });
    const opt = new Adam({ lr: 0.01, weightDecay: 0.1 });
    step(opt, vs, { kernel: [0.1] });
    expectClose(read(vs.kernel), [0.99]);
    tf.dispose(Object.values(vs));
    opt.dispose();
  });
});

describe('state and checkpoints', () => {
  const run = (opt: SlotOptimizer, vs: Record<string, tf.Variable>, g: number[]) => step(opt, vs, { kernel: g, bias: g.slice(0, 2) });
  const gs = [[0.1, -0.2, 0.3], [0.4, 0.1, -0.1], [-0.3, 0.2, 0.2]];

  for (const make of [() => new LARS({ lr: 0.3, eta: 0.02, weightDecay: 1e-3 }), () => new Adam({ lr: 0.01 })]) {
    it(`${make().getClassName()}: setWeights(getWeights()) continues exactly`, async () => {
      const vs = vars({ kernel: [1, 2, 3], bias: [0.5, -0.5] });
      const a = make();
      run(a, vs, gs[0]);
      run(a, vs, gs[1]);
      const saved = await a.getWeights();
      expect(saved[0].name).toBe('iter');
      expect(saved[0].tensor.dataSync()[0]).toBe(2);
      const slotNames = saved.slice(1).map((s) => s.name.slice(s.name.indexOf('/dense/')));
      expect(slotNames).toEqual(a.getClassName() === 'selfsup.LARS' ? ['/dense/kernel/momentum', '/dense/bias/momentum'] : ['/dense/kernel/m', '/dense/kernel/v', '/dense/bias/m', '/dense/bias/v']);
      const snapshot = { kernel: vs.kernel.clone(), bias: vs.bias.clone() };

      run(a, vs, gs[2]);
      const expected = { kernel: read(vs.kernel), bias: read(vs.bias) };

      vs.kernel.assign(snapshot.kernel);
      vs.bias.assign(snapshot.bias);
      const b = make();
      await b.setWeights(saved);
      expect(b.iterations).toBe(2);
      run(b, vs, gs[2]);
      expect(read(vs.kernel)).toEqual(expected.kernel);
      expect(read(vs.bias)).toEqual(expected.bias);

      tf.dispose([...Object.values(vs), ...Object.values(snapshot), ...saved.map((s) => s.tensor)]);
      a.dispose();
      b.dispose();
    });
  }

  it('rejects state written by another optimizer', async () => {
    const vs = vars({ kernel: [1, 2, 3], bias: [0.5, -0.5] });
    const adam = new Adam({ lr: 0.01 });
    run(adam, vs, gs[0]);
    const saved = await adam.getWeights();
    const lars = new LARS({ lr: 0.1 });
    await expect(lars.setWeights(saved)).rejects.toThrow(/is not a selfsup\.LARS state tensor.*optimizer\.name/);
    tf.dispose([...Object.values(vs), ...saved.map((s) => s.tensor)]);
    adam.dispose();
    lars.dispose();
  });

  it('setLearningRate applies from the next step', () => {
    const vs = vars({ kernel: [1] });
    const opt = new SGD({ lr: 0.1, momentum: 0 });
    step(opt, vs, { kernel: [1] });
    opt.setLearningRate(0.01);
    step(opt, vs, { kernel: [1] });
    expectClose(read(vs.kernel), [1 - 0.1 - 0.01]);
    expect(opt.learningRate).toBe(0.01);
    expect(() => opt.setLearningRate(Number.NaN)).toThrow(/lr must be a finite number/);
    tf.dispose(Object.values(vs));
    opt.dispose();
  });

  it('keeps numTensors flat over repeated steps and frees its state on dispose', () => {
    const before0 = tf.memory().numTensors;
    for (const opt of [new LARS({ lr: 0.1, weightDecay: 1e-4, clipTrustRatio: true }), new SGD({ lr: 0.1, nesterov: true, weightDecay: 1e-4 }), new Adam({ lr: 0.1 }), new AdamW({ lr: 0.1 })]) {
      const vs = vars({ kernel: [1, 2, 3], bias: [0.5, -0.5] });
      run(opt, vs, gs[0]); // creates the slots
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) run(opt, vs, gs[i % 3]);
      expect(tf.memory().numTensors).toBe(before);
      opt.dispose();
      tf.dispose(Object.values(vs));
    }
    expect(tf.memory().numTensors).toBe(before0);
  });
});

describe('createOptimizer', () => {
  it('builds each optimizer with its settings', () => {
    // tf.Optimizer's duck-typed Symbol.hasInstance is overridden, so instanceof is exact.
    expect(createOptimizer({ name: 'sgd', lr: 1 })).not.toBeInstanceOf(LARS);
    expect(createOptimizer({ name: 'adam', lr: 1 })).not.toBeInstanceOf(AdamW);
    expect(createOptimizer({ name: 'adamw', lr: 1 })).toBeInstanceOf(Adam);
    expect(createOptimizer({ name: 'lars', lr: 1 })).toBeInstanceOf(tf.Optimizer);
    const lars = createOptimizer({ name: 'lars', lr: 0.2, eta: 0.02, clipTrustRatio: true, weightDecay: 1e-5 });
    expect(lars).toBeInstanceOf(LARS);
    expect(lars.getConfig()).toMatchObject({ lr: 0.2, eta: 0.02, clipTrustRatio: true, weightDecay: 1e-5, momentum: 0.9 });
    expect(createOptimizer({ name: 'sgd', lr: 0.06, weightDecay: 5e-4 })).toBeInstanceOf(SGD);
    expect(createOptimizer({ name: 'adam', lr: 3e-4 })).toBeInstanceOf(Adam);
    const adamw = createOptimizer({ name: 'adamw', lr: 1e-3 });
    expect(adamw).toBeInstanceOf(AdamW);
    expect(adamw.getConfig().weightDecay).toBe(0.01);
  });

  it('rejects unknown names and options the optimizer does not use', () => {
    expect(() => createOptimizer({ name: 'rmsprop' as never, lr: 1 })).toThrow('Unknown optimizer "rmsprop"; use one of lars, sgd, adam, adamw.');
    expect(() => createOptimizer({ name: 'adam', lr: 1, eta: 0.001, momentum: 0.9 })).toThrow(/"adam" does not take momentum, eta/);
  });

  it('minimize() trains a small dense model through the tf.Optimizer interface', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3], name: 'optim_minimize_dense' })] });
    const x = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]);
    const y = tf.tensor2d([[1], [2], [3], [6]]);
    const opt = createOptimizer({ name: 'lars', lr: 1, eta: 0.05 });
    const loss = () => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar;
    const first = tf.tidy(() => loss().dataSync()[0]);
    for (let i = 0; i < 30; i++) opt.minimize(loss);
    const last = tf.tidy(() => loss().dataSync()[0]);
    expect(last).toBeLessThan(first * 0.5);
    tf.dispose([x, y]);
    model.dispose();
    opt.dispose();
  });
});
