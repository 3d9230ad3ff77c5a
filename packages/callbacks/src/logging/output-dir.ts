import * as path from 'node:path';
import type { HookFn } from '@selfsup/core';

/** The experiment a hook receives. */
export type LoggingExperiment = Parameters<HookFn>[0];

/**
 * The run directory of an experiment that has one: `runDir` as a path, or as the `{ dir }`
 * that `createRunDir` returns. The CLI sets it; programmatic users may too.
 */
export function runDirOf(exp: LoggingExperiment): string | undefined {
  const rd = (exp as unknown as { runDir?: unknown }).runDir;
  if (typeof rd === 'string' && rd !== '') return rd;
  if (rd && typeof rd === 'object' && typeof (rd as { dir?: unknown }).dir === 'string') return (rd as { dir: string }).dir;
  return undefined;
}

/**
 * Where a logging callback writes: its `dir` option when set, else `<runDir>/<sub>`. With
 * neither, the error gives both ways out (the runner adds the callback's name), at
 * experimentStart rather than at the first write an hour later.
 */
export function resolveOutputDir(exp: LoggingExperiment, dir: string | undefined, callback: string, sub = ''): string {
  if (dir !== undefined) return path.resolve(dir);
  const rd = runDirOf(exp);
  if (rd !== undefined) return path.resolve(rd, sub);
  throw new Error(
    `no output directory: the experiment has no runDir and the callback has no \`dir\` option; ` +
      `set \`dir\` (e.g. { name: ${callback}, dir: runs/my-run }) or give the experiment a runDir (selfsup train does)`,
  );
}
