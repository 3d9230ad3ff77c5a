// class-transformer's @Type reads decorator metadata: load the polyfill even without the package index.
import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import { getMetadataStorage, IsDefined, IsObject, IsOptional, ValidateNested, validateSync, type ValidationError } from 'class-validator';
import { ConfigError, type ConfigProblem } from './errors';
import { originOf, type ConfigSource } from './source';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ConfigClass<T extends object = object> = new (...args: any[]) => T;

export interface ValidateConfigOptions {
  /** Key path of `plain` inside the whole config (`trainer`, `callbacks[2]`); prefixes every reported path. */
  path?: string;
  /** The config file, named at the start of every reported line. */
  file?: string;
  /** Line numbers and --set origins of the keys (attached by loadConfigFile). */
  source?: ConfigSource;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Keys a config class accepts: every property carrying a class-validator decorator. */
export function allowedKeys(cls: Function): string[] {
  const metas = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
  return [...new Set(metas.map((m) => m.propertyName))];
}

export function joinPath(prefix: string, key: string | number, index = false): string {
  if (index) return `${prefix}[${key}]`;
  return prefix ? `${prefix}.${key}` : String(key);
}

/** Edit distance counting a swap of two neighbours as one edit (the commonest typo). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The allowed key a typo most likely meant, if one is close enough to be a useful hint. */
export function closestKey(key: string, allowed: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of allowed) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

export function unknownKeyRule(key: string, allowed: string[]): string {
  const hint = closestKey(key, allowed);
  return `unknown key (allowed: ${allowed.join(', ') || 'none'})${hint ? `; did you mean "${hint}"?` : ''}`;
}

const TYPE_RULES = new Set(['isDefined', 'isInt', 'isNumber', 'isString', 'isBoolean', 'isArray', 'isObject', 'nestedValidation']);

function collect(errors: ValidationError[], prefix: string, parentIsArray: boolean, out: ConfigProblem[]): void {
  for (const e of errors) {
    const path = joinPath(prefix, e.property, parentIsArray);
    const constraints = e.constraints ?? {};
    if ('whitelistValidation' in constraints) {
      const allowed = e.target ? allowedKeys(e.target.constructor) : [];
      out.push({ path, value: e.value, rule: unknownKeyRule(e.property, allowed) });
    } else if (Object.keys(constraints).length > 0) {
      // A value of the wrong type makes range rules noise ("10" is not "less than 1"), and
      // its children (the elements of a list given for a mapping) are not worth reporting.
      const typeRules = 'isDefined' in constraints ? ['isDefined'] : Object.keys(constraints).filter((k) => TYPE_RULES.has(k));
      const shown = typeRules.length > 0 ? typeRules : Object.keys(constraints);
      const rules = shown.map((name) =>
        // class-validator words a non-object nested value as "nested property x must be
        // either object or array"; say what a YAML user has to write instead.
        name === 'nestedValidation' ? `${e.property} must be a mapping (key: value lines)` : constraints[name],
      );
      out.push({ path, value: e.value, present: e.value !== undefined, rule: [...new Set(rules)].join('; ') });
      if (typeRules.length > 0) continue;
    }
    if (e.children?.length) collect(e.children, path, Array.isArray(e.value), out);
  }
}

/**
 * Validates without throwing: the instance (defaults applied) and every problem found, each
 * with its full key path. `resolveConfig` gathers the problems of all sections this way and
 * reports them together.
 */
export function checkConfig<T extends object>(cls: ConfigClass<T>, plain: unknown, path = ''): { value: T; problems: ConfigProblem[] } {
  const allowed = allowedKeys(cls);
  if (!isPlainObject(plain)) {
    return {
      value: new cls(),
      problems: [{ path, value: plain, present: plain !== undefined, rule: `must be a mapping with the keys ${allowed.join(', ') || '(none)'}` }],
    };
  }
  if (allowed.length === 0) {
    // forbidUnknownValues rejects an object of a class without any rules; a section class
    // that accepts nothing should instead say which keys it did not expect.
    const problems = Object.keys(plain).map((k) => ({ path: joinPath(path, k), value: plain[k], rule: unknownKeyRule(k, []) }));
    return { value: Object.assign(new cls(), problems.length ? {} : plain), problems };
  }
  // No implicit conversion: "10" stays a string and fails @IsInt. Only YAML's own typing applies.
  const value = plainToInstance(cls, plain, { exposeDefaultValues: true, enableImplicitConversion: false });
  const errors = validateSync(value, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: true, value: true },
  });
  const problems: ConfigProblem[] = [];
  collect(errors, path, false, problems);
  return { value, problems };
}

/**
 * Turns a plain object (parsed YAML) into a validated instance of `cls` with its defaults
 * applied, or throws a ConfigError listing every problem as `file: key.path = value: rule`.
 */
export function validateConfig<T extends object>(cls: ConfigClass<T>, plain: unknown, opts: ValidateConfigOptions = {}): T {
  const { value, problems } = checkConfig(cls, plain, opts.path ?? '');
  if (problems.length > 0) {
    throw new ConfigError(
      problems.map((p) => ({ ...p, origin: p.origin ?? originOf(opts.source, p.path) })),
      opts.file ?? opts.source?.file,
    );
  }
  return value;
}

/**
 * A nested config section (`trainer:`, `model:`): must be a mapping, validated with `cls`.
 * Give the property a default (`= new ModelConfig()`) so an absent section gets its defaults;
 * `{ optional: true }` lets it stay undefined instead; without either, it is required.
 */
export function Section(cls: () => ConfigClass, opts: { optional?: boolean } = {}): PropertyDecorator {
  return (target, key) => {
    if (opts.optional) IsOptional()(target, key);
    else {
      IsDefined({
        message: (a) =>
          a.value === null ? `${String(key)} is empty: write its keys under it, or remove the line to get the defaults` : `${String(key)} is required: add a ${String(key)}: section`,
      })(target, key);
    }
    IsObject({ message: `${String(key)} must be a mapping (key: value lines)` })(target, key);
    ValidateNested()(target, key);
    Type(cls)(target, key);
  };
}
