import { createRequire } from 'node:module';
import * as path from 'node:path';
import { UserError } from '../config/errors';
import { plugins } from './registry';

export interface LoadPluginsOptions {
  /** Directory that relative paths and module names are resolved from (the config file's). */
  baseDir?: string;
}

export interface LoadedPlugin {
  /** The spec as written in `plugins:`. */
  spec: string;
  /** What was imported: an absolute file, or the bare name when Node could not resolve it itself. */
  resolved: string;
  /** Names this import added to the registry (empty when the module was already loaded). */
  methods: string[];
  callbacks: string[];
}

/** A plugin that could not be found or threw while loading (its own error is the `cause`). */
export class PluginLoadError extends UserError {
  constructor(
    readonly spec: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'PluginLoadError';
  }
}

/** `./x`, `../x`, `/abs/x`, `C:\x`: a path; anything else is a module name. */
export function isPathSpec(spec: string): boolean {
  return spec.startsWith('.') || path.isAbsolute(spec) || /^[A-Za-z]:[\\/]/.test(spec);
}

function resolveSpec(spec: string, baseDir: string): string {
  const req = createRequire(path.join(baseDir, '__selfsup_plugin_resolver__.js'));
  if (isPathSpec(spec)) {
    const abs = path.resolve(baseDir, spec);
    try {
      return req.resolve(abs); // a directory → its package.json main / index.js
    } catch {
      return abs; // e.g. a folder with only index.ts: let import() try its own resolution
    }
  }
  try {
    return req.resolve(spec, { paths: [baseDir, process.cwd()] });
  } catch {
    return spec; // maybe resolvable by the runtime's own rules (test runner aliases, exports maps)
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

/**
 * Imports plugin modules, in order. A plugin registers its methods and callbacks when
 * imported (`@registerMethod`, `@registerCallback`), so after this their names resolve.
 */
export async function loadPlugins(specs: readonly string[], opts: LoadPluginsOptions = {}): Promise<LoadedPlugin[]> {
  const baseDir = path.resolve(opts.baseDir ?? process.cwd());
  const loaded: LoadedPlugin[] = [];
  for (const spec of specs) {
    if (typeof spec !== 'string' || spec.trim() === '') {
      throw new PluginLoadError(String(spec), `plugin spec ${JSON.stringify(spec)} is not a module name or path`);
    }
    const resolved = resolveSpec(spec, baseDir);
    const methodsBefore = new Set(plugins.methodNames());
    const callbacksBefore = new Set(plugins.callbackNames());
    try {
      // Kept as a plain `await import(...)`: tsc's CommonJS output turns it into require(),
      // and vitest routes it through its own transform (so a TypeScript plugin loads in tests).
      await import(resolved);
    } catch (err) {
      // "Not found" only when the plugin itself is missing: a dependency the plugin fails to
      // find is the plugin's problem, not something to fix in plugins:.
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      const text = describe(err);
      const notFound =
        (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND' || /cannot find (module|package)|failed to load url/i.test(text)) &&
        (text.includes(`'${resolved}'`) || text.includes(`'${spec}'`));
      const hint = notFound
        ? isPathSpec(spec)
          ? path.isAbsolute(spec) ? 'check the path' : `check the path (relative to ${baseDir})`
          : `install it (npm install ${spec}) or give a path relative to the config file`
        : 'the module threw while loading; fix the plugin or remove it from plugins:';
      throw new PluginLoadError(spec, `plugin "${spec}" failed to load from ${resolved}: ${text}; ${hint}`, err);
    }
    loaded.push({
      spec,
      resolved,
      methods: plugins.methodNames().filter((n) => !methodsBefore.has(n)),
      callbacks: plugins.callbackNames().filter((n) => !callbacksBefore.has(n)),
    });
  }
  return loaded;
}
