import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

/**
 * Bundles a module for the browser with esbuild and lists every Node-only import in it, each
 * with the chain of imports that brought it in (from esbuild's metafile), for
 * test/browser-bundle.test.ts (issue 11, item 5).
 *
 * Node-only: a Node built-in (`fs`, `node:path`, `worker_threads`, ...) that the importing
 * package does not map away for browsers (tfjs's package.json `browser` fields map `fs`,
 * `crypto`, `util`... to nothing: esbuild honours that, and so does this check); a package
 * that only runs in Node (sharp, Dawn's `webgpu`, tfjs-node), resolvable or not; and selfsup's
 * own Node-only modules named below (the wasm thread shim), even if they ever stop importing
 * a built-in.
 */

export const ROOT = path.resolve(__dirname, '..', '..');

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
export const NODE_ONLY_PACKAGES = ['sharp', 'webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];
/** selfsup's modules that are Node-only by design, as paths (sources or built) relative to the repository. */
export const NODE_ONLY_FILES: RegExp[] = [/^packages\/core\/(src|dist)\/backend\/wasm_threads\.(ts|js)$/];

export interface NodeImport {
  /** The import as written (`fs`, `node:fs/promises`, `sharp`) or the Node-only module's path. */
  what: string;
  /** Entry first, then each importer down to the one that imports `what`. */
  chain: string[];
}

export interface BrowserBundleResult {
  nodeImports: NodeImport[];
  /** One line per Node-only import: `what  ← importer ← ... ← entry`; '' when none. */
  report: string;
  /** Every input esbuild bundled (repository-relative paths). */
  inputs: string[];
  bytes: number;
}

function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * `@selfsup/<name>` → the TypeScript source of the module the package's `browser` field maps
 * its main to (dist/browser.js → src/browser.ts), else of its main (dist/index.js → src/index.ts):
 * what a browser bundle of the built package would take, checked as ES modules (an import of
 * a name the browser entry lacks is an esbuild error).
 */
export function workspaceBrowserAliases(): Record<string, string> {
  const alias: Record<string, string> = {};
  for (const dir of fs.readdirSync(path.join(ROOT, 'packages'))) {
    const file = path.join(ROOT, 'packages', dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; main?: string; browser?: Record<string, string> | string };
    const main = `./${path.posix.normalize(pkg.main ?? 'dist/index.js')}`;
    const mapped = typeof pkg.browser === 'object' ? (pkg.browser[main] ?? main) : typeof pkg.browser === 'string' ? pkg.browser : main;
    const src = mapped.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts');
    const target = path.join(ROOT, 'packages', dir, src);
    if (fs.existsSync(target)) alias[pkg.name] = target;
  }
  return alias;
}

/**
 * Bundles `contents` (TypeScript, resolved from the repository root) for `platform: 'browser'`.
 * `packages: 'sources'` takes @selfsup/* from their TypeScript sources as their package.json
 * maps them for browsers; `'built'` resolves them as a user's bundler would, through
 * node_modules and package.json (needs `npm run build`).
 */
export async function bundleForBrowser(contents: string, opts: { packages: 'sources' | 'built' }): Promise<BrowserBundleResult> {
  const found: Array<{ what: string; importer: string }> = [];
  const rel = (p: string) => path.relative(ROOT, p).split(path.sep).join('/');
  const nodeOnly: esbuild.Plugin = {
    name: 'node-only-imports',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === 'inner') return undefined;
        const isBuiltin = NODE_BUILTINS.has(args.path) || args.path.startsWith('node:');
        const isNodePackage = NODE_ONLY_PACKAGES.includes(packageOf(args.path));
        if (!isBuiltin && !isNodePackage) return undefined;
        if (isBuiltin) {
          // resolvable for a browser only where the importing package maps it away (browser field)
          const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'inner' });
          if (r.errors.length === 0) return undefined;
        }
        found.push({ what: args.path, importer: args.importer === '<stdin>' || args.importer === '<entry>' ? '<entry>' : rel(args.importer) });
        return { path: args.path, external: true };
      });
    },
  };
  const result = await esbuild.build({
    stdin: { contents, resolveDir: ROOT, loader: 'ts', sourcefile: '<entry>' },
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    outfile: path.join(ROOT, 'browser-bundle.js'),
    alias: opts.packages === 'sources' ? workspaceBrowserAliases() : {},
    plugins: [nodeOnly],
    logLevel: 'silent',
  });
  const inputs = result.metafile.inputs;
  // the first importer of each file, breadth-first from the entry: the shortest chain
  const parent = new Map<string, string | null>([['<entry>', null]]);
  const queue = ['<entry>'];
  while (queue.length) {
    const f = queue.shift()!;
    for (const imp of inputs[f]?.imports ?? []) {
      if (imp.external || parent.has(imp.path)) continue;
      parent.set(imp.path, f);
      queue.push(imp.path);
    }
  }
  const chainTo = (file: string): string[] => {
    const chain: string[] = [];
    for (let f: string | null | undefined = file; f != null; f = parent.get(f)) chain.unshift(f);
    return chain;
  };
  const nodeImports: NodeImport[] = [];
  const seen = new Set<string>();
  for (const { what, importer } of found) {
    const key = `${importer} ${what}`;
    if (seen.has(key)) continue;
    seen.add(key);
    nodeImports.push({ what, chain: chainTo(importer) });
  }
  for (const file of Object.keys(inputs)) {
    if (NODE_ONLY_FILES.some((re) => re.test(file))) nodeImports.push({ what: file, chain: chainTo(parent.get(file) ?? '<entry>') });
  }
  const report = nodeImports.map((n) => `${n.what}  ← ${[...n.chain].reverse().join(' ← ')}`).join('\n');
  return { nodeImports, report, inputs: Object.keys(inputs), bytes: result.outputFiles[0].contents.length };
}
