import * as path from 'node:path';
import type { LoggingExperiment } from './observer';

export type { LoggingExperiment } from './observer';

/**
 * Where a logging callback writes: its `dir` option when set, else `<runDir>/<sub>` (the run
 * context's `exp.run.runDir`, which the CLI sets; programmatic users may too). With
 * neither, the error gives both ways out (the runner adds the callback's name), at
 * experimentStart rather than at the first write an hour later.
 */
export function resolveOutputDir(exp: LoggingExperiment, dir: string | undefined, callback: string, sub = ''): string {
  if (dir !== undefined) return path.resolve(dir);
  const rd = exp.run.runDir;
  if (rd !== undefined) return path.resolve(rd, sub);
  throw new Error(
    `no output directory: the experiment has no runDir and the callback has no \`dir\` option; ` +
      `set \`dir\` (e.g. { name: ${callback}, dir: runs/my-run }) or give the experiment a runDir (selfsup train does)`,
  );
}
