// Loads the oneDNN addon built by build.cjs. Never throws: load() says why when it cannot.
'use strict';
const fs = require('fs');
const path = require('path');

const addonPath = path.join(__dirname, 'build', 'Release', 'selfsup_native_cpu.node');
const BUILD_HINT = 'needs g++ and libdnnl-dev (oneDNN) at install time: apt-get install g++ libdnnl-dev, then npm run bootstrap (or node packages/native-cpu/build.cjs)';

let result = null;

function firstLine(e) {
  return String(e && e.message ? e.message : e).split('\n')[0];
}

/** { ok: true, addon, path, info } or { ok: false, path, reason } (cached for the process). */
function load() {
  if (result) return result;
  const skip = process.env.SELFSUP_NATIVE_CPU_SKIP;
  if (skip && skip !== '0') {
    result = { ok: false, path: addonPath, reason: 'the addon is switched off (SELFSUP_NATIVE_CPU_SKIP is set)' };
    return result;
  }
  if (!fs.existsSync(addonPath)) {
    result = { ok: false, path: addonPath, reason: `the addon is not built (${BUILD_HINT})` };
    return result;
  }
  try {
    // libgomp reads its settings when it loads: idle OpenMP threads sleep instead of spinning
    // into the wasm pool's time between two native calls (unless the user chose otherwise).
    if (process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'passive';
    const addon = require(addonPath);
    result = { ok: true, addon, path: addonPath, info: addon.info() };
  } catch (e) {
    result = { ok: false, path: addonPath, reason: `the addon does not load: ${firstLine(e)} (${BUILD_HINT})` };
  }
  return result;
}

module.exports = { load, addonPath, BUILD_HINT };
