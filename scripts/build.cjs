#!/usr/bin/env node
// `tsc -b` for the whole workspace, then mark the CLI executable so `npx selfsup` works
// (npm links the bin at install time, before dist/ exists, so it cannot chmod it then).
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-b'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('[selfsup] build failed (tsc -b); see the errors above.');
  process.exit(r.status ?? 1);
}
const bin = path.join(root, 'packages', 'cli', 'dist', 'bin.js');
if (fs.existsSync(bin)) fs.chmodSync(bin, 0o755);
