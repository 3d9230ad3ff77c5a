import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

const EPOCH_DIR = /^epoch-(\d+)$/;
const TRASH = /^\.trash-.+-\d+$/;

/**
 * `epoch-<E>` directory name for the 0-based epoch index `epoch`: E counts from 1, as the
 * progress line ("epoch 4/16"), the plots and the embedding files do.
 */
export function epochDirName(epoch: number): string {
  return `epoch-${epoch + 1}`;
}

/** The `epoch-<E>/` checkpoints in `dir`, oldest epoch first. */
export async function listEpochCheckpoints(dir: string): Promise<Array<{ name: string; epoch: number }>> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((name) => ({ name, m: EPOCH_DIR.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
    .map(({ name, m }) => ({ name, epoch: Number(m[1]) }))
    .sort((a, b) => a.epoch - b.epoch);
}

/**
 * Removes all but the newest `keep` `epoch-<E>/` checkpoints. Each is first renamed to a
 * hidden `.trash-*` name (one atomic step), so a crash mid-delete never leaves a partial
 * directory under a name a loader would pick up; {@link emptyTrash} finishes the job.
 */
export async function pruneEpochCheckpoints(dir: string, keep: number): Promise<string[]> {
  const all = await listEpochCheckpoints(dir);
  const doomed = all.slice(0, Math.max(0, all.length - keep));
  for (const { name } of doomed) {
    const trash = path.join(dir, `.trash-${name}-${process.pid}`);
    await fsp.rename(path.join(dir, name), trash);
    await fsp.rm(trash, { recursive: true, force: true });
  }
  return doomed.map((d) => d.name);
}

/** Deletes `.trash-*` directories a crashed prune left behind. */
export async function emptyTrash(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  for (const n of names) if (TRASH.test(n)) await fsp.rm(path.join(dir, n), { recursive: true, force: true });
}
