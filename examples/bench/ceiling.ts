// `bench --only ceiling`: the fastest operations wasm has — XNNPACK GEMM and forward 3×3
// conv — next to the same operations in PyTorch (examples/bench/ceiling.py) with the same
// thread count. A training step is mostly such operations plus slower ones (gradient convs,
// elementwise passes), so selfsup/PyTorch for a whole step cannot exceed these ratios
// unless selfsup's other operations were faster than PyTorch's.
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { median } from './timing';
import { torchPython } from './torch';

export interface CeilingRow {
  name: string;
  gflops: number;
  torchGflops?: number;
  ratio?: number;
}

export const CEILING_CONVS: [number, number][] = [
  [32, 32],
  [16, 64],
  [8, 128],
  [4, 256],
];

export function benchCeiling(threads: number, reps: number, withTorch: boolean): CeilingRow[] {
  const rows: CeilingRow[] = [];
  const add = (name: string, flop: number, make: () => tf.Tensor[], fn: (ts: tf.Tensor[]) => tf.Tensor) => {
    const ins = make();
    rows.push({ name, gflops: flop / median(() => fn(ins), reps) / 1e6 });
    tf.dispose(ins);
  };
  for (const [m, k, n] of [[1024, 1024, 1024], [256, 4096, 4096]]) {
    add(`matmul ${m}x${k}x${n}`, 2 * m * k * n, () => [tf.randomNormal([m, k]), tf.randomNormal([k, n])], ([a, b]) => tf.matMul(a, b));
  }
  // the 3×3 convs of ResNet-18 width 0.5 on 32×32 inputs, batch 2 × 128 (BYOL's two views)
  for (const [h, c] of CEILING_CONVS) {
    const b = 256;
    add(`conv3x3 ${c}->${c} ${h}x${h} b${b}`, 2 * b * h * h * 9 * c * c,
      () => [tf.randomNormal([b, h, h, c]), tf.randomNormal([3, 3, c, c], 0, 0.1)],
      ([x, w]) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'));
  }
  if (withTorch && torchPython()) {
    const script = path.join(__dirname, '..', '..', 'bench', 'ceiling.py');
    const r = spawnSync(torchPython()!, [script, String(threads), String(reps)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${torchPython()} ${script} failed (exit ${r.status}):\n${r.stderr}`);
    const torchRows = JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as { name: string; gflops: number }[];
    for (const row of rows) {
      const t = torchRows.find((x) => x.name === row.name);
      if (t) {
        row.torchGflops = t.gflops;
        row.ratio = row.gflops / t.gflops;
      }
    }
  }
  return rows;
}
