import * as fs from 'fs';
import * as path from 'path';

let cached: string | undefined;

/**
 * The @selfsup/core package directory. Walking up from this file works the same from
 * `src/data` (tests run the sources) and `dist/data` (the built package), and does not
 * depend on how `@selfsup/core` is aliased or linked.
 */
export function corePackageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if (JSON.parse(fs.readFileSync(manifest, 'utf8')).name === '@selfsup/core') return (cached = dir);
      } catch {
        // An unreadable package.json further down is not ours; keep walking up.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the @selfsup/core package directory above ${__dirname}`);
    dir = parent;
  }
}

/** Directory of the Fashion-MNIST subset shipped with the package. */
export function embeddedFashionMnistDir(): string {
  return path.join(corePackageRoot(), 'assets', 'fashion-mnist-subset');
}
