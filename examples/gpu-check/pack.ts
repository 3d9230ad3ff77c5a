// `npm run gpu-check -- --pack DIR [--target P]`: a folder that runs on a machine with no
// package registry and no node_modules — `node DIR/gpu-check.js`. It holds gpu-check bundled
// with esbuild (platform node; every @selfsup package, tfjs, its webgpu and wasm backends
// inside), the dawn.node of the target platform from the npm package `webgpu` (with the DLLs
// it needs beside it on Windows), tfjs-backend-wasm's .wasm files and the script its threaded
// build's workers load. The bundled script finds them next to itself (gpu-check.ts, packedDir).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PackTarget } from './args';

/** The whole folder stays under this (the limit). */
export const PACK_LIMIT_BYTES = 60 * 2 ** 20;
/** Written into the folder: what it was packed for. */
export const PACK_MANIFEST = 'gpu-check.pack.json';
export const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
export const WASM_THREAD_SCRIPT = 'tfjs-backend-wasm-threaded-simd.js';

export interface PackManifest {
  target: PackTarget;
  packedAt: string;
  node: string;
}

export interface PackReport {
  dir: string;
  target: PackTarget;
  files: Array<{ name: string; bytes: number }>;
  totalBytes: number;
  run: string;
}

/** This machine's platform, as the `webgpu` package names its dawn.node folders. */
export function currentTarget(): PackTarget {
  const t = process.platform === 'darwin' ? 'darwin-universal' : `${process.platform}-${process.arch}`;
  return t as PackTarget;
}

function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

export async function packGpuCheck(dir: string, target: PackTarget, log: (line: string) => void): Promise<PackReport> {
  // esbuild is a devDependency of the repository: there when packing, never in the folder
  const esbuild = require('esbuild') as typeof import('esbuild');
  const out = path.resolve(dir);
  fs.mkdirSync(out, { recursive: true });
  const dawnDir = path.join(packageDir('webgpu'), 'dist', target);
  if (!fs.existsSync(path.join(dawnDir, 'dawn.node'))) throw new Error(`no dawn.node for ${target} in the webgpu package (${dawnDir})`);

  log(`gpu-check: bundling ${path.join(__dirname, 'gpu-check.js')} → ${path.join(out, 'gpu-check.js')}`);
  await esbuild.build({
    entryPoints: [path.join(__dirname, 'gpu-check.js')],
    outfile: path.join(out, 'gpu-check.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
    // optional native bindings gpu-check never loads (it asks for webgpu and wasm by name)
    external: ['esbuild', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@selfsup/native-cpu'],
    plugins: [
      {
        // sharp (image folders, PNG plots) is a native module gpu-check does not use
        name: 'no-sharp',
        setup(build) {
          build.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'gpu-check-stub' }));
          build.onLoad({ filter: /.*/, namespace: 'gpu-check-stub' }, () => ({
            contents: "module.exports = function sharp() { throw new Error('sharp is not in the gpu-check folder'); };",
            loader: 'js',
          }));
        },
      },
    ],
  });

  const copy = (from: string, name = path.basename(from)) => fs.copyFileSync(from, path.join(out, name));
  for (const f of fs.readdirSync(dawnDir)) copy(path.join(dawnDir, f));
  const wasmDir = packageDir('@tensorflow/tfjs-backend-wasm');
  for (const f of WASM_FILES) copy(path.join(wasmDir, 'dist', f));
  copy(path.join(wasmDir, 'wasm-out', WASM_THREAD_SCRIPT));
  const manifest: PackManifest = { target, packedAt: new Date().toISOString(), node: process.version };
  fs.writeFileSync(path.join(out, PACK_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);

  const files = fs.readdirSync(out).map((name) => ({ name, bytes: fs.statSync(path.join(out, name)).size }));
  const totalBytes = files.reduce((a, f) => a + f.bytes, 0);
  if (totalBytes > PACK_LIMIT_BYTES) {
    throw new Error(`the folder holds ${(totalBytes / 2 ** 20).toFixed(1)} MB, over the ${PACK_LIMIT_BYTES / 2 ** 20} MB limit`);
  }
  return { dir: out, target, files, totalBytes, run: `node ${path.join(out, 'gpu-check.js')}` };
}
