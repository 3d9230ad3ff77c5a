/** A History as plain data: `epoch[r]` is row r's epoch, `history[key][r]` its value (NaN: not recorded). */
export interface HistoryJSON {
  epoch: number[];
  history: Record<string, number[]>;
}

/**
 * Per-epoch metrics of a fit, like Keras' History: `history.history.loss[e]` is epoch e's
 * mean. One row per epoch: recording the epoch of the last row again (an epoch resumed from
 * a mid-epoch checkpoint) replaces that row.
 */
export class History {
  readonly epoch: number[] = [];
  readonly history: Record<string, number[]> = {};

  record(epoch: number, metrics: Record<string, number>): void {
    if (this.epoch.length > 0 && this.epoch[this.epoch.length - 1] === epoch) this.dropLast();
    const row = this.epoch.length;
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(metrics)) {
      const col = (this.history[k] ??= []);
      while (col.length < row) col.push(NaN);
      col.push(v);
    }
    for (const col of Object.values(this.history)) while (col.length < row + 1) col.push(NaN);
  }

  /** The metrics of the last row when it is `epoch`'s (NaN: not recorded), else undefined. */
  lastRowOf(epoch: number): Record<string, number> | undefined {
    const row = this.epoch.length - 1;
    if (row < 0 || this.epoch[row] !== epoch) return undefined;
    return Object.fromEntries(Object.entries(this.history).map(([k, col]) => [k, col[row]]));
  }

  private dropLast(): void {
    this.epoch.pop();
    const rows = this.epoch.length;
    for (const [k, col] of Object.entries(this.history)) {
      col.length = rows;
      if (col.every((v) => Number.isNaN(v))) delete this.history[k];
    }
  }

  /** The last epoch's value of a metric, or undefined. */
  last(key: string): number | undefined {
    const col = this.history[key];
    return col && col.length ? col[col.length - 1] : undefined;
  }

  toJSON(): HistoryJSON {
    return { epoch: [...this.epoch], history: Object.fromEntries(Object.entries(this.history).map(([k, v]) => [k, [...v]])) };
  }

  /**
   * The History that `toJSON()` gave (a copy: later changes to `json` do not reach it).
   * Throws when a column's length is not the number of rows.
   */
  static fromJSON(json: HistoryJSON): History {
    const h = new History();
    if (!json || !Array.isArray(json.epoch) || !json.history || typeof json.history !== 'object') {
      throw new TypeError(`History.fromJSON: expected { epoch: number[], history: { <metric>: number[] } }, got ${JSON.stringify(json)?.slice(0, 200)}`);
    }
    const rows = json.epoch.length;
    h.epoch.push(...json.epoch);
    for (const [k, col] of Object.entries(json.history)) {
      if (!Array.isArray(col) || col.length !== rows) {
        throw new TypeError(`History.fromJSON: column "${k}" has ${Array.isArray(col) ? col.length : 'no'} values for ${rows} epochs`);
      }
      h.history[k] = [...col];
    }
    return h;
  }
}
