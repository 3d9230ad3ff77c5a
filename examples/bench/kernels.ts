// GFLOP/s of forward conv, input gradient (dx) and weight gradient (dW) on the
// ResNet-18 CIFAR layer shapes, through the kernels the backend runs in training (those
// registered: selfsup's wasm kernels, or oneDNN's with native kernels on).
import * as tf from '@tensorflow/tfjs';
import { median } from './timing';

const LAYERS: [string, number, number, number, number, number][] = [
  // name, H, CI, CO, K, stride
  ['stem 3→64', 32, 3, 64, 3, 1],
  ['64→64', 32, 64, 64, 3, 1],
  ['64→128 s2', 32, 64, 128, 3, 2],
  ['1×1 64→128 s2', 32, 64, 128, 1, 2],
  ['128→128', 16, 128, 128, 3, 1],
  ['128→256 s2', 16, 128, 256, 3, 2],
  ['256→256', 8, 256, 256, 3, 1],
  ['256→512 s2', 8, 256, 512, 3, 2],
  ['512→512', 4, 512, 512, 3, 1],
];

export interface KernelRow {
  layer: string;
  gflop: number;
  fwd: number;
  dx: number;
  dW: number;
}

export function benchKernels(batch: number, reps: number): KernelRow[] {
  const rows: KernelRow[] = [];
  for (const [layer, h, ci, co, k, s] of LAYERS) {
    const x = tf.randomNormal([batch, h, h, ci]) as tf.Tensor4D;
    const w = tf.randomNormal([k, k, ci, co], 0, 0.1) as tf.Tensor4D;
    const oh = Math.ceil(h / s);
    const dy = tf.randomNormal([batch, oh, oh, co]) as tf.Tensor4D;
    const flop = 2 * batch * oh * oh * k * k * ci * co;
    const rate = (fn: () => tf.Tensor) => flop / median(fn, reps) / 1e6;
    const attrs = { strides: s, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
    rows.push({
      layer,
      gflop: flop / 1e9,
      fwd: rate(() => tf.conv2d(x, w, s, 'same')),
      dx: rate(() => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape }) as tf.Tensor),
      dW: rate(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape }) as tf.Tensor),
    });
    tf.dispose([x, w, dy]);
  }
  return rows;
}
