import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  createDataset,
  loadConfigFile,
  resolveConfig,
  selectBackend,
  type BackendInfo,
  type ImageDataset,
  type ResolvedConfig,
} from '@selfsup/core';
import { UsageError } from './args';
// registers the byol method and every built-in callback
import '@selfsup/byol';
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
}

/** Config file + overrides + CLI plugins → a validated config (throws ConfigError). */
export async function loadResolvedConfig(opts: LoadOptions): Promise<ResolvedConfig> {
  if (!fs.existsSync(opts.file)) throw new UsageError(`config file not found: ${opts.file}`);
  const plain = loadConfigFile(opts.file, opts.overrides ?? []);
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

export async function useBackend(resolved: ResolvedConfig, cliBackend: string | undefined, log: (l: string) => void): Promise<BackendInfo> {
  const t = resolved.root.trainer;
  return selectBackend((cliBackend ?? t.backend) as Parameters<typeof selectBackend>[0], { threads: t.threads, log });
}

export interface RunData {
  train: ImageDataset;
  val?: ImageDataset;
}

/** The pretraining data and, when configured, the labelled evaluation data. */
export async function openData(resolved: ResolvedConfig, log: (l: string) => void): Promise<RunData> {
  const train = await createDataset(resolved.root.data , { log });
  const val = resolved.root.val ? await createDataset(resolved.root.val , { log }) : undefined;
  return { train, val };
}
