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

/** `file: path = value: rule (origin)` — the line format every config problem is reported in. */
export function formatProblem(p: ConfigProblem, file?: string): string {
  const where = p.path === '' ? '(config)' : p.path;
  const head = p.present === true ? `${where} = ${showValue(p.value)}` : p.present === false ? `${where} (missing)` : where;
  const origin = p.origin ? ` (${p.origin})` : '';
  return `${file ? `${file}: ` : ''}${head}: ${p.rule}${origin}`;
}

/**
 * A config that cannot be used. The message lists every problem found, one per line, so a
 * user fixes them in one go instead of one per run.
 */
export class ConfigError extends Error {
  constructor(
    readonly problems: ConfigProblem[],
    readonly file?: string,
    /** Replaces the generated message (YAML syntax errors carry their own snippet). */
    message?: string,
  ) {
    const n = problems.length;
    const header = `invalid config${file ? ` ${file}` : ''}: ${n} problem${n === 1 ? '' : 's'} (fix the file, or override a key with --set key=value)`;
    super(message ?? [header, ...problems.map((p) => formatProblem(p, file))].join('\n'));
    this.name = 'ConfigError';
  }
}
