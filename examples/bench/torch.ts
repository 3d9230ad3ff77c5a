// --compare-torch: the same supervised step in PyTorch CPU with the same thread count.
import { spawnSync } from 'child_process';
import * as path from 'path';

export function torchAvailable(): boolean {
  return spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

export interface TorchRow {
  name: string;
  imgPerSec: number;
  torch: string;
}

export function torchTrainStep(threads: number, batch: number, width: number, input: [number, number, number], steps: number): TorchRow {
  const script = path.join(__dirname, '..', '..', 'bench', 'torch_resnet.py');
  const args = [script, String(threads), String(batch), String(width), String(input[0]), String(input[2]), String(steps)];
  const r = spawnSync('python3', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '{}';
  return JSON.parse(last) as TorchRow;
}
