// --compare-torch: the same supervised step in PyTorch CPU with the same thread count.
import { spawnSync } from 'child_process';
import * as path from 'path';

// `python3` first; then Debian's interpreter, where apt installs python3-torch, for when
// PATH's python3 is another one (pyenv, a venv).
const CANDIDATES = ['python3', '/usr/bin/python3'];
let python: string | null | undefined;

/** The first python that imports torch, or null. */
export function torchPython(): string | null {
  if (python === undefined) {
    python = CANDIDATES.find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) ?? null;
  }
  return python;
}

export function torchAvailable(): boolean {
  return torchPython() !== null;
}

export interface TorchRow {
  name: string;
  imgPerSec: number;
  torch: string;
  stepSeconds?: number[];
  /** Process CPU seconds per step (torch_byol.py). */
  cpuSeconds?: number[];
}

export function torchTrainStep(threads: number, batch: number, width: number, input: [number, number, number], steps: number): TorchRow {
  const script = path.join(__dirname, '..', '..', 'bench', 'torch_resnet.py');
  const args = [script, String(threads), String(batch), String(width), String(input[0]), String(input[2]), String(steps)];
  const r = spawnSync(torchPython() ?? 'python3', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${torchPython()} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '{}';
  return JSON.parse(last) as TorchRow;
}

/** The BYOL step of examples/bench/torch_byol.py for a configuration of byol_configs.ts. */
export function torchByolStep(threads: number, config: string, batch: number, steps: number): TorchRow {
  const script = path.join(__dirname, '..', '..', 'bench', 'torch_byol.py');
  const args = [script, String(threads), config, String(batch), String(steps)];
  const r = spawnSync(torchPython() ?? 'python3', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${torchPython()} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '{}';
  return JSON.parse(last) as TorchRow;
}
