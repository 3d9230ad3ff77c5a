// class-transformer's @Type reads decorator metadata: load the polyfill even without the package index.
import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import { getMetadataStorage, IsDefined, IsObject, IsOptional, ValidateNested, validateSync, type ValidationError } from 'class-validator';
import { ConfigError, formatProblem, type ConfigProblem } from './errors';
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

/** The class and its ancestors, base class first. */
function classChain(cls: Function): Function[] {
  const chain: Function[] = [];
  for (let c: Function | null = cls; c && c !== Object && c !== Function.prototype; c = Object.getPrototypeOf(c) as Function | null) chain.unshift(c);
  return chain;
}

/**
 * The options of a config class in declaration order, a base class's before its subclass's:
 * the keys a resolved config shows, every one of them (see {@link toPlainData}).
 */
export function optionKeys(cls: Function): string[] {
  const metas = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
  return [...new Set(classChain(cls).flatMap((c) => metas.filter((m) => m.target === c).map((m) => m.propertyName)))];
}

/**
 * The options a resolved config shows: {@link optionKeys} less the nested sections (a
 * mapping-valued key: `val`, RootConfig's method sections) that are unset, which are left out
 * rather than written as null.
 */
export function shownKeys(instance: object): string[] {
  const cls = instance.constructor;
  const metas = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
  const section = (key: string) => metas.some((m) => m.propertyName === key && (m.type === 'nestedValidation' || m.name === 'isObject'));
  return optionKeys(cls).filter((k) => (instance as Record<string, unknown>)[k] !== undefined || !section(k));
}

/** Whether the property may be left unset (@IsOptional, or a rule that applies only in some cases, @ValidateIf). */
function isConditional(cls: Function, key: string): boolean {
  return getMetadataStorage()
    .getTargetValidationMetadatas(cls, '', true, false)
    .some((m) => m.propertyName === key && m.type === 'conditionalValidation');
}

/**
 * The variants of a section whose keys depend on one of its values: `data.name` picks the
 * dataset's class, `optimizer.name` the optimizer's. Each variant is a class of its own, with
 * its own keys and defaults; a key of another variant is an unknown key, and says whose it is.
 */
export interface ConfigVariants {
  /** The key whose value picks the variant (`name`). */
  by: string;
  /** Variant class by value of that key. */
  classes: Record<string, ConfigClass>;
  /** The value when the key is not given (none: the base class checks the section). */
  default?: string;
}

/**
 * A section class with variants declares them as `static get variants(): ConfigVariants`
 * (a getter: the variant classes extend it, so they exist only after it).
 */
export function variantsOf(cls: Function): ConfigVariants | undefined {
  const v = (cls as { variants?: unknown }).variants;
  return v && typeof v === 'object' && typeof (v as ConfigVariants).by === 'string' ? (v as ConfigVariants) : undefined;
}

/** The class that validates `plain` as a `cls` section: the variant its value picks, else `cls`. */
export function configClassFor(cls: ConfigClass, plain: unknown): ConfigClass {
  const v = variantsOf(cls);
  if (!v || plain === null || typeof plain !== 'object' || Array.isArray(plain)) return cls;
  // an instance already is of its variant (a validated section passed on from code)
  if (plain instanceof cls) return plain.constructor as ConfigClass;
  const value = (plain as Record<string, unknown>)[v.by] ?? v.default;
  return (typeof value === 'string' && Object.hasOwn(v.classes, value) ? v.classes[value] : undefined) ?? cls;
}

/** `; eta is a key of name: lars, not of name: adam` when an unknown key belongs to another variant. */
function otherVariantHint(target: object | undefined, key: string): string {
  if (!target) return '';
  const v = variantsOf(target.constructor);
  if (!v) return '';
  const owners = Object.entries(v.classes).filter(([, c]) => allowedKeys(c).includes(key)).map(([value]) => `${v.by}: ${value}`);
  const own = (target as Record<string, unknown>)[v.by];
  return owners.length > 0 ? `; ${key} is a key of ${owners.join(', ')}, not of ${v.by}: ${String(own)}` : '';
}

/**
 * `key: null` for an option whose default is unset (decided at run time, or none) means the
 * same as leaving the key out: that is how a resolved config writes such options. Applied to
 * an instance tree right after it is built from plain data.
 */
function clearUnsetNulls(value: unknown, depth = 0): void {
  if (depth > 32 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) clearUnsetNulls(v, depth + 1);
    return;
  }
  if (isPlainObject(value)) return;
  const cls = value.constructor as ConfigClass;
  const keys = optionKeys(cls);
  if (keys.length === 0) return;
  const fresh = new cls() as Record<string, unknown>;
  const o = value as Record<string, unknown>;
  for (const key of keys) {
    if (o[key] === null && fresh[key] === undefined && isConditional(cls, key)) delete o[key];
    else clearUnsetNulls(o[key], depth + 1);
  }
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
      out.push({ path, value: e.value, rule: unknownKeyRule(e.property, allowed) + otherVariantHint(e.target, e.property) });
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
export function checkConfig<T extends object>(section: ConfigClass<T>, plain: unknown, path = ''): { value: T; problems: ConfigProblem[] } {
  const cls = configClassFor(section, plain) as ConfigClass<T>;
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
  clearUnsetNulls(value);
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
 * Options from code: a partial plain object (an explicit `undefined` keeps the default) goes
 * through the same validation and default-filling as the YAML section; an instance of the
 * class (or of one of its variants) is taken as it is, already validated. Throws a
 * ConfigError naming `path.key` for each problem, after `what` (`ByolExperiment: `).
 */
export function resolveOptions<T extends object>(cls: ConfigClass<T>, given: unknown, opts: { path?: string; what?: string } = {}): T {
  if (given instanceof cls) return given;
  const plain = isPlainObject(given) ? Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) : given === undefined ? {} : given;
  const { value, problems } = checkConfig(cls, plain, opts.path ?? '');
  if (problems.length > 0) {
    const lines = problems.map((p) => formatProblem(p));
    throw new ConfigError(problems, undefined, `${opts.what ?? ''}invalid options: ${lines.join('; ')}`);
  }
  return value;
}

/**
 * A nested config section (`trainer:`, `model:`): must be a mapping, validated with `cls`
 * (or with the variant its value picks, see {@link ConfigVariants}).
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
    Type((o) => configClassFor(cls(), o?.object?.[o.property]))(target, key);
  };
}
