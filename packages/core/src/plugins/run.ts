import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer, type InjectionToken } from 'tsyringe';
import type { Callback } from '../callbacks/callback';
import { ConfigError, isUserError } from '../config/errors';
import type { ResolvedConfig, ResolvedCallback } from '../config/resolve';
import type { DataConfig } from '../config/data';
import type { TrainerConfig } from '../config/trainer';
import type { Experiment, FitOptions } from '../experiment/experiment';

// Symbol.for: a plugin built against another copy of @selfsup/core injects the same tokens.
/** The whole ResolvedConfig of the run. */
export const CONFIG: InjectionToken<ResolvedConfig> = Symbol.for('selfsup.run.config');
export const TRAINER_CONFIG: InjectionToken<TrainerConfig> = Symbol.for('selfsup.run.trainer');
export const DATA_CONFIG: InjectionToken<DataConfig> = Symbol.for('selfsup.run.data');
/** The `val:` section, or undefined when the config has none. */
export const VAL_DATA_CONFIG: InjectionToken<DataConfig | undefined> = Symbol.for('selfsup.run.val');
/** The method's validated config instance (its model/augment/optimizer/schedule sections). */
export const METHOD_CONFIG: InjectionToken<object> = Symbol.for('selfsup.run.method-config');
/** The validated options of the callback being constructed (registered per callback). */
export const CALLBACK_OPTIONS: InjectionToken<object> = Symbol.for('selfsup.run.callback-options');

/** How a method is constructed when it does not use injection: `new Method(methodConfig, opts)`. */
export interface MethodInit {
  seed: number;
  config: ResolvedConfig;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Run<E extends Experiment<any, any> = Experiment<any, any>> {
  readonly config: ResolvedConfig;
  readonly experiment: E;
  readonly callbacks: Callback[];
  /** The run's child container (never the global one). */
  readonly container: DependencyContainer;
  /** `experiment.fit` options from the trainer section, with the run's callbacks. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  fitOptions(): FitOptions<any>;
  /** Disposes the run's containers (and what they constructed); safe to call twice. */
  dispose(): Promise<void>;
}

/**
 * A class written for injection (`@injectable()` with `@inject(TOKEN)` on its constructor
 * parameters) is resolved from the container; any other class is called with plain arguments.
 * Explicit tokens only: esbuild-based runners drop `design:paramtypes`.
 */
function usesInjection(ctor: object): boolean {
  const tokens = Reflect.getOwnMetadata('injectionTokens', ctor) as Record<string, unknown> | undefined;
  return tokens !== undefined && Object.keys(tokens).length > 0;
}

/**
 * A constructor that threw. When it rejected its options (a UserError), the failure is a
 * config problem of the entry at `where` (`callbacks[2]`, `method`), reported as such.
 */
function constructFailure(what: string, err: unknown, where: string, file: string | undefined): Error {
  const cause = err instanceof Error ? err.message : String(err);
  const message = `${what} could not be constructed: ${cause}`;
  return isUserError(err) ? ConfigError.of(err, where, file, message) : new Error(message, { cause: err });
}

function buildCallback(cb: ResolvedCallback, run: DependencyContainer, scopes: DependencyContainer[], file: string | undefined): Callback {
  const ctor = cb.info.ctor;
  try {
    if (usesInjection(ctor)) {
      const scope = run.createChildContainer();
      scopes.push(scope);
      scope.register(CALLBACK_OPTIONS, { useValue: cb.options });
      return scope.resolve(ctor);
    }
    return new ctor(cb.options);
  } catch (err) {
    throw constructFailure(`callback "${cb.name}" (${cb.where}) with options ${JSON.stringify(cb.options)}`, err, cb.from === 'config' ? cb.where : `callbacks (${cb.where})`, file);
  }
}

/**
 * Builds a run from a resolved config: a child container holding the validated config
 * under the tokens above, the method's experiment and the callbacks (the config's, then
 * the method's defaults), each constructed with its validated options.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function createRun<E extends Experiment<any, any> = Experiment<any, any>>(
  resolved: ResolvedConfig,
  opts: { parent?: DependencyContainer } = {},
): Run<E> {
  const container = (opts.parent ?? rootContainer).createChildContainer();
  const scopes: DependencyContainer[] = [];
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    for (const s of scopes.reverse()) await s.dispose();
    await container.dispose();
  };

  const { trainer, data, val } = resolved.root;
  container.register(CONFIG, { useValue: resolved });
  container.register(TRAINER_CONFIG, { useValue: trainer });
  container.register(DATA_CONFIG, { useValue: data });
  // tsyringe does not take `useValue: undefined` for a value; a factory may return it.
  container.register(VAL_DATA_CONFIG, { useFactory: () => val });
  container.register(METHOD_CONFIG, { useValue: resolved.methodConfig });

  try {
    const Method = resolved.method.ctor as new (...args: unknown[]) => E;
    let experiment: E;
    try {
      experiment = usesInjection(Method)
        ? container.resolve(Method)
        : new Method(resolved.methodConfig, { seed: trainer.seed, config: resolved } satisfies MethodInit);
    } catch (err) {
      throw constructFailure(`method "${resolved.method.name}" (${Method.name})`, err, 'method', resolved.file);
    }
    const callbacks = resolved.callbacks.map((cb) => buildCallback(cb, container, scopes, resolved.file));
    return {
      config: resolved,
      experiment,
      callbacks,
      container,
      fitOptions: () => ({
        epochs: trainer.epochs,
        stepsPerEpoch: trainer.stepsPerEpoch,
        maxSteps: trainer.maxSteps,
        logEvery: trainer.logEvery,
        batchSize: trainer.batchSize,
        callbacks,
      }),
      dispose,
    };
  } catch (err) {
    void dispose();
    throw err;
  }
}

/** Creates a run, hands it to `fn`, and disposes its container afterwards, whatever happens. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function withRun<T, E extends Experiment<any, any> = Experiment<any, any>>(
  resolved: ResolvedConfig,
  fn: (run: Run<E>) => T | Promise<T>,
): Promise<T> {
  const run = createRun<E>(resolved);
  try {
    return await fn(run);
  } finally {
    await run.dispose();
  }
}
