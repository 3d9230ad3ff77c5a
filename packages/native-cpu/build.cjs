#!/usr/bin/env node
// Builds the oneDNN addon (build/Release/selfsup_native_cpu.node) with the C++ compiler
// directly: a Node-API addon needs only Node's headers (no libnode, no node-gyp, no
// network). Never fails an install: when something is missing it prints one line and exits 0,
// and selfsup trains on its wasm kernels.
//
//   node build.cjs            build when the addon is missing or older than its source
//   node build.cjs --force    rebuild
//   node build.cjs --quiet    no line when it cannot build (a build that happens is always reported)
//
// Environment: CXX (default g++), DNNL_ROOT (a oneDNN install prefix, else the system's:
// Debian/Ubuntu libdnnl-dev), SELFSUP_NATIVE_CPU_SKIP=1 (do not build; index.js then does not load it either).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const here = __dirname;
const src = path.join(here, 'src', 'addon.cc');
const outDir = path.join(here, 'build', 'Release');
const out = path.join(outDir, 'selfsup_native_cpu.node');
const args = new Set(require.main === module ? process.argv.slice(2) : []);
const quiet = args.has('--quiet');
const HINT = 'training uses the wasm kernels (for oneDNN kernels: apt-get install g++ libdnnl-dev, then npm run bootstrap)';

function skip(reason) {
  if (!quiet) console.error(`[selfsup] @selfsup/native-cpu not built: ${reason}; ${HINT}`);
  process.exit(0);
}

function firstExisting(paths) {
  return paths.find((p) => p && fs.existsSync(p));
}

function upToDate() {
  if (!fs.existsSync(out)) return false;
  const t = fs.statSync(out).mtimeMs;
  return [src, __filename].every((f) => fs.statSync(f).mtimeMs <= t);
}

/** What the build needs: { cxx, nodeInclude, dnnlHeader } or { missing: why not }. */
function prerequisites() {
  const off = process.env.SELFSUP_NATIVE_CPU_SKIP;
  if (off && off !== '0') return { missing: 'SELFSUP_NATIVE_CPU_SKIP is set' };
  if (process.platform !== 'linux' && process.platform !== 'darwin') return { missing: `no build recipe for ${process.platform}` };
  const cxx = process.env.CXX || 'g++';
  const probe = spawnSync(cxx, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return { missing: `no C++ compiler (${cxx})` };
  const nodeInclude = firstExisting([
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
  ].map((d) => d && path.join(d, 'node_api.h')));
  if (!nodeInclude) return { missing: `Node's headers (include/node/node_api.h) not found next to ${process.execPath}` };
  const root = process.env.DNNL_ROOT;
  const dnnlHeader = firstExisting([
    root && path.join(root, 'include', 'oneapi', 'dnnl', 'dnnl.hpp'),
    '/usr/include/oneapi/dnnl/dnnl.hpp',
    '/usr/local/include/oneapi/dnnl/dnnl.hpp',
  ]);
  if (!dnnlHeader) return { missing: 'oneDNN headers not found (libdnnl-dev)' };
  return { cxx, nodeInclude, dnnlHeader, root };
}

function main() {
  if (process.env.SELFSUP_NATIVE_CPU_SKIP && process.env.SELFSUP_NATIVE_CPU_SKIP !== '0') skip('SELFSUP_NATIVE_CPU_SKIP is set');
  if (!args.has('--force') && upToDate()) return;
  const pre = prerequisites();
  if (pre.missing) skip(pre.missing);
  const { cxx, nodeInclude, dnnlHeader, root } = pre;

  const include = (h) => path.resolve(path.dirname(h), ...(h.includes('oneapi') ? ['..', '..'] : []));
  const flags = [
    '-O3', '-std=c++17', '-shared', '-fPIC', '-fopenmp', '-fvisibility=hidden',
    '-DNODE_GYP_MODULE_NAME=selfsup_native_cpu', '-DNAPI_VERSION=8',
    `-I${path.dirname(nodeInclude)}`, `-I${include(dnnlHeader)}`,
  ];
  if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
  const libDirs = root ? [path.join(root, 'lib'), path.join(root, 'lib64')].filter((d) => fs.existsSync(d)) : [];
  const link = [...libDirs.flatMap((d) => [`-L${d}`, `-Wl,-rpath,${d}`]), '-ldnnl'];

  fs.mkdirSync(outDir, { recursive: true });
  const tmp = path.join(outDir, `.selfsup_native_cpu.${process.pid}.node`);
  const started = Date.now();
  const cc = spawnSync(cxx, [...flags, src, '-o', tmp, ...link], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) {
    fs.rmSync(tmp, { force: true });
    const text = `${cc.stderr || ''}${cc.error ? cc.error.message : ''}`;
    const log = path.join(os.tmpdir(), 'selfsup-native-cpu-build.log');
    fs.writeFileSync(log, `${cxx} ${[...flags, src, '-o', tmp, ...link].join(' ')}\n${text}`);
    const missingLib = /cannot find -ldnnl/.test(text) ? 'libdnnl.so not found (libdnnl-dev)' : `the compiler failed (log: ${log})`;
    skip(missingLib);
  }
  // it must also load (libdnnl.so.2 and libgomp at run time) before it replaces a working one
  const check = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(tmp)}); const i = a.info(); console.log(i.dnnlVersion + ' ' + i.isa)`], { encoding: 'utf8' });
  if (check.status !== 0) {
    fs.rmSync(tmp, { force: true });
    skip(`built but does not load: ${(check.stderr || '').trim().split('\n').find((l) => /Error/.test(l)) ?? 'unknown error'}`);
  }
  fs.renameSync(tmp, out);
  console.error(`[selfsup] @selfsup/native-cpu built (oneDNN ${check.stdout.trim()}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

module.exports = { prerequisites, addonPath: out };
if (require.main === module) main();
