// --compare-torch: the same recipe in PyTorch (examples/quality/torch_quality.py), run after the
// selfsup run with its thread count, its JSON lines cached in <name>.torch.jsonl.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Recipe } from './recipe';

export const TORCH_INSTALL = 'sudo apt-get install python3-torch libopenblas0-pthread';

/** $SELFSUP_PYTHON when set (tests point it at a missing one), else Debian's python3, else PATH's. */
export function pythonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.SELFSUP_PYTHON ? [env.SELFSUP_PYTHON] : ['/usr/bin/python3', 'python3'];
}

/** The first candidate that imports torch, or null. */
export function findTorchPython(env: NodeJS.ProcessEnv = process.env): string | null {
  return pythonCandidates(env).find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) ?? null;
}

/** torch_quality.py beside this file (sources) or beside the sources of this file (examples/dist). */
export function torchScript(): string | null {
  const c = [path.join(__dirname, 'torch_quality.py'), path.resolve(__dirname, '..', '..', 'quality', 'torch_quality.py')];
  return c.find((f) => fs.existsSync(f)) ?? null;
}

export interface EpochRow {
  epoch: number;
  knn_acc: number;
  knn_acc_target: number | null;
  loss: number | null;
  trainSeconds: number | null;
  elapsedSeconds: number | null;
}

export interface TorchResult {
  epochs: EpochRow[];
  minutes: number;
  torch: string;
  baselines: { rawPixels: number | null; untrained: number | null; bank: number | null; queries: number | null };
}

type Line = Record<string, unknown> & { type?: string };

const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The script's lines → the JSON's torch section (null without a `done` line). */
export function torchResultOf(lines: Line[]): TorchResult | null {
  if (!lines.some((l) => l.type === 'done')) return null;
  const base = lines.find((l) => l.type === 'baseline') ?? {};
  const epochs: EpochRow[] = lines
    .filter((l) => l.type === 'epoch')
    .map((l) => ({
      epoch: Number(l.epoch),
      knn_acc: Number(l.knn_acc),
      knn_acc_target: numOrNull(l.knn_acc_target),
      loss: numOrNull(l.loss),
      trainSeconds: numOrNull(l.trainSeconds),
      elapsedSeconds: numOrNull(l.elapsedSeconds),
    }));
  const last = epochs[epochs.length - 1];
  return {
    epochs,
    minutes: (last?.elapsedSeconds ?? 0) / 60,
    torch: String(base.torch ?? 'unknown'),
    baselines: { rawPixels: numOrNull(base.rawPixels), untrained: numOrNull(base.untrained), bank: numOrNull(base.bank), queries: numOrNull(base.queries) },
  };
}

function readLines(file: string): Line[] {
  if (!fs.existsSync(file)) return [];
  const out: Line[] = [];
  for (const text of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!text.trim()) continue;
    try {
      out.push(JSON.parse(text) as Line);
    } catch {
      // a line torn by a kill: the cache is incomplete and will not be used
    }
  }
  return out;
}

/** The cached result when the cache was written for this very recipe and ran to its end. */
export function cachedTorch(cacheFile: string, recipe: Recipe): TorchResult | null {
  const lines = readLines(cacheFile);
  const head = lines[0];
  if (!head || head.type !== 'recipe' || JSON.stringify(head.recipe) !== JSON.stringify(recipe)) return null;
  return torchResultOf(lines.slice(1));
}

/**
 * Runs torch_quality.py on the recipe (written to recipeFile), forwarding its stderr and
 * appending each stdout JSON line to the cache as it comes; prints one line per epoch. With
 * checkpointFile the script saves its state there after every epoch and, run again on the same
 * recipe, continues after the saved epoch (printing the earlier lines again, so the cache is
 * rewritten whole).
 */
export async function runTorch(python: string, script: string, recipe: Recipe, recipeFile: string, cacheFile: string, log: (l: string) => void, checkpointFile?: string): Promise<TorchResult> {
  const cached = cachedTorch(cacheFile, recipe);
  if (cached) {
    log(`quality: PyTorch results for this recipe are cached in ${cacheFile}; not rerunning`);
    return cached;
  }
  fs.writeFileSync(cacheFile, `${JSON.stringify({ type: 'recipe', recipe })}\n`);
  const args = checkpointFile ? [script, recipeFile, checkpointFile] : [script, recipeFile];
  const resuming = checkpointFile !== undefined && fs.existsSync(checkpointFile);
  log(`quality: PyTorch, same recipe${resuming ? ', from its checkpoint' : ''}: ${python} ${args.join(' ')}`);
  const lines: Line[] = [];
  const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  const onLine = (text: string) => {
    if (!text.trim()) return;
    let l: Line;
    try {
      l = JSON.parse(text) as Line;
    } catch {
      log(`torch: ${text}`);
      return;
    }
    lines.push(l);
    fs.appendFileSync(cacheFile, `${JSON.stringify(l)}\n`);
    if (l.type === 'epoch') {
      const t = typeof l.knn_acc_target === 'number' ? ` (target ${l.knn_acc_target.toFixed(4)})` : '';
      log(`torch epoch ${l.epoch}/${recipe.epochs}: knn ${Number(l.knn_acc).toFixed(4)}${t}, ${(Number(l.elapsedSeconds ?? 0) / 60).toFixed(1)} min`);
    } else if (l.type === 'baseline') {
      log(`torch: raw pixels ${Number(l.rawPixels).toFixed(4)}, untrained encoder ${Number(l.untrained).toFixed(4)} (torch ${String(l.torch)})`);
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  onLine(buf);
  const result = torchResultOf(lines);
  if (code !== 0 || !result) throw new Error(`${python} ${script} ${recipeFile} exited with code ${code}${result ? '' : ' before its "done" line'}`);
  return result;
}
