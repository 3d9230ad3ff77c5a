import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node as YamlNode } from 'yaml';
import { ConfigError, UserError } from './errors';
import { applyOverride, parseOverride } from './overrides';
import { attachSource, sourceOf } from './source';
import { isPlainObject, joinPath, shownKeys } from './validate';

/** Records the line of every key (and list entry) so later problems can point at it. */
function indexLines(node: unknown, prefix: string, lc: LineCounter, out: Map<string, number>): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) continue;
      const p = joinPath(prefix, key);
      const range = (pair.key as YamlNode).range;
      if (range) out.set(p, lc.linePos(range[0]).line);
      indexLines(pair.value, p, lc, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const p = joinPath(prefix, i, true);
      const range = (item as YamlNode | null)?.range;
      if (range) out.set(p, lc.linePos(range[0]).line);
      indexLines(item, p, lc, out);
    });
  }
}

/** The yaml library's limit on how many times aliases may be expanded (its guard against alias bombs). */
const MAX_ALIAS_COUNT = 100;

/**
 * Parses YAML text into a plain config object (with its key → line index attached).
 * Syntax errors name the file, line and column.
 */
export function parseConfigYaml(text: string, file = '<config>'): Record<string, unknown> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      // The file:line:col prefix says where; keep the library's snippet, drop its "at line ..." words.
      const message = e.message.replace(/ at line \d+, column \d+:/, ':').trimEnd();
      return { path: '', rule: `YAML syntax error: ${message}`, origin: pos ? `line ${pos.line}, column ${pos.col}` : undefined, pos };
    });
    const text = problems.map((p) => `${file}${p.pos ? `:${p.pos.line}:${p.pos.col}` : ''}: ${p.rule}`).join('\n');
    throw new ConfigError(problems.map(({ pos: _pos, ...p }) => p), file, text);
  }
  let plain: unknown;
  try {
    plain = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // the yaml library's guard against alias bombs ("billion laughs"): a ReferenceError
    if (!(err instanceof ReferenceError) || !/alias/i.test(err.message)) throw err;
    const rule = `YAML aliases (*name) expand too many times (more than ${MAX_ALIAS_COUNT}; the reader says: ${err.message}); write the values out instead of nesting aliases`;
    throw new ConfigError([{ path: '', rule }], file);
  }
  if (!isPlainObject(plain)) {
    const got = plain === null || plain === undefined ? 'an empty document' : Array.isArray(plain) ? 'a list' : `the scalar ${JSON.stringify(plain)}`;
    throw new ConfigError([{ path: '', rule: `the file must be a mapping of sections (method:, data:, trainer:, ...); it holds ${got}` }], file);
  }
  const lines = new Map<string, number>();
  indexLines(doc.contents, '', lc, lines);
  return attachSource(plain, { file, lines, overrides: new Map() });
}

/**
 * Reads a YAML config and applies `key.path=value` overrides (values parsed as YAML).
 * The result is plain data: validate it with resolveConfig. The run name defaults to the
 * file's base name.
 */
export function loadConfigFile(file: string, overrides: string[] = []): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory; give the YAML file in it' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new UserError(`cannot read config ${file}: ${why} (resolved to ${path.resolve(file)})`, { cause: err });
  }
  const plain = parseConfigYaml(text, file);
  return applyOverrides(plain, overrides);
}

/** Applies `a.b=c` overrides to a plain config (mutated and returned), recording which keys they set. */
export function applyOverrides(plain: Record<string, unknown>, overrides: string[]): Record<string, unknown> {
  const parsed = overrides.map(parseOverride); // every syntax problem surfaces before any change
  let source = sourceOf(plain);
  if (!source) {
    source = { lines: new Map(), overrides: new Map() };
    attachSource(plain, source);
  }
  for (const o of parsed) source.overrides.set(applyOverride(plain, o), o.text);
  return plain;
}

/**
 * YAML text of a config: a ResolvedConfig (every default filled in; what a run writes as
 * config.resolved.yaml) or any plain object.
 */
export function toYaml(config: unknown): string {
  const plain = config !== null && typeof config === 'object' && typeof (config as { toPlain?: unknown }).toPlain === 'function'
    ? (config as { toPlain(): unknown }).toPlain()
    : config;
  return stringify(toPlainData(plain), { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * Class instances → plain mappings, so the YAML shows exactly what the run used. An instance
 * of a config class (one with class-validator rules) shows every option it declares, in
 * declaration order: an option left unset (its default decided at run time, or none) as
 * `null`, which reads back as unset; an unset nested section is left out. Elsewhere own
 * enumerable keys only, undefined ones dropped.
 */
export function toPlainData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toPlainData);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    const o = value as Record<string, unknown>;
    if (!isPlainObject(value)) for (const k of shownKeys(value)) out[k] = o[k] === undefined ? null : toPlainData(o[k]);
    for (const [k, v] of Object.entries(value)) if (!(k in out) && v !== undefined && typeof v !== 'function') out[k] = toPlainData(v);
    return out;
  }
  return value;
}
