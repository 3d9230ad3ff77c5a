import { defineConfig } from 'vitest/config';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const __dirname = path.dirname(fileURLToPath(import.meta.url));

const pkg = (name: string) => path.resolve(__dirname, 'packages', name, 'src', 'index.ts');

// Tests run against the TypeScript sources (aliases below); the CLI end-to-end tests
// spawn the built `dist/` output, which `npm test` builds first with `tsc -b`.
export default defineConfig({
  // Legacy decorators + metadata, as tsc emits them (tsyringe and class-validator need both).
  oxc: {
    decorator: { legacy: true, emitDecoratorMetadata: true },
    typescript: { removeClassFieldsWithoutInitializer: true },
  } as never,
  resolve: {
    alias: {
      '@selfsup/core': pkg('core'),
      '@selfsup/callbacks': pkg('callbacks'),
      '@selfsup/ssl': pkg('ssl'),
      '@selfsup/byol': pkg('byol'),
      '@selfsup/simclr': pkg('simclr'),
      '@selfsup/vicreg': pkg('vicreg'),
      '@selfsup/barlow-twins': pkg('barlow-twins'),
      '@selfsup/simsiam': pkg('simsiam'),
      '@selfsup/moco': pkg('moco'),
      '@selfsup/cli': pkg('cli'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['reflect-metadata'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tfjs keeps global engine state (backend, registered kernels): one fork per file,
    // and at most two at once on these 2-core machines.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
