#!/usr/bin/env node
// Makes `npm run byol` / `npm test` work on a fresh clone: installs the locked
// dependencies once (npm ci) when node_modules is missing or older than the lock file, and
// builds the optional oneDNN addon (@selfsup/native-cpu) when it is missing or stale and a
// compiler and libdnnl-dev are there (otherwise one line; nothing fails because of it).
// Uses only Node built-ins, since it runs before anything is installed.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(`selfsup needs Node.js 20 or 22 (found ${process.version}).`);
  process.exit(2);
}
const stamp = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');
const stale = !fs.existsSync(stamp) || (fs.existsSync(lock) && fs.statSync(lock).mtimeMs > fs.statSync(stamp).mtimeMs + 1000);
if (stale) {
  console.error('[selfsup] installing dependencies (npm ci) ...');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('[selfsup] npm ci failed; see the output above.');
    process.exit(r.status ?? 1);
  }
}
// npm runs the addon's install script too, but not always (a workspace that was already
// linked, configs that skip scripts); build.cjs returns at once when the addon is up to date.
const nativeCpu = path.join(root, 'packages', 'native-cpu', 'build.cjs');
if (fs.existsSync(nativeCpu)) spawnSync(process.execPath, [nativeCpu], { cwd: path.dirname(nativeCpu), stdio: 'inherit' });
