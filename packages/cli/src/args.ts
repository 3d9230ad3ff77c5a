import { UserError } from '@selfsup/core';

/** A small argv parser: positionals, `--flag value`, `--flag=value`, repeatable flags, booleans. */
export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string[]>;
  booleans: Set<string>;
}

/** A wrong command line (flag, argument, a path given on it): a UserError, reported on one line with exit code 2. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ArgSpec {
  /** Flags that take a value (without the leading --). */
  values: string[];
  /** Flags that are switches. */
  switches: string[];
  /** Short aliases, e.g. { s: 'set' }. */
  aliases?: Record<string, string>;
}

export function parseArgs(argv: string[], spec: ArgSpec): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: new Map(), booleans: new Set() };
  const known = [...spec.values, ...spec.switches].map((f) => `--${f}`).join(', ');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      out.positionals.push(a);
      continue;
    }
    let name = a.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    name = spec.aliases?.[name] ?? name;
    if (spec.switches.includes(name)) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      out.booleans.add(name);
    } else if (spec.values.includes(name)) {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined || (value.startsWith('--') && value.length > 2)) throw new UsageError(`--${name} needs a value`);
      }
      const list = out.flags.get(name) ?? [];
      list.push(value);
      out.flags.set(name, list);
    } else {
      throw new UsageError(`unknown option ${a}; options: ${known}`);
    }
  }
  return out;
}

export function single(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  if (!v) return undefined;
  if (v.length > 1) throw new UsageError(`--${name} given ${v.length} times; give it once`);
  return v[0];
}

export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** `--flag` value that must be one of `choices` (undefined when the flag is not given). */
export function oneOf<T extends string>(value: string | undefined, flag: string, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}
