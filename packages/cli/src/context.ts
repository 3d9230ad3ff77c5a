import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ConfigError,
  createDataset,
  type FashionMnistDataConfig,
  isUserError,
  loadConfigFile,
  resolveConfig,
  selectBackend,
  UserError,
  type BackendInfo,
  type NativeKernelsPreference,
  type DataConfig,
  type ImageDataset,
  type ResolvedConfig,
} from '@selfsup/core';
import { UsageError } from './args';
// registers the methods (byol, simclr, vicreg, barlow-twins, simsiam, moco) and every built-in callback
import '@selfsup/byol';
import '@selfsup/simclr';
import '@selfsup/vicreg';
import '@selfsup/barlow-twins';
import '@selfsup/simsiam';
import '@selfsup/moco';
import '@selfsup/callbacks';

export interface Output {
  /** Results a script may parse (the final summary). */
  out: (line: string) => void;
  /** Progress and notices. */
  err: (line: string) => void;
}

export const stdio: Output = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

export interface LoadOptions {
  file: string;
  overrides?: string[];
  plugins?: string[];
  /** Entries appended to callbacks: when no entry of that name is listed. */
  defaultCallbacks?: Array<{ name: string; [k: string]: unknown }>;
  /** Changes the plain config (the file with the overrides applied) before it is validated. */
  edit?: (plain: Record<string, unknown>) => void;
}

/** Config file + overrides + CLI plugins → a validated config (throws ConfigError). */
export async function loadResolvedConfig(opts: LoadOptions): Promise<ResolvedConfig> {
  if (!fs.existsSync(opts.file)) throw new UsageError(`config file not found: ${opts.file}`);
  const plain = loadConfigFile(opts.file, opts.overrides ?? []);
  opts.edit?.(plain);
  if (opts.plugins?.length) {
    const listed = Array.isArray(plain.plugins) ? (plain.plugins as string[]) : [];
    // CLI plugins resolve from the working directory, config ones from the config's folder
    plain.plugins = [...listed, ...opts.plugins.map((p) => (p.startsWith('.') ? path.resolve(p) : p))];
  }
  const cbs = Array.isArray(plain.callbacks) ? (plain.callbacks as Array<{ name?: unknown }>) : [];
  for (const d of opts.defaultCallbacks ?? []) {
    if (!cbs.some((c) => c && c.name === d.name)) cbs.push({ ...d });
  }
  if (opts.defaultCallbacks?.length) plain.callbacks = cbs;
  return resolveConfig(plain, { file: opts.file });
}

/**
 * `data.path` and `val.path` must name existing folders: checked before a dataset (or a
 * run directory) is made. (Which files a folder must hold is the
 * dataset's to say when it opens.)
 */
export function checkDataPaths(resolved: ResolvedConfig): void {
  for (const section of ['data', 'val'] as const) {
    const d: DataConfig | undefined = resolved.root[section];
    // the embedded Fashion-MNIST subset never reads data.path
    if (!d?.path || (d.name === 'fashion-mnist' && (d as FashionMnistDataConfig).source === 'embedded')) continue;
    const abs = path.resolve(d.path);
    const stat = fs.statSync(abs, { throwIfNoEntry: false });
    const key = `${section}.path`;
    if (!stat) {
      const fallback = d.name === 'image-folder' ? '' : ' to use the default location';
      throw resolved.errorAt(key, d.path, `no such directory (resolved to ${abs} from ${process.cwd()}); give the folder that holds the ${d.name} data, or remove ${key}${fallback}`);
    }
    if (!stat.isDirectory()) throw resolved.errorAt(key, d.path, `${abs} is a file, not a directory; give the folder that holds the ${d.name} data`);
  }
}

export async function useBackend(
  resolved: ResolvedConfig,
  cliBackend: string | undefined,
  log: (l: string) => void,
  cliNativeKernels?: NativeKernelsPreference,
): Promise<BackendInfo> {
  const t = resolved.root.trainer;
  const nativeKernels = cliNativeKernels ?? t.nativeKernels;
  return selectBackend((cliBackend ?? t.backend) as Parameters<typeof selectBackend>[0], { threads: t.threads, webgpuAdapter: t.webgpuAdapter, nativeKernels, log });
}

export interface RunData {
  train: ImageDataset;
  val?: ImageDataset;
}

/**
 * The pretraining data and, when configured, the labelled evaluation data. A dataset that
 * cannot open for a reason the user can fix (no split files in the folder, an empty image
 * folder) is a config problem of its section.
 */
export async function openData(resolved: ResolvedConfig, log: (l: string) => void): Promise<RunData> {
  checkDataPaths(resolved);
  const open = async (section: 'data' | 'val', config: DataConfig) => {
    try {
      return await createDataset(config, { log });
    } catch (err) {
      if (!isUserError(err)) throw err;
      // the dataset's own key checks say `data.split: ...`: name the section it came from
      const own = /^data(\.[\w.]+)?: (.*)$/.exec(err.lines()[0]);
      throw own ? ConfigError.of(new UserError(own[2], { cause: err }), `${section}${own[1] ?? ''}`, resolved.file) : ConfigError.of(err, section, resolved.file);
    }
  };
  const train = await open('data', resolved.root.data);
  const val = resolved.root.val ? await open('val', resolved.root.val) : undefined;
  return { train, val };
}
