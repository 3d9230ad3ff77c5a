/** Per-epoch metrics of a fit, like Keras' History: `history.history.loss[e]` is epoch e's mean. */
export class History {
  readonly epoch: number[] = [];
  readonly history: Record<string, number[]> = {};

  record(epoch: number, metrics: Record<string, number>): void {
    const row = this.epoch.length;
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(metrics)) {
      const col = (this.history[k] ??= []);
      while (col.length < row) col.push(NaN);
      col.push(v);
    }
    for (const col of Object.values(this.history)) while (col.length < row + 1) col.push(NaN);
  }

  /** The last epoch's value of a metric, or undefined. */
  last(key: string): number | undefined {
    const col = this.history[key];
    return col && col.length ? col[col.length - 1] : undefined;
  }

  toJSON(): { epoch: number[]; history: Record<string, number[]> } {
    return { epoch: [...this.epoch], history: Object.fromEntries(Object.entries(this.history).map(([k, v]) => [k, [...v]])) };
  }
}
