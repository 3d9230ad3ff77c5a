import { Callback, type HookFn } from './callback';
import type { HookEvent } from './events';
import { addDecoratedHook } from './metadata';
import { CallbackOrder } from './order';

export interface HookOptions {
  /** Overrides the class-level order for this hook only. */
  order?: number;
  /** Name of the callback built by the functional form. */
  name?: string;
}

/**
 * Used on a method of a Callback subclass, it records the method as a handler of the event.
 * Applied to a plain function (`onExperimentStart(CallbackOrder.MODEL_INIT)(fn)`), it returns
 * a Callback that runs the function at that event — torchflare's functional callbacks.
 */
export interface HookDecorator {
  // any parameter type: a method may take `exp: MyExperiment`, and may be async
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  <T extends (exp: any) => void | Promise<void>>(target: Callback, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): void;
  (fn: HookFn): Callback;
}

class FunctionalCallback extends Callback {
  constructor(
    name: string,
    order: number,
    private readonly event: HookEvent,
    private readonly fn: HookFn,
  ) {
    super({ name, order });
  }

  /** The runner asks each callback for its handlers; a functional one has exactly one. */
  functionalHook(): { event: HookEvent; fn: HookFn } {
    return { event: this.event, fn: this.fn };
  }
}

export function isFunctionalCallback(cb: Callback): cb is Callback & { functionalHook(): { event: HookEvent; fn: HookFn } } {
  return cb instanceof FunctionalCallback;
}

let anonymousCount = 0;

function hookDecorator(event: HookEvent) {
  return (opts?: number | HookOptions): HookDecorator => {
    const o: HookOptions = typeof opts === 'number' ? { order: opts } : (opts ?? {});
    if (o.order !== undefined && !Number.isFinite(o.order)) {
      throw new TypeError(`@on${event[0].toUpperCase()}${event.slice(1)}: order must be a finite number, got ${String(o.order)}`);
    }
    function decorate(fn: HookFn): Callback;
    function decorate(target: Callback, key: string | symbol, descriptor: TypedPropertyDescriptor<HookFn>): void;
    function decorate(target: Callback | HookFn, key?: string | symbol, descriptor?: TypedPropertyDescriptor<HookFn>): Callback | void {
      if (key === undefined && typeof target === 'function') {
        const fn = target as HookFn;
        const name = o.name ?? (fn.name || `${event}-fn-${++anonymousCount}`);
        return new FunctionalCallback(name, o.order ?? CallbackOrder.EXTERNAL, event, fn);
      }
      if (typeof descriptor?.value !== 'function') {
        throw new TypeError(`@${event} hooks decorate methods, not ${String(key)}`);
      }
      addDecoratedHook(target as object, { event, method: key!, order: o.order });
    }
    return decorate as HookDecorator;
  };
}

export const onExperimentStart = hookDecorator('experimentStart');
export const onEpochStart = hookDecorator('epochStart');
export const onBatchStart = hookDecorator('batchStart');
export const onBatchEnd = hookDecorator('batchEnd');
export const onValidationStart = hookDecorator('validationStart');
export const onValidationBatchEnd = hookDecorator('validationBatchEnd');
export const onValidationEnd = hookDecorator('validationEnd');
export const onEpochEnd = hookDecorator('epochEnd');
export const onExperimentEnd = hookDecorator('experimentEnd');
