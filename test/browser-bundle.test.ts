// Browser-ready core (issue 11, item 5): what a browser user imports — Experiment, the
// callbacks runner and the built-in callbacks, BYOL, the augmentations and the webgpu backend
// setup a browser uses (navigator.gpu, not Dawn's npm binding) — bundles with esbuild for
// `platform: 'browser'` without a single Node import. A failure names each Node import and the
// chain of imports that brought it in. The last tests bundle modules that are Node-only on
// purpose, to show the check finds them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleForBrowser, ROOT } from './helpers/browser-bundle';

/** What a browser page training BYOL imports. */
const BROWSER_ENTRY = `
import { Experiment, CallbackRunner, Callback, registerCallback, selectBackend, currentBackend, InMemoryImageDataset, Rng } from '@selfsup/core';
import {
  TargetInitCallback, EmaUpdateCallback, LrSchedulerCallback, CollapseMonitorCallback, KnnEvalCallback,
  LinearProbeCallback, ProgressBarCallback, weightedKnn,
} from '@selfsup/callbacks';
import { ByolExperiment, AugmentationPipeline, byolViewT, byolViewTPrime, byolSmallGrayViewT, symmetricByolLoss, LARS } from '@selfsup/byol';
export const used = [
  Experiment, CallbackRunner, Callback, registerCallback, selectBackend, currentBackend, InMemoryImageDataset, Rng,
  TargetInitCallback, EmaUpdateCallback, LrSchedulerCallback, CollapseMonitorCallback, KnnEvalCallback, LinearProbeCallback,
  ProgressBarCallback, weightedKnn, ByolExperiment, AugmentationPipeline, byolViewT, byolViewTPrime, byolSmallGrayViewT,
  symmetricByolLoss, LARS,
];
// the page picks WebGPU through navigator.gpu
export const ready = selectBackend('webgpu');
`;

const message = (report: string) => `Node-only imports in the browser bundle (import ← importer ← ... ← entry):\n${report}`;

describe('a browser bundle of the core packages', () => {
  it('from the TypeScript sources, as package.json maps them for browsers: no Node import', async () => {
    const r = await bundleForBrowser(BROWSER_ENTRY, { packages: 'sources' });
    expect(r.nodeImports, message(r.report)).toEqual([]);
    // it is the browser's webgpu setup that got bundled, and the whole of BYOL
    for (const f of ['packages/core/src/browser.ts', 'packages/core/src/backend/webgpu-browser.ts', 'packages/callbacks/src/browser.ts',
      'packages/byol/src/experiment/byol-experiment.ts', 'packages/ssl/src/augment/pipeline.ts', 'packages/core/src/callbacks/runner.ts']) {
      expect(r.inputs).toContain(f);
    }
    expect(r.inputs.some((f) => f.startsWith('node_modules/@tensorflow/tfjs-backend-webgpu/'))).toBe(true);
    expect(r.inputs).not.toContain('packages/core/src/backend/webgpu.ts');
  });

  it('from the built packages, resolved through node_modules as a user\'s bundler does: no Node import', async () => {
    const built = path.join(ROOT, 'packages/core/dist/browser.js');
    expect(fs.existsSync(built), `${built} is missing: run npm run build`).toBe(true);
    const r = await bundleForBrowser(BROWSER_ENTRY, { packages: 'built' });
    expect(r.nodeImports, message(r.report)).toEqual([]);
    expect(r.inputs).toContain('packages/core/dist/browser.js');
    expect(r.inputs).toContain('packages/callbacks/dist/browser.js');
    expect(r.inputs).not.toContain('packages/core/dist/index.js');
  });
});

describe('the check finds Node imports', () => {
  it('a Node-only module imported directly: each built-in, with its importer', async () => {
    const r = await bundleForBrowser(`export * from './packages/core/src/io/run-dir';`, { packages: 'sources' });
    expect(r.report).toContain('node:child_process  ← packages/core/src/io/run-dir.ts ← <entry>');
    expect(r.report).toContain('node:fs/promises  ← packages/core/src/io/run-dir.ts ← <entry>');
  });

  it('the Node entry of @selfsup/core: sharp (installed, still Node-only), fs and the wasm thread shim, with the chains that bring them in', async () => {
    const r = await bundleForBrowser(`export * from './packages/core/src/index';`, { packages: 'sources' });
    const sharp = r.nodeImports.filter((n) => n.what === 'sharp');
    expect(sharp.map((n) => n.chain.at(-1)).sort(), r.report).toEqual(['packages/core/src/data/image-folder/decode.ts', 'packages/core/src/io/plots/png.ts']);
    const decode = sharp.find((n) => n.chain.at(-1)!.includes('decode'))!;
    expect(decode.chain.slice(0, 3)).toEqual(['<entry>', 'packages/core/src/index.ts', 'packages/core/src/data/index.ts']);
    const shim = r.nodeImports.find((n) => n.what === 'packages/core/src/backend/wasm_threads.ts');
    expect(shim, r.report).toBeDefined();
    expect(shim!.chain.slice(0, 2)).toEqual(['<entry>', 'packages/core/src/index.ts']);
    expect(r.report).toMatch(/^fs {2}← packages\/core\/src\/backend\/wasm_threads\.ts ← packages\/core\/src\/backend\/select\.ts ← .*packages\/core\/src\/index\.ts ← <entry>$/m);
    expect(message(r.report)).toContain('Node-only imports in the browser bundle');
  });
});
