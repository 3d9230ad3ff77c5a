import { container as globalContainer } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config';
import { CALLBACK_OPTIONS, CONFIG, createRun, DATA_CONFIG, METHOD_CONFIG, TRAINER_CONFIG, VAL_DATA_CONFIG, withRun } from '../src/plugins/run';
import { EveryCallback, EveryOptions, FakeExperiment, FakeMethodConfig, FakeTargetInit, InjectedCallback, InjectedExperiment } from './fixtures/plugin-demo/fakes';

const TOKENS = [CONFIG, TRAINER_CONFIG, DATA_CONFIG, VAL_DATA_CONFIG, METHOD_CONFIG, CALLBACK_OPTIONS];

const config = {
  method: 'test-fake',
  data: { name: 'mnist', limit: 32 },
  trainer: { epochs: 2, seed: 7, stepsPerEpoch: 3 },
  model: { width: 4 },
  callbacks: [{ name: 'test-every', every: 2, mode: 'min' }],
};

describe('createRun / withRun', () => {
  it('constructs the experiment with its validated config and the callbacks with their validated options', async () => {
    const resolved = await resolveConfig(config);
    const run = createRun<FakeExperiment>(resolved);
    try {
      expect(run.experiment).toBeInstanceOf(FakeExperiment);
      expect(run.experiment.config).toBe(resolved.methodConfig);
      expect(run.experiment.config).toBeInstanceOf(FakeMethodConfig);
      expect(run.experiment.config.model.width).toBe(4);
      expect(run.experiment.init.seed).toBe(7);
      expect(run.experiment.init.config).toBe(resolved);

      expect(run.callbacks.map((c) => c.constructor)).toEqual([EveryCallback, FakeTargetInit]);
      const every = run.callbacks[0] as EveryCallback;
      expect(every.name).toBe('test-every');
      expect(every.opts).toBeInstanceOf(EveryOptions);
      expect({ ...every.opts }).toEqual({ every: 2, mode: 'min' });

      const fit = run.fitOptions();
      expect(fit).toEqual({ epochs: 2, stepsPerEpoch: 3, maxSteps: undefined, logEvery: 10, batchSize: 128, callbacks: run.callbacks });
    } finally {
      await run.dispose();
    }
  });

  it('registers the config on a child container only', async () => {
    const resolved = await resolveConfig(config);
    const run = createRun(resolved);
    try {
      expect(run.container).not.toBe(globalContainer);
      expect(run.container.resolve(CONFIG)).toBe(resolved);
      expect(run.container.resolve(TRAINER_CONFIG)).toBe(resolved.root.trainer);
      expect(run.container.resolve(DATA_CONFIG)).toBe(resolved.root.data);
      expect(run.container.resolve(VAL_DATA_CONFIG)).toBeUndefined();
      expect(run.container.resolve(METHOD_CONFIG)).toBe(resolved.methodConfig);
      for (const t of TOKENS) expect(globalContainer.isRegistered(t, true)).toBe(false);
    } finally {
      await run.dispose();
    }
  });

  it('classes written for injection are resolved from the run container', async () => {
    const resolved = await resolveConfig({ ...config, method: 'test-injected-method', callbacks: [{ name: 'test-injected', every: 9 }] });
    await withRun<void, InjectedExperiment>(resolved, (run) => {
      expect(run.experiment).toBeInstanceOf(InjectedExperiment);
      expect(run.experiment.resolved).toBe(resolved);
      expect(run.experiment.config).toBe(resolved.methodConfig);
      const cb = run.callbacks[0] as InjectedCallback;
      expect(cb).toBeInstanceOf(InjectedCallback);
      expect(cb.name).toBe('test-injected');
      expect(cb.config).toBe(resolved);
      expect(cb.opts).toBeInstanceOf(EveryOptions);
      expect(cb.opts.every).toBe(9);
      // Options are per callback: not visible on the run container itself.
      expect(run.container.isRegistered(CALLBACK_OPTIONS, true)).toBe(false);
    });
  });

  it('withRun disposes the child container after the function, also when it throws', async () => {
    const resolved = await resolveConfig(config);
    let seen: import('tsyringe').DependencyContainer | undefined;
    const out = await withRun(resolved, (run) => {
      seen = run.container;
      return 42;
    });
    expect(out).toBe(42);
    expect(() => seen!.resolve(CONFIG)).toThrow(/disposed/);

    const failure = await withRun(resolved, (run) => {
      seen = run.container;
      throw new Error('training blew up');
    }).catch((e: Error) => e);
    expect((failure as Error).message).toBe('training blew up');
    expect(() => seen!.isRegistered(CONFIG)).toThrow(/disposed/);
    for (const t of TOKENS) expect(globalContainer.isRegistered(t, true)).toBe(false);
  });

  it('dispose is idempotent', async () => {
    const run = createRun(await resolveConfig(config));
    await run.dispose();
    await expect(run.dispose()).resolves.toBeUndefined();
  });

  it('a constructor that throws is reported with the callback, where it came from and its options', async () => {
    const resolved = await resolveConfig(config);
    const original = resolved.callbacks[0].info.ctor;
    class Exploding extends EveryCallback {
      constructor(o: EveryOptions) {
        super(o);
        throw new Error('no display');
      }
    }
    resolved.callbacks[0].info = { ...resolved.callbacks[0].info, ctor: Exploding };
    expect(() => createRun(resolved)).toThrow('callback "test-every" (callbacks[0]) with options {"every":2,"mode":"min"} could not be constructed: no display');
    resolved.callbacks[0].info = { ...resolved.callbacks[0].info, ctor: original };
  });
});
