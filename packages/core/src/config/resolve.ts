import * as path from 'node:path';
import { isPathSpec, loadPlugins, PluginLoadError, type LoadedPlugin } from '../plugins/load';
import { plugins, type CallbackPluginInfo, type MethodPluginInfo } from '../plugins/registry';
import { ConfigError, type ConfigProblem } from './errors';
import { CallbackEntry, METHOD_SECTIONS, RootConfig } from './root';
import { originOf, sourceOf, type ConfigSource } from './source';
import { toPlainData } from './yaml';
import { allowedKeys, checkConfig, isPlainObject, joinPath, type ConfigClass } from './validate';

/** A callback the run will construct: its registration and its validated options. */
export interface ResolvedCallback {
  name: string;
  info: CallbackPluginInfo;
  /** Instance of the callback's `options` class (defaults applied), or `{}` when it has none. */
  options: object;
  /** `config`: listed under callbacks:; `method`: added from the method's defaultCallbacks. */
  from: 'config' | 'method';
  /** Where it came from, for messages: `callbacks[2]`, or `method byol default callback target-init`. */
  where: string;
}

/** A config after validation: every section checked, defaults applied, names looked up. */
export class ResolvedConfig {
  constructor(
    readonly root: RootConfig,
    readonly method: MethodPluginInfo,
    /** Instance of the method's `config` class (its sections, defaults applied), or `{}`. */
    readonly methodConfig: object,
    readonly callbacks: ResolvedCallback[],
    readonly plugins: LoadedPlugin[],
    readonly file?: string,
    /** Where each key came from (a line of the file, a --set), for problems found after validation. */
    readonly source?: ConfigSource,
  ) {}

  /**
   * A ConfigError for one key that passed validation but does not fit what the run found
   * (a data.path that does not exist, a batch larger than the dataset): named with the
   * file, the key, its value and its line or --set, like every other config problem.
   */
  errorAt(keyPath: string, value: unknown, rule: string): ConfigError {
    return new ConfigError([{ path: keyPath, value, present: true, rule, origin: originOf(this.source, keyPath) }], this.file);
  }

  /** The run name (directory under runs/). */
  get name(): string {
    return this.root.name;
  }

  /**
   * The whole config as plain data with every default filled in: what config.resolved.yaml
   * holds. Every option of every section and callback is there; one whose default is decided
   * at run time (trainer.threads: the machine's cores) or that has none (trainer.maxSteps) is
   * `null`. Resolving it again (from any directory) gives the same config.
   */
  toPlain(): Record<string, unknown> {
    const { name, plugins: pluginSpecs, trainer, data, val, export: exportSection } = this.root;
    return toPlainData({
      name,
      method: this.method.name,
      // Path specs become absolute: the resolved YAML is read back from the run directory.
      plugins: pluginSpecs.map((spec) => (isPathSpec(spec) ? (this.plugins.find((p) => p.spec === spec)?.resolved ?? spec) : spec)),
      trainer,
      data,
      val: val ?? null,
      // the method's sections as mappings of every option (an instance's keys, unset ones null)
      ...(toPlainData(this.methodConfig) as Record<string, unknown>),
      export: exportSection,
      callbacks: this.callbacks.map((c) => ({ name: c.name, ...(toPlainData(c.options) as Record<string, unknown>) })),
    }) as Record<string, unknown>;
  }
}

export interface ResolveConfigOptions {
  /** The config file (names it in messages, defaults the run name and the plugins' base directory). */
  file?: string;
  /** Where plugin paths are resolved from (default: the file's directory, else the cwd). */
  baseDir?: string;
}

class NoOptions {}

/** "configs/my run.yaml" → "my-run": a run name that is safe as a directory name. */
export function runNameFromFile(file: string): string {
  const base = path.basename(file).replace(/\.(ya?ml|json)$/i, '');
  const safe = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return safe || 'run';
}

function validateEntryOptions(
  info: CallbackPluginInfo,
  entry: Record<string, unknown>,
  at: string,
  problems: ConfigProblem[],
): object {
  const { name: _name, ...rest } = entry;
  const cls: ConfigClass = info.options ?? NoOptions;
  const r = checkConfig(cls, rest, at);
  problems.push(...r.problems);
  return info.options ? r.value : {};
}

function lookup<T>(find: () => T, problem: Omit<ConfigProblem, 'rule'>, problems: ConfigProblem[]): T | undefined {
  try {
    return find();
  } catch (err) {
    problems.push({ ...problem, rule: (err as Error).message });
    return undefined;
  }
}

/**
 * Validates a plain config (from loadConfigFile) into a ResolvedConfig: loads `plugins:`,
 * checks the core sections, the method's own sections against its config class, every
 * callback entry against its options class, adds the method's default callbacks and checks
 * `requires`. Every problem found is reported at once in a ConfigError.
 */
