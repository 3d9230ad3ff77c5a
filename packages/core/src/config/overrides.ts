import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors';
import { isPlainObject, joinPath } from './validate';

/** One step of an override's key path: `trainer`, `[2]`, or `[knn-eval]` (the entry with that name). */
export type KeySegment = { key: string } | { index: number } | { entry: string };

export interface ParsedOverride {
  /** The text as given (`trainer.epochs=5`). */
  text: string;
  segments: KeySegment[];
  value: unknown;
}

const EXAMPLE = 'e.g. trainer.epochs=5, data.include=[cat,dog] or callbacks[1].every=3';

function overrideError(text: string, why: string): ConfigError {
  return new ConfigError([{ path: `--set ${text}`, rule: `${why} (${EXAMPLE})` }]);
}

/** `callbacks[1].every` → [{key:'callbacks'}, {index:1}, {key:'every'}]. */
export function parseKeyPath(keyPath: string, text = keyPath): KeySegment[] {
  const segments: KeySegment[] = [];
  const re = /([^.[\]]+)|\[([^\]]*)\]|(\.)/gy;
  let expectKey = true;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < keyPath.length && (m = re.exec(keyPath))) {
    at = re.lastIndex;
    if (m[1] !== undefined) {
      if (!expectKey) throw overrideError(text, `"${m[1]}" must follow a "." or start the key`);
      const key = m[1].trim();
      // Setting these would reach Object.prototype instead of a config key.
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw overrideError(text, `"${key}" cannot be a config key`);
      segments.push({ key });
      expectKey = false;
    } else if (m[2] !== undefined) {
      if (segments.length === 0 || expectKey) throw overrideError(text, `"[${m[2]}]" must follow a key`);
      const sel = m[2].trim();
      if (sel === '') throw overrideError(text, 'empty [] in the key');
      segments.push(/^\d+$/.test(sel) ? { index: Number(sel) } : { entry: sel });
    } else {
      if (expectKey) throw overrideError(text, 'empty key part (two dots, or a leading dot)');
      expectKey = true;
    }
  }
  if (at !== keyPath.length || segments.length === 0 || expectKey) {
    throw overrideError(text, `"${keyPath}" is not a key path`);
  }
  return segments;
}

/** Parses `key.path=value`; the value is read as YAML (`5` a number, `[a,b]` a list, `"5"` a string). */
export function parseOverride(text: string): ParsedOverride {
  const eq = text.indexOf('=');
  if (eq < 0) throw overrideError(text, 'expected key=value');
  const keyPath = text.slice(0, eq).trim();
  if (keyPath === '') throw overrideError(text, 'the key before "=" is empty');
  const segments = parseKeyPath(keyPath, text);
  let value: unknown;
  try {
    value = parseYaml(text.slice(eq + 1));
  } catch (err) {
    throw overrideError(text, `the value is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return { text, segments, value };
}

/**
 * Sets one override in `root` (mutated), creating the mappings and lists on the way.
 * Returns the canonical key path it set (`callbacks[1].every`, even when written `[knn-eval]`).
 */
export function applyOverride(root: Record<string, unknown>, o: ParsedOverride): string {
  let cur: unknown = root;
  let path = '';
  for (let i = 0; i < o.segments.length; i++) {
    const seg = o.segments[i];
    const last = i === o.segments.length - 1;
    const next = o.segments[i + 1];
    const fresh = () => (next && !('key' in next) ? [] : {});
    if ('key' in seg) {
      if (!isPlainObject(cur)) throw overrideError(o.text, `${path || 'the config'} is ${JSON.stringify(cur)}, not a mapping, so it has no key "${seg.key}"`);
      path = joinPath(path, seg.key);
      if (last) cur[seg.key] = o.value;
      else cur = cur[seg.key] ??= fresh();
      continue;
    }
    if (!Array.isArray(cur)) throw overrideError(o.text, `${path} is ${JSON.stringify(cur)}, not a list`);
    let idx: number;
    if ('index' in seg) {
      idx = seg.index;
      if (idx > cur.length) {
        throw overrideError(o.text, `${path} has ${cur.length} entries, so [${idx}] is out of range (use [${cur.length}] to append, or [<name>] for a callback)`);
      }
    } else {
      idx = cur.findIndex((e) => isPlainObject(e) && e.name === seg.entry);
      if (idx < 0) {
        idx = cur.length;
        cur.push({ name: seg.entry });
      }
    }
    path = joinPath(path, idx, true);
    if (last) cur[idx] = o.value;
    else cur = cur[idx] ??= fresh();
  }
  return path;
}
