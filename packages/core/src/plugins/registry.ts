import type { Callback } from '../callbacks/callback';
import { setRegisteredCallbackInfo } from '../callbacks/metadata';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Constructor<T = unknown> = new (...args: any[]) => T;

export interface CallbackPluginInfo {
  kind: 'callback';
  name: string;
  ctor: Constructor<Callback>;
  /** class-validator class of the callback's options (the YAML entry minus `name`). */
  options?: Constructor<object>;
  requires: string[];
  order?: number;
  description?: string;
}

export interface MethodPluginInfo {
  kind: 'method';
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ctor: Constructor<any>;
  /** class-validator class of the method's config sections (model, augment, optimizer, ...). */
  config?: Constructor<object>;
  /** Callbacks the method needs, added by name when the config does not list them. */
  defaultCallbacks?: Array<{ name: string; [k: string]: unknown }>;
  description?: string;
}

export type PluginInfo = CallbackPluginInfo | MethodPluginInfo;

/**
 * Methods and callbacks by name. Packages (ours and third parties') register at import time
 * through the decorators below; a config's `method:` and `callbacks:` resolve against it.
 */
export class PluginRegistry {
  private readonly callbacks = new Map<string, CallbackPluginInfo>();
  private readonly methods = new Map<string, MethodPluginInfo>();

  addCallback(info: Omit<CallbackPluginInfo, 'kind'>): void {
    const prev = this.callbacks.get(info.name);
    if (prev && prev.ctor !== info.ctor) {
      throw new Error(`callback name "${info.name}" is registered twice: by ${prev.ctor.name} and by ${info.ctor.name}`);
    }
    this.callbacks.set(info.name, { kind: 'callback', ...info });
  }

  addMethod(info: Omit<MethodPluginInfo, 'kind'>): void {
    const prev = this.methods.get(info.name);
    if (prev && prev.ctor !== info.ctor) {
      throw new Error(`method name "${info.name}" is registered twice: by ${prev.ctor.name} and by ${info.ctor.name}`);
    }
    this.methods.set(info.name, { kind: 'method', ...info });
  }

  callback(name: string): CallbackPluginInfo {
    const info = this.callbacks.get(name);
    if (!info) {
      throw new Error(`unknown callback "${name}"; registered callbacks: ${this.callbackNames().join(', ') || '(none)'}. A plugin package may need to be listed under plugins:`);
    }
    return info;
  }

  method(name: string): MethodPluginInfo {
    const info = this.methods.get(name);
    if (!info) {
      throw new Error(`unknown method "${name}"; registered methods: ${this.methodNames().join(', ') || '(none)'}. A plugin package may need to be listed under plugins:`);
    }
    return info;
  }

  hasCallback(name: string): boolean {
    return this.callbacks.has(name);
  }

  hasMethod(name: string): boolean {
    return this.methods.has(name);
  }

  callbackNames(): string[] {
    return [...this.callbacks.keys()].sort();
  }

  methodNames(): string[] {
    return [...this.methods.keys()].sort();
  }
}

// One registry per process, shared by every copy of @selfsup/core that npm may install
// (a plugin with its own nested copy must still register where the CLI looks).
const KEY = Symbol.for('selfsup.plugins.registry');
const g = globalThis as unknown as Record<symbol, PluginRegistry | undefined>;
export const plugins: PluginRegistry = (g[KEY] ??= new PluginRegistry());

export interface RegisterCallbackOptions {
  requires?: string[];
  order?: number;
  options?: Constructor<object>;
  description?: string;
}

/**
 * Class decorator: makes a Callback constructible by name from a config
 * (`callbacks: [{ name: knn-eval, every: 5 }]`). The constructor receives the validated options.
 */
export function registerCallback(name: string, opts: RegisterCallbackOptions = {}) {
  return <T extends Constructor<Callback>>(ctor: T): T => {
    setRegisteredCallbackInfo(ctor, { name, order: opts.order, requires: opts.requires });
    plugins.addCallback({
      name,
      ctor,
      options: opts.options,
      requires: opts.requires ?? [],
      order: opts.order,
      description: opts.description,
    });
    return ctor;
  };
}

export interface RegisterMethodOptions {
  config?: Constructor<object>;
  defaultCallbacks?: Array<{ name: string; [k: string]: unknown }>;
  description?: string;
}

/** Class decorator: makes an Experiment subclass selectable with `method: <name>`. */
export function registerMethod(name: string, opts: RegisterMethodOptions = {}) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return <T extends Constructor<any>>(ctor: T): T => {
    plugins.addMethod({ name, ctor, ...opts });
    return ctor;
  };
}
