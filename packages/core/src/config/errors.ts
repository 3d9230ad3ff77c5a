/** One thing wrong with a config: where (key path), what value, and which rule it breaks. */
export interface ConfigProblem {
  /** Full key path, e.g. `trainer.epochs` or `callbacks[2].every` ('' for the whole config). */
  path: string;
  /** The offending value (undefined when the key is missing). */
  value?: unknown;
  /**
   * true: the key was given (its value is shown); false: a required key is missing;
   * undefined: the value says nothing useful (unknown keys, malformed overrides).
   */
  present?: boolean;
  /** The rule, in words (class-validator's constraint text, or ours). */
  rule: string;
  /** Where the value came from, when known: `line 12`, `--set trainer.epochs=-1`. */
  origin?: string;
}

const MAX_VALUE_CHARS = 80;

/** JSON of a value for a message, shortened so one huge section does not flood the terminal. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 3)}...` : text;
}

/**
 * `file: path = value: rule (origin)` — the line format every config problem is reported in.
 * A problem with the whole file (path '', e.g. a YAML syntax error) reads `file: rule (origin)`.
 */
export function formatProblem(p: ConfigProblem, file?: string): string {
  const whole = p.path === '';
  const where = whole ? '(config)' : p.path;
  const head = p.present === true ? `${where} = ${showValue(p.value)}` : p.present === false ? `${where} (missing)` : whole && file ? '' : where;
  const origin = p.origin ? ` (${p.origin})` : '';
  return `${file ? `${file}: ` : ''}${head ? `${head}: ` : ''}${p.rule}${origin}`;
}

const firstLine = (text: string) => text.split('\n')[0].replace(/:\s*$/, '');

/**
 * A mistake the user can fix — a config value, a path, a flag, a plugin that does not load —
 * as opposed to a failure of the training itself. The CLI prints {@link UserError.lines}
 * (one line per problem) and exits with code 2; the stack only with --verbose or
 * SELFSUP_DEBUG=1. Check for one with {@link isUserError}.
 */
export class UserError extends Error {
  /** Marks user errors across copies of this module (a plugin built against another @selfsup/core). */
  readonly userError = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }

  /** What to show a person: one line per problem, each naming the file, key or path and what to do. */
  lines(): string[] {
    return [firstLine(this.message)];
  }
}

/** A {@link UserError} (or one from another copy of @selfsup/core). */
export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError || (err instanceof Error && (err as { userError?: unknown }).userError === true && typeof (err as { lines?: unknown }).lines === 'function');
}

/**
 * A config that cannot be used. The message lists every problem found, one per line, so a
 * user fixes them in one go instead of one per run.
 */
export class ConfigError extends UserError {
  constructor(
    readonly problems: ConfigProblem[],
    readonly file?: string,
    /** Replaces the generated message (YAML syntax errors carry their own snippet). */
    message?: string,
  ) {
    super(message ?? [configErrorHeader(problems.length, file), ...problems.map((p) => formatProblem(p, file))].join('\n'));
    this.name = 'ConfigError';
  }

  /**
   * A UserError raised while the config was being used (a dataset that cannot open, a
   * constructor that rejects its options) as a problem of the key or section `at`, its
   * first line as the rule; the original stays as `cause`. A ConfigError passes as it is.
   */
  static of(err: UserError, at: string, file?: string, message?: string): ConfigError {
    if (err instanceof ConfigError) return err;
    const e = new ConfigError([{ path: at, rule: err.lines()[0] }], file, message);
    e.cause = err;
    return e;
  }

  /** One problem: its line alone; several: the header, then one line each (multi-line rules cut to their first line). */
  override lines(): string[] {
    if (this.problems.length === 0) return super.lines();
    const one = this.problems.map((p) => formatProblem({ ...p, rule: firstLine(p.rule) }, this.file));
    return one.length === 1 ? one : [configErrorHeader(one.length, this.file), ...one];
  }
}

function configErrorHeader(n: number, file?: string): string {
  return `invalid config${file ? ` ${file}` : ''}: ${n} problem${n === 1 ? '' : 's'} (fix the file, or override a key with --set key=value)`;
}
