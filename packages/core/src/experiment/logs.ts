import * as tf from '@tensorflow/tfjs';

/** What a step returns: named scalars (tensors stay on the device) or plain numbers. */
export type StepLogs = Record<string, tf.Scalar | number>;

/**
 * The logs of the latest step. Scalars stay tensors until someone asks: `await logs.get('loss')`
 * reads one with `data()` (once; cached), so no step pays a device sync nobody needs.
 * Valid from batchEnd of its step until the next step starts; callbacks must not keep it.
 */
export class LazyLogs {
  private readonly cache = new Map<string, number>();
  private disposed = false;

  constructor(private readonly entries: StepLogs = {}) {}

  keys(): string[] {
    return Object.keys(this.entries);
  }

  has(key: string): boolean {
    return key in this.entries;
  }

  /** The raw entry (a scalar tensor or a number); borrowed, never dispose it. */
  raw(key: string): tf.Scalar | number | undefined {
    this.assertAlive(key);
    return this.entries[key];
  }

  async get(key: string): Promise<number | undefined> {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const v = this.raw(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : (await v.data())[0];
    this.cache.set(key, n);
    return n;
  }

  /** Reads every entry (one device sync per tensor). */
  async values(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const k of this.keys()) out[k] = (await this.get(k))!;
    return out;
  }

  /**
   * Adds a number to this step's logs (e.g. the EMA callback logs `tau`, the LR scheduler
   * `lr`); it joins the epoch means and the `log` events like the step's own entries.
   */
  set(key: string, value: number): void {
    if (this.disposed) throw new Error(`logs.set("${key}") after the step ended: set logs inside a batch hook`);
    const prev = this.entries[key];
    if (prev !== undefined && typeof prev !== 'number') prev.dispose();
    this.entries[key] = value;
    this.cache.set(key, value);
  }

  /** @internal the entries as they stand (the loop accumulates them after the batch hooks). */
  entriesView(): Readonly<StepLogs> {
    return this.entries;
  }

  /** @internal the loop disposes the step's tensors when the step's hooks are done. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of Object.values(this.entries)) if (typeof v !== 'number') v.dispose();
  }

  private assertAlive(key: string): void {
    if (this.disposed && !this.cache.has(key)) {
      throw new Error(`logs of a finished step were read ("${key}"): read them inside the hook, or copy the number`);
    }
  }
}

/**
 * Per-epoch means of every logged metric, accumulated on the device (one add per metric per
 * step) so the epoch mean costs one read per metric at epoch end.
 */
export class MetricAccumulator {
  private sums = new Map<string, tf.Scalar>();
  private numbers = new Map<string, number>();
  private counts = new Map<string, number>();

  add(logs: StepLogs): void {
    for (const [k, v] of Object.entries(logs)) {
      this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
      if (typeof v === 'number') {
        this.numbers.set(k, (this.numbers.get(k) ?? 0) + v);
      } else {
        const prev = this.sums.get(k);
        const next = tf.tidy(() => (prev ? tf.add(prev, tf.cast(v, 'float32')) : tf.cast(v, 'float32').clone())) as tf.Scalar;
        prev?.dispose();
        this.sums.set(k, tf.keep(next));
      }
    }
  }

  /** Means, then resets (disposing its tensors). */
  async flush(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [k, n] of this.counts) {
      const s = this.sums.get(k);
      const total = s ? (await s.data())[0] : this.numbers.get(k)!;
      out[k] = total / n;
    }
    this.reset();
    return out;
  }

  reset(): void {
    for (const s of this.sums.values()) s.dispose();
    this.sums.clear();
    this.numbers.clear();
    this.counts.clear();
  }
}
