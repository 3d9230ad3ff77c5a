/** Limits that keep a `train.log` start line readable whatever the config holds. */
export interface SummaryLimits {
  /** Nesting below this depth is shown as `"{…}"`. */
  depth?: number;
  /** Arrays longer than this keep their first items and a count of the rest. */
  items?: number;
  /** Longer strings are cut, with the original length noted. */
  chars?: number;
}

/**
 * A JSON-safe digest of an experiment's config for `train.log`: plain values as they are,
 * tensors as their shape, functions dropped, cycles and deep nesting marked, long arrays and
 * strings shortened. The full config is `config.resolved.yaml`; this line is for a human
 * scanning the log.
 */
export function summarizeConfig(value: unknown, limits: SummaryLimits = {}): unknown {
  const depth = limits.depth ?? 4;
  const items = limits.items ?? 16;
  const chars = limits.chars ?? 200;
  const seen = new Set<object>();
  const walk = (v: unknown, level: number): unknown => {
    if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
    if (typeof v === 'string') return v.length > chars ? `${v.slice(0, chars)}… (${v.length} chars)` : v;
    if (typeof v === 'bigint') return v.toString();
    if (typeof v !== 'object') return undefined; // functions, symbols, undefined
    if (isTensorLike(v)) return `<tensor [${v.shape.join(',')}]>`;
    if (seen.has(v)) return '[circular]';
    if (level >= depth) return Array.isArray(v) ? '[…]' : '{…}';
    seen.add(v);
    try {
      if (Array.isArray(v)) {
        const head = v.slice(0, items).map((x) => walk(x, level + 1) ?? null);
        return v.length > items ? [...head, `… ${v.length - items} more`] : head;
      }
      if (v instanceof Date) return v.toISOString();
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const s = walk(x, level + 1);
        if (s !== undefined) out[k] = s;
      }
      return out;
    } finally {
      seen.delete(v);
    }
  };
  return walk(value, 0);
}

function isTensorLike(v: object): v is { shape: number[] } {
  return Array.isArray((v as { shape?: unknown }).shape) && typeof (v as { dataSync?: unknown }).dataSync === 'function';
}

/** The fields a failure line carries: message, error class, and the cause chain's messages. */
export function describeError(err: unknown): { error: string; errorName: string; causes?: string[]; stack?: string } {
  if (!(err instanceof Error)) return { error: String(err), errorName: typeof err };
  const causes: string[] = [];
  for (let c: unknown = err.cause, i = 0; c !== undefined && i < 5; c = c instanceof Error ? c.cause : undefined, i++) {
    causes.push(c instanceof Error ? `${c.name}: ${c.message}` : String(c));
  }
  return { error: err.message, errorName: err.name, ...(causes.length > 0 ? { causes } : {}), ...(err.stack ? { stack: err.stack } : {}) };
}
