import { Callback, type HookFn } from './callback';
import { HOOK_EVENTS, hookMethodName, type HookEvent } from './events';
import { isFunctionalCallback } from './decorators';
import { decoratedHooks } from './metadata';

/** Thrown when a hook fails; names the callback and the event, keeps the original as `cause`. */
export class CallbackError extends Error {
  constructor(
    readonly callbackName: string,
    readonly event: HookEvent,
    override readonly cause: unknown,
  ) {
    super(`callback "${callbackName}" failed in ${event}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'CallbackError';
  }
}

/** A registration problem found before any step runs (duplicate name, unmet requires...). */
export class CallbackRegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CallbackRegistrationError';
  }
}

export interface ScheduledHook {
  callback: Callback;
  event: HookEvent;
  order: number;
  /** Registration index of the callback, then the hook's index inside it: the tie-breaker. */
  seq: number;
  /** Method name for class hooks, 'fn' for functional callbacks. */
  method: string;
  run: HookFn;
}

const baseMethods = new Map(HOOK_EVENTS.map((e) => [e, Callback.prototype[hookMethodName(e)]]));

function hooksOf(cb: Callback, index: number): ScheduledHook[] {
  const out: ScheduledHook[] = [];
  const seq = (i: number) => index * 1000 + i;
  if (isFunctionalCallback(cb)) {
    const { event, fn } = cb.functionalHook();
    out.push({ callback: cb, event, order: cb.order, seq: seq(0), method: 'fn', run: fn });
    return out;
  }
  const decorated = decoratedHooks(Object.getPrototypeOf(cb));
  const target = cb as unknown as Record<string | symbol, HookFn>;
  for (const event of HOOK_EVENTS) {
    const m = hookMethodName(event);
    const decoratedSame = decorated.some((d) => d.event === event && d.method === m);
    if (!decoratedSame && target[m] !== baseMethods.get(event)) {
      out.push({ callback: cb, event, order: cb.order, seq: seq(out.length), method: m, run: target[m].bind(cb) });
    }
  }
  for (const d of decorated) {
    const fn = target[d.method];
    out.push({
      callback: cb,
      event: d.event,
      order: d.order ?? cb.order,
      seq: seq(out.length),
      method: String(d.method),
      run: fn.bind(cb),
    });
  }
  return out;
}

/**
 * Holds the callbacks of one run and calls their hooks event by event: lower order first,
 * ties in registration order (tapable's `stage`). Validation happens once, at construction,
 * so a bad set of callbacks fails before any step.
 */
export class CallbackRunner {
  readonly callbacks: readonly Callback[];
  private readonly schedule = new Map<HookEvent, ScheduledHook[]>();

  constructor(callbacks: Callback[]) {
    validateCallbacks(callbacks);
    this.callbacks = [...callbacks];
    const all = callbacks.flatMap((cb, i) => hooksOf(cb, i));
    for (const event of HOOK_EVENTS) {
      this.schedule.set(
        event,
        all.filter((h) => h.event === event).sort((a, b) => a.order - b.order || a.seq - b.seq),
      );
    }
  }

  /** The hooks that will run at `event`, in order (for tests and `selfsup info`). */
  hooksFor(event: HookEvent): readonly ScheduledHook[] {
    return this.schedule.get(event) ?? [];
  }

  get(name: string): Callback | undefined {
    return this.callbacks.find((c) => c.name === name);
  }

  /**
   * Runs every hook of `event` in turn (those `only` accepts, when given); the first failure
   * is re-thrown as a CallbackError.
   */
  async run(event: HookEvent, exp: Parameters<HookFn>[0], only?: (hook: ScheduledHook) => boolean): Promise<void> {
    for (const h of this.hooksFor(event)) {
      if (only && !only(h)) continue;
      try {
        await h.run(exp);
      } catch (err) {
        if (isStopTraining(err)) throw err;
        throw new CallbackError(h.callback.name, event, err);
      }
    }
  }

  /**
   * Cleanup variant for experimentEnd after a failure: every hook runs even if an earlier one
   * throws; the errors are returned so the caller can report them without hiding the first.
   */
  async runAll(event: HookEvent, exp: Parameters<HookFn>[0]): Promise<CallbackError[]> {
    const errors: CallbackError[] = [];
    for (const h of this.hooksFor(event)) {
      try {
        await h.run(exp);
      } catch (err) {
        errors.push(new CallbackError(h.callback.name, event, err));
      }
    }
    return errors;
  }
}

export function validateCallbacks(callbacks: Callback[]): void {
  const seen = new Map<string, Callback>();
  callbacks.forEach((cb, i) => {
    // Duck-typed, not instanceof: a plugin built against another copy of @selfsup/core
    // has its own Callback class.
    if (!cb || typeof cb !== 'object' || typeof (cb as Callback).onEpochEnd !== 'function') {
      throw new CallbackRegistrationError(
        `callback #${i} is not a Callback (got ${cb === null ? 'null' : typeof cb}); extend Callback or use a hook function such as onEpochEnd(order)(fn)`,
      );
    }
    if (!cb.name) {
      throw new CallbackRegistrationError(
        `callback #${i} (${cb.constructor.name}) has no name: pass { name } to the Callback constructor or decorate the class with @registerCallback('<name>')`,
      );
    }
    if (!Number.isFinite(cb.order)) {
      throw new CallbackRegistrationError(`callback "${cb.name}" has a non-numeric order ${String(cb.order)}`);
    }
    const prev = seen.get(cb.name);
    if (prev) {
      throw new CallbackRegistrationError(
        `duplicate callback name "${cb.name}": ${prev.constructor.name} and ${cb.constructor.name} are both registered under it; give one of them another name`,
      );
    }
    seen.set(cb.name, cb);
  });
  for (const cb of callbacks) {
    for (const req of cb.requires) {
      if (!seen.has(req)) {
        throw new CallbackRegistrationError(
          `callback "${cb.name}" requires callback "${req}", which is not registered in this run; add "${req}" to the callbacks`,
        );
      }
    }
  }
}

/** Thrown (or set via `exp.stopTraining = true`) to end training after the current batch. */
export class StopTraining extends Error {
  constructor(reason = 'stop requested') {
    super(reason);
    this.name = 'StopTraining';
  }
}

export function isStopTraining(err: unknown): err is StopTraining {
  return err instanceof StopTraining;
}
