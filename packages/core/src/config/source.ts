/**
 * Where each key of a loaded config came from: its line in the YAML file, or a --set
 * override. Kept beside the plain object (under a symbol, so it never reaches validation or
 * the resolved YAML) so problems found later can point at the exact line.
 */
export interface ConfigSource {
  file?: string;
  /** Key path (`trainer.epochs`, `callbacks[1].every`) → 1-based line of the key in the file. */
  lines: Map<string, number>;
  /** Key path → the override text that set it (`trainer.epochs=5`). */
  overrides: Map<string, string>;
}

const SOURCE = Symbol.for('selfsup.config.source');

export function attachSource<T extends object>(plain: T, source: ConfigSource): T {
  Object.defineProperty(plain, SOURCE, { value: source, enumerable: false, configurable: true });
  return plain;
}

export function sourceOf(plain: unknown): ConfigSource | undefined {
  return plain !== null && typeof plain === 'object' ? (plain as { [SOURCE]?: ConfigSource })[SOURCE] : undefined;
}

/** `callbacks[2].every` → [`callbacks[2].every`, `callbacks[2]`, `callbacks`]. */
function selfAndAncestors(path: string): string[] {
  const out: string[] = [];
  for (let p = path; p; ) {
    out.push(p);
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut > 0 ? p.slice(0, cut) : '';
  }
  return out;
}

/** `--set x=y` when an override produced the value, else `line N` of the nearest key in the file. */
export function originOf(source: ConfigSource | undefined, path: string): string | undefined {
  if (!source) return undefined;
  const chain = selfAndAncestors(path);
  for (const p of chain) {
    const o = source.overrides.get(p);
    if (o !== undefined) return `from --set ${o}`;
  }
  for (const p of chain) {
    const line = source.lines.get(p);
    if (line !== undefined) return `line ${line}`;
  }
  return undefined;
}
