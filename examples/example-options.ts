/**
 * Command-line knobs shared by the examples: each example runs tiny by default (well under a
 * minute on 2 cores) and takes `--steps 500 --limit 6000 --width 0.25 --backend wasm` (or
 * `--steps=500`) to run longer. Only the keys of the example's defaults are accepted, so a
 * typo fails with the list of known flags instead of being ignored.
 */
export type OptionValue = string | number | boolean;

export function exampleOptions<T extends Record<string, OptionValue>>(defaults: T, argv: readonly string[] = process.argv.slice(2)): T {
  const out: Record<string, OptionValue> = { ...defaults };
  const known = Object.keys(defaults);
  const usage = () => `known flags: ${known.map((k) => `--${k} (default ${String(defaults[k])})`).join(', ')}`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--([A-Za-z][\w-]*)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument "${arg}"; ${usage()}`);
    const key = m[1].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!known.includes(key)) throw new Error(`unknown flag --${m[1]}; ${usage()}`);
    const kind = typeof defaults[key];
    let raw = m[2];
    if (raw === undefined) {
      if (kind === 'boolean' && (i + 1 >= argv.length || argv[i + 1].startsWith('--'))) raw = 'true';
      else if (i + 1 < argv.length) raw = argv[++i];
      else throw new Error(`flag --${m[1]} needs a value; ${usage()}`);
    }
    out[key] = parseValue(raw, kind, m[1]);
  }
  return out as T;
}

function parseValue(raw: string, kind: string, flag: string): OptionValue {
  if (kind === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`flag --${flag} takes a number, got "${raw}"`);
    return n;
  }
  if (kind === 'boolean') {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new Error(`flag --${flag} takes true or false, got "${raw}"`);
  }
  return raw;
}

/** The self-run tail of every example: parse flags, run, exit 1 with the message on failure. */
export function runExample<T extends Record<string, OptionValue>>(main: (opts: T) => Promise<unknown>, defaults: T): void {
  let opts: T;
  try {
    opts = exampleOptions(defaults);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  main(opts).catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  });
}
