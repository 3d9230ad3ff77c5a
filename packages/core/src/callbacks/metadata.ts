import type { HookEvent } from './events';

/** A hook recorded by a method decorator on a callback class. */
export interface DecoratedHook {
  event: HookEvent;
  method: string | symbol;
  order?: number;
}

export interface RegisteredCallbackInfo {
  name: string;
  order?: number;
  requires?: string[];
}

const HOOKS = Symbol.for('selfsup.callback.hooks');
const INFO = Symbol.for('selfsup.callback.info');

type WithHooks = { [HOOKS]?: DecoratedHook[] };
type WithInfo = { [INFO]?: RegisteredCallbackInfo };

export function addDecoratedHook(proto: object, hook: DecoratedHook): void {
  const p = proto as WithHooks;
  if (!Object.prototype.hasOwnProperty.call(p, HOOKS)) {
    Object.defineProperty(p, HOOKS, { value: [], enumerable: false });
  }
  p[HOOKS]!.push(hook);
}

/** Decorated hooks of a class and its ancestors, base class first, each in declaration order. */
export function decoratedHooks(proto: object | null): DecoratedHook[] {
  const chain: DecoratedHook[][] = [];
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (Object.prototype.hasOwnProperty.call(p, HOOKS)) chain.unshift((p as WithHooks)[HOOKS]!);
  }
  return chain.flat();
}

export function setRegisteredCallbackInfo(ctor: object, info: RegisteredCallbackInfo): void {
  Object.defineProperty(ctor, INFO, { value: info, enumerable: false, configurable: true });
}

export function registeredCallbackInfo(ctor: object): RegisteredCallbackInfo | undefined {
  return Object.prototype.hasOwnProperty.call(ctor, INFO) ? (ctor as WithInfo)[INFO] : undefined;
}
