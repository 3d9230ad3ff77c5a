/**
 * Crash-safe writes of single files and whole directories.
 *
 * ## Protocol (read this before changing anything here)
 *
 * Every temporary object is a *sibling* of its final path, so that `rename` stays on one
 * file system and is atomic. Sibling names are
 *
 *   `<base>.tmp-<pid>-<token>`  content being written (file or directory)
 *   `<base>.old-<pid>-<token>`  the previous directory, moved aside during a swap
 *
 * `writeFileAtomic(path)`: write `path.tmp-*`, fsync it, rename it over `path`, fsync the
 * parent directory. The rename is the commit point; a leftover `.tmp-*` file is garbage.
 *
 * `writeDirAtomic(dir)`:
 *   1. recover leftovers of earlier crashed writes of `dir` (see below);
 *   2. create `dir.tmp-T`, let the caller fill it, fsync every file in it, every directory
 *      in it, and the parent;
 *   3. if `dir` exists: rename `dir` → `dir.old-T`, fsync the parent;
 *   4. rename `dir.tmp-T` → `dir`, fsync the parent;
 *   5. remove `dir.old-T`.
 *
 * Linux has no portable atomic exchange of two directories from Node, so between steps 3
 * and 4 `dir` does not exist. Recovery closes that gap, and it is what makes the guarantee
 * hold: **after `recoverAtomicDir(dir)` (which `writeDirAtomic` runs first), `dir` holds
 * either the complete old content or the complete new content.** Recovery rules, applied to
 * leftovers whose owning process is dead (or is this process):
 *   - `dir` exists: every `.tmp-*` is an unfinished or uncommitted write and every `.old-*`
 *     is superseded; delete them.
 *   - `dir` is missing and some `dir.old-T` exists: the crash hit between steps 3 and 4.
 *     `dir.tmp-T` (same T) was complete before step 3 started, so roll forward by renaming
 *     it to `dir`; without it, roll back by renaming `dir.old-T` to `dir`. Then delete the
 *     rest.
 *   - `dir` is missing and only `.tmp-*` exist: the first write never committed; delete.
 *
 * Readers that may run after a crash (resume) should call `recoverAtomicDir` (or
 * `cleanAtomicLeftovers` on the parent) before reading. Leftovers owned by another live
 * process are left alone, so concurrent writers of *different* directories in one parent
 * are safe; two concurrent writers of the *same* directory are not supported.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Data accepted by {@link writeFileAtomic}. */
export type AtomicFileData = string | Uint8Array | ReadonlyArray<Uint8Array>;

/** Steps of {@link writeDirAtomic}, reported to {@link WriteDirAtomicOptions.onStep}. */
export type AtomicDirStep =
  /** The temp directory is filled and fsynced; nothing visible changed yet. */
  | 'tmp-complete'
  /** The old directory was renamed aside; the final path is momentarily missing. */
  | 'old-moved-aside'
  /** The new directory is in place; the old one is not yet removed. */
  | 'new-in-place';

/** Options of {@link writeDirAtomic}. */
export interface WriteDirAtomicOptions {
  /**
   * Fault injection for tests: called after each step. If it throws, `writeDirAtomic`
   * stops right there *without cleaning up*, exactly as a killed process would, and
   * rethrows the error. Leave undefined in production code.
   */
  onStep?: (step: AtomicDirStep) => void | Promise<void>;
}

const LEFTOVER_RE = /^(.*)\.(tmp|old)-(\d+)-([0-9a-f]+)$/;

/** A parsed leftover sibling name (see the module protocol). */
export interface AtomicLeftover {
  /** File name of the leftover itself. */
  name: string;
  /** Base name of the final path it belongs to. */
  base: string;
  kind: 'tmp' | 'old';
  pid: number;
  token: string;
}

/**
 * Parses a sibling name written by this module (`<base>.tmp-<pid>-<hex>` or
 * `<base>.old-<pid>-<hex>`); returns undefined for any other name. Use it to skip leftovers
 * when listing a directory (e.g. keep-last-K checkpoint pruning).
 */
export function parseAtomicLeftover(name: string): AtomicLeftover | undefined {
  const m = LEFTOVER_RE.exec(name);
  if (!m) return undefined;
  return { name, base: m[1], kind: m[2] as 'tmp' | 'old', pid: Number(m[3]), token: m[4] };
}

function newToken(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}

function siblingPath(finalPath: string, kind: 'tmp' | 'old', token: string): string {
  return `${finalPath}.${kind}-${token}`;
}

/** fsync a directory so that renames/creates inside it survive a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some file systems refuse fsync on directories (EINVAL/EISDIR/EPERM); the data
    // itself was synced, which is the best such a system allows.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * Writes `data` to `filePath` so that readers see either the previous content or the
 * complete new content, even if the process is killed or the machine loses power:
 * temp file in the same directory, fsync, rename over the target, fsync the directory.
 * The parent directory must exist.
 */
export async function writeFileAtomic(filePath: string, data: AtomicFileData): Promise<void> {
  const tmp = siblingPath(filePath, 'tmp', newToken());
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx');
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await handle.writeFile(data);
    } else {
      for (const chunk of data) await handle.write(chunk);
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, filePath);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw new Error(`writeFileAtomic: could not write "${filePath}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  await fsyncDir(path.dirname(filePath));
}

/** Synchronous twin of {@link writeFileAtomic}, for small files written from sync code. */
export function writeFileAtomicSync(filePath: string, data: string | Uint8Array): void {
  const tmp = siblingPath(filePath, 'tmp', newToken());
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, filePath);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw new Error(`writeFileAtomic: could not write "${filePath}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const dirFd = fs.openSync(path.dirname(filePath), 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  } catch {
    // Directory fsync unsupported here; see fsyncDir.
  }
}

