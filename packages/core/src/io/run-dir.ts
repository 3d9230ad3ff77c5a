/**
 * Run directories, as PyTorch Lightning lays them out: `<root>/<name>/version_<N>/`.
 *
 * @packageDocumentation
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from './atomic';

/** Sub-folders every run directory gets. */
export const RUN_SUBDIRS = ['checkpoints', 'plots', 'export'] as const;

/** Options of {@link createRunDir}. */
export interface CreateRunDirOptions {
  /** Parent of all experiments; default `runs` (relative to the working directory). */
  root?: string;
  /** Experiment name: one path segment, e.g. `byol-fashion-mnist`. */
  name: string;
}

/** A created run directory. */
export interface RunDir {
  /** Absolute path of `<root>/<name>/version_<N>`. */
  dir: string;
  version: number;
}

const VERSION_RE = /^version_(\d+)$/;

/**
 * Creates `<root>/<name>/version_<N>/` with `checkpoints/`, `plots/` and `export/`, where N
 * is the next free integer (0 for the first run). Safe when several processes start at
 * once: the final directory is created without `recursive`, so exactly one caller wins
 * each N and the others move on to N+1.
 */
export async function createRunDir(options: CreateRunDirOptions): Promise<RunDir> {
  const { root = 'runs', name } = options;
  if (!name || name === '.' || name === '..' || /[/\\]/.test(name)) {
    throw new Error(
      `createRunDir: run name ${JSON.stringify(name)} must be a single non-empty path segment (no "/" or "\\").`,
    );
  }
  const parent = path.resolve(root, name);
  await fsp.mkdir(parent, { recursive: true });
  let next = 0;
  for (const entry of await fsp.readdir(parent)) {
    const m = VERSION_RE.exec(entry);
    if (m) next = Math.max(next, Number(m[1]) + 1);
  }
  // Bounded so that a permission problem disguised as EEXIST cannot loop forever.
  for (let attempt = 0; attempt < 10_000; attempt++, next++) {
    const dir = path.join(parent, `version_${next}`);
    try {
      await fsp.mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new Error(`createRunDir: cannot create "${dir}": ${(err as Error).message}`);
    }
    for (const sub of RUN_SUBDIRS) await fsp.mkdir(path.join(dir, sub));
    return { dir, version: next };
  }
  throw new Error(`createRunDir: no free version_<N> found in "${parent}" after 10000 attempts.`);
}

/** The content of `env.json` (plus whatever `extra` adds). */
export interface EnvInfo {
  time: string;
  node: string;
  /** Versions of the tfjs packages (`tf.version`). */
  tfjs: Record<string, string>;
  /** The active tfjs backend, or null when none was initialised yet. */
  backend: string | null;
  platform: string;
  arch: string;
  cpus: number;
  cpuModel: string | null;
  totalMemoryBytes: number;
  hostname: string;
  pid: number;
  argv: string[];
  /** `git rev-parse HEAD` in the working directory, or null outside a repository. */
  gitCommit: string | null;
  /** True when `git status --porcelain` lists changes; null when git is unavailable. */
  gitDirty: boolean | null;
  [key: string]: unknown;
}

function git(args: string[], cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd, timeout: 5_000, windowsHide: true }, (err, stdout) => {
      resolve(err ? null : stdout.trim());
    });
  });
}

/** Collects the facts {@link writeEnvJson} writes, without writing anything. */
export async function collectEnvInfo(extra: Record<string, unknown> = {}, cwd = process.cwd()): Promise<EnvInfo> {
  const commit = await git(['rev-parse', 'HEAD'], cwd);
  const status = commit === null ? null : await git(['status', '--porcelain'], cwd);
  const cpus = os.cpus();
  // tf.engine().backendName does not initialise a backend, unlike tf.getBackend().
  const backend = tf.engine().backendName ?? null;
  return {
    time: new Date().toISOString(),
    node: process.version,
    tfjs: { ...tf.version } as Record<string, string>,
    backend,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    totalMemoryBytes: os.totalmem(),
    hostname: os.hostname(),
    pid: process.pid,
    argv: process.argv.slice(1),
    gitCommit: commit && /^[0-9a-f]{40,64}$/.test(commit) ? commit : null,
    gitDirty: status === null ? null : status.length > 0,
    ...extra,
  };
}

/**
 * Writes `<dir>/env.json` atomically: node and tfjs versions, active backend, platform,
 * CPU count, git commit (when `git rev-parse HEAD` works in `cwd`), time, and `extra`
 * (e.g. `{ threads, seed }`), whose keys win over the collected ones. Returns what it wrote.
 */
export async function writeEnvJson(
  dir: string,
  extra: Record<string, unknown> = {},
  cwd = process.cwd(),
): Promise<EnvInfo> {
  const info = await collectEnvInfo(extra, cwd);
  await writeFileAtomic(path.join(dir, 'env.json'), JSON.stringify(info, null, 2) + '\n');
  return info;
}
