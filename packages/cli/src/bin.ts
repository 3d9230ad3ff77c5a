#!/usr/bin/env node
import 'reflect-metadata';
import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => {
    // wasm worker threads keep the event loop alive: exit explicitly
    process.exitCode = code;
    setImmediate(() => process.exit(code));
  },
  (err) => {
    process.stderr.write(`selfsup: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
