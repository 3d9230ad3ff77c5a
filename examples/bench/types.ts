export interface BenchContext {
  threads: number;
  batch: number;
  steps: number;
  log: (line: string) => void;
}

/** One measured configuration; `imgPerSec` is what the table shows. */
export interface BenchRow {
  name: string;
  imgPerSec: number;
  [extra: string]: unknown;
}