export async function resolveConfig(plain: unknown, opts: ResolveConfigOptions = {}): Promise<ResolvedConfig> {
  const source = sourceOf(plain);
  const file = opts.file ?? source?.file;
  if (!isPlainObject(plain)) {
    throw new ConfigError([{ path: '', value: plain, present: true, rule: 'a config must be a mapping of sections (method:, data:, trainer:, ...)' }], file);
  }
  const problems: ConfigProblem[] = [];
  inheritValPath(plain);

  // Plugins first: they register the methods and callbacks named below.
  let loaded: LoadedPlugin[] = [];
  const specs = plain.plugins;
  if (Array.isArray(specs) && specs.every((s) => typeof s === 'string' && s.trim() !== '')) {
    const baseDir = opts.baseDir ?? (file ? path.dirname(path.resolve(file)) : process.cwd());
    try {
      loaded = await loadPlugins(specs as string[], { baseDir });
    } catch (err) {
      if (err instanceof PluginLoadError) {
        const i = (specs as string[]).indexOf(err.spec);
        const origin = originOf(source, `plugins[${i}]`) ?? originOf(source, 'plugins');
        throw new PluginLoadError(err.spec, `${file ? `${file}: ` : ''}plugins[${i}]: ${err.message}${origin ? ` (${origin})` : ''}`, err.cause);
      }
      throw err;
    }
  }

  // The method may own top-level sections besides model/augment/optimizer/schedule.
  const methodName = plain.method;
  const method =
    typeof methodName === 'string' && methodName !== ''
      ? lookup(() => plugins.method(methodName), { path: 'method', value: methodName, present: true }, problems)
      : undefined;
  const rootKeys = new Set(allowedKeys(RootConfig));
  const methodKeys = new Set<string>([...METHOD_SECTIONS, ...(method?.config ? allowedKeys(method.config).filter((k) => !rootKeys.has(k)) : [])]);
  const rootPart: Record<string, unknown> = {};
  const methodPart: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plain)) (methodKeys.has(k) ? methodPart : rootPart)[k] = v;
  if (rootPart.name === undefined && file) rootPart.name = runNameFromFile(file);

  const rootCheck = checkConfig(RootConfig, rootPart);
  problems.push(...rootCheck.problems);
  const root = rootCheck.value;

  let methodConfig: object = {};
  if (method) {
    if (method.config) {
      const r = checkConfig(method.config, methodPart);
      problems.push(...r.problems);
      methodConfig = r.value;
    } else {
      for (const [k, v] of Object.entries(methodPart)) {
        problems.push({ path: k, value: v, rule: `method "${method.name}" takes no ${k}: section (it registered no config class); remove it` });
      }
    }
  }

  // Callback entries: name, then the options the callback itself declares.
  const callbacks: ResolvedCallback[] = [];
  const listedAt = new Map<string, string>();
  const entries = Array.isArray(plain.callbacks) ? plain.callbacks : [];
  const defaults = new Map((method?.defaultCallbacks ?? []).map((d) => [d.name, d]));
  entries.forEach((entry: unknown, i: number) => {
    const at = joinPath('callbacks', i, true);
    if (!isPlainObject(entry)) {
      problems.push({ path: at, value: entry, present: true, rule: 'a callback entry must be a mapping with a name, e.g. { name: knn-eval, every: 5 }' });
      return;
    }
    const nameCheck = checkConfig(CallbackEntry, { name: entry.name }, at);
    if (nameCheck.problems.length) {
      problems.push(...nameCheck.problems);
      return;
    }
    const name = entry.name as string;
    const info = lookup(() => plugins.callback(name), { path: `${at}.name`, value: name, present: true }, problems);
    if (!info) return;
    const prev = listedAt.get(name);
    if (prev) {
      problems.push({ path: `${at}.name`, value: name, present: true, rule: `callback "${name}" is already listed at ${prev}; a callback runs once per run, so merge the two entries` });
      return;
    }
    listedAt.set(name, at);
    // A listed default keeps the method's values for the keys the entry does not set
    // (listing ema-update with `every: 2` must not reset the method's tau).
    const merged = { ...defaults.get(name), ...entry };
    callbacks.push({ name, info, options: validateEntryOptions(info, merged, at, problems), from: 'config', where: at });
  });

  for (const [i, d] of (method?.defaultCallbacks ?? []).entries()) {
    if (listedAt.has(d.name)) continue;
    const where = `method ${method!.name} default callback ${d.name}`;
    const info = lookup(() => plugins.callback(d.name), { path: `(method ${method!.name}).defaultCallbacks[${i}]`, value: d.name, present: true }, problems);
    if (!info) continue;
    listedAt.set(d.name, where);
    callbacks.push({ name: d.name, info, options: validateEntryOptions(info, d, `(${where})`, problems), from: 'method', where });
  }

  // Unmet `requires` fail here, before any model or dataset is built.
  for (const cb of callbacks) {
    for (const req of cb.info.requires) {
      if (listedAt.has(req)) continue;
      const known = plugins.hasCallback(req) ? '' : ` ("${req}" is not registered either: is a plugin missing from plugins:?)`;
      problems.push({
        path: cb.from === 'config' ? cb.where : 'callbacks',
        rule: `callback "${cb.name}" requires callback "${req}", which this config does not list; add { name: ${req} } to callbacks:${known}`,
      });
    }
  }

  if (problems.length > 0) {
    throw new ConfigError(
      problems.map((p) => ({ ...p, origin: p.origin ?? originOf(source, p.path) })),
      file,
    );
  }
  return new ResolvedConfig(root, method!, methodConfig, callbacks, loaded, file, source);
}

/** `val:` reads the same dataset as `data:` (an image folder's val split) unless it names its own path. */
function inheritValPath(plain: Record<string, unknown>): void {
  const { data, val } = plain;
  if (!isPlainObject(data) || !isPlainObject(val)) return;
  if (val.path === undefined && data.path !== undefined && (val.name ?? data.name) === data.name) val.path = data.path;
}
