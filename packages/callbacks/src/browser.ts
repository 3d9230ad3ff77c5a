import 'reflect-metadata';

// @selfsup/callbacks in a browser (package.json's `browser` field maps dist/index.js here):
// every callback that needs no file system — the method callbacks (target init, EMA, LR
// schedule, collapse monitor), the kNN / linear-probe evaluations and the progress line —
// and the helpers behind them. Left out, with their config names, since they write files:
// checkpoint, metrics-logger, plots, embedding-plot. test/browser-bundle.test.ts checks that a
// browser bundle of this holds no Node import.
export * from './method';

// eval/index.ts without the embedding plot (writes SVG/PNG files)
export * from './eval/portable';

// logging/index.ts without the file loggers (metrics JSONL/CSV, plots) and output directories
export * from './logging/portable';