/** fsync every file and directory below `dir` (and `dir` itself), depth first. */
async function fsyncTree(dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      await fsyncTree(p);
    } else if (e.isFile()) {
      const h = await fsp.open(p, 'r');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    }
  }
  await fsyncDir(dir);
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false; // our own leftovers are from earlier, failed calls
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** What {@link recoverAtomicDir} did. */
export interface RecoveryReport {
  /** Leftover sibling paths deleted. */
  removed: string[];
  /** The path renamed into place, when the final path was missing after a crash. */
  restoredFrom?: string;
  /** 'forward' = the new content was committed, 'back' = the old content was restored. */
  direction?: 'forward' | 'back';
}

/**
 * Brings `finalPath` (a directory written with {@link writeDirAtomic}, or a file written
 * with {@link writeFileAtomic}) back to a consistent state after a crash, following the
 * module protocol, and deletes the leftovers of dead writers. Idempotent and cheap when
 * there is nothing to do.
 */
export async function recoverAtomicDir(finalPath: string): Promise<RecoveryReport> {
  const parent = path.dirname(finalPath);
  const base = path.basename(finalPath);
  const report: RecoveryReport = { removed: [] };
  let names: string[];
  try {
    names = await fsp.readdir(parent);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw err;
  }
  const mine = names
    .map(parseAtomicLeftover)
    .filter((l): l is AtomicLeftover => l !== undefined && l.base === base && !isAlive(l.pid));
  if (mine.length === 0) return report;

  if (!(await exists(finalPath))) {
    const olds = mine.filter((l) => l.kind === 'old');
    // Several olds can only come from several crashed swaps of which each rolled nothing
    // back; the newest by mtime is the last committed content.
    let best: { leftover: AtomicLeftover; mtime: number } | undefined;
    for (const o of olds) {
      const st = await fsp.stat(path.join(parent, o.name));
      if (!best || st.mtimeMs > best.mtime) best = { leftover: o, mtime: st.mtimeMs };
    }
    if (best) {
      const old = best.leftover;
      const twin = mine.find((l) => l.kind === 'tmp' && l.pid === old.pid && l.token === old.token);
      const source = twin ?? old;
      await fsp.rename(path.join(parent, source.name), finalPath);
      await fsyncDir(parent);
      report.restoredFrom = path.join(parent, source.name);
      report.direction = twin ? 'forward' : 'back';
    }
  }
  for (const l of mine) {
    const p = path.join(parent, l.name);
    if (p === report.restoredFrom) continue;
    await fsp.rm(p, { recursive: true, force: true });
    report.removed.push(p);
  }
  if (report.removed.length > 0) await fsyncDir(parent);
  return report;
}

/**
 * Runs {@link recoverAtomicDir} for every final path in `parentDir` that has leftovers
 * (`*.tmp-*`, `*.old-*`). Call it once at start-up on directories this module writes into,
 * e.g. a run's `checkpoints/` and `export/`.
 */
export async function cleanAtomicLeftovers(parentDir: string): Promise<RecoveryReport[]> {
  let names: string[];
  try {
    names = await fsp.readdir(parentDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const bases = new Set<string>();
  for (const n of names) {
    const l = parseAtomicLeftover(n);
    if (l) bases.add(l.base);
  }
  const reports: RecoveryReport[] = [];
  for (const b of bases) reports.push(await recoverAtomicDir(path.join(parentDir, b)));
  return reports;
}

class InjectedCrash extends Error {}

/**
 * Replaces (or creates) the directory `finalDir` with one that `fill(tmpDir)` writes, so
 * that a process killed at any moment leaves — after {@link recoverAtomicDir}, which this
 * function itself runs first — either the complete old directory or the complete new one.
 * `fill` writes plain files into `tmpDir` (no need for atomic writes inside it). If `fill`
 * throws, the temp directory is removed and `finalDir` is untouched. The parent of
 * `finalDir` is created if needed. See the module documentation for the protocol.
 */
export async function writeDirAtomic(
  finalDir: string,
  fill: (tmpDir: string) => Promise<void> | void,
  options: WriteDirAtomicOptions = {},
): Promise<void> {
  const parent = path.dirname(finalDir);
  await fsp.mkdir(parent, { recursive: true });
  await recoverAtomicDir(finalDir);

  const token = newToken();
  const tmp = siblingPath(finalDir, 'tmp', token);
  const old = siblingPath(finalDir, 'old', token);
  const step = async (s: AtomicDirStep): Promise<void> => {
    if (!options.onStep) return;
    try {
      await options.onStep(s);
    } catch (err) {
      throw new InjectedCrash((err as Error).message, { cause: err });
    }
  };

  try {
    await fsp.mkdir(tmp);
    try {
      await fill(tmp);
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
    await fsyncTree(tmp);
    await fsyncDir(parent);
    await step('tmp-complete');

    if (await exists(finalDir)) {
      await fsp.rename(finalDir, old);
      await fsyncDir(parent);
      await step('old-moved-aside');
    }
    await fsp.rename(tmp, finalDir);
    await fsyncDir(parent);
    await step('new-in-place');
    await fsp.rm(old, { recursive: true, force: true });
  } catch (err) {
    if (err instanceof InjectedCrash) throw (err.cause as Error) ?? err;
    // A real I/O failure mid-swap: put things back as recovery would after a crash.
    await recoverAtomicDir(finalDir).catch(() => undefined);
    throw err;
  }
}
