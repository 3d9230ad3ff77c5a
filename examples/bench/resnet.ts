// ResNet-18 with the CIFAR stem (3×3 conv, stride 1, no max-pool), built from standard
// tf.layers so the benchmark measures what a user's LayersModel hits.
import * as tf from '@tensorflow/tfjs';

function convBn(x: tf.SymbolicTensor, filters: number, kernel: number, stride: number): tf.SymbolicTensor {
  const c = tf.layers
    .conv2d({ filters, kernelSize: kernel, strides: stride, padding: 'same', useBias: false, kernelInitializer: 'heNormal' })
    .apply(x) as tf.SymbolicTensor;
  return tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 }).apply(c) as tf.SymbolicTensor;
}

function basicBlock(x: tf.SymbolicTensor, cin: number, cout: number, stride: number): tf.SymbolicTensor {
  const relu = () => tf.layers.reLU();
  const h = relu().apply(convBn(x, cout, 3, stride)) as tf.SymbolicTensor;
  const y = convBn(h, cout, 3, 1);
  const shortcut = stride !== 1 || cin !== cout ? convBn(x, cout, 1, stride) : x;
  return relu().apply(tf.layers.add().apply([y, shortcut])) as tf.SymbolicTensor;
}

export function resnet18Cifar(opts: { width: number; inputShape: [number, number, number]; classes: number }): tf.LayersModel {
  const w = opts.width;
  const input = tf.input({ shape: opts.inputShape });
  let h = tf.layers.reLU().apply(convBn(input, w, 3, 1)) as tf.SymbolicTensor;
  const stages: [number, number, number][] = [[w, w, 1], [w, 2 * w, 2], [2 * w, 4 * w, 2], [4 * w, 8 * w, 2]];
  for (const [cin, cout, s] of stages) {
    h = basicBlock(h, cin, cout, s);
    h = basicBlock(h, cout, cout, 1);
  }
  h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: opts.classes }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** Forward multiply-add FLOPs (×2) per image of the convs and the classifier. */
export function resnet18Flops(width: number, size: number, channels: number, classes = 10): number {
  let f = 0;
  const conv = (hw: number, cin: number, cout: number, k: number) => {
    f += 2 * hw * hw * k * k * cin * cout;
  };
  conv(size, channels, width, 3);
  let hw = size;
  for (const [cin, cout, s] of [[width, width, 1], [width, 2 * width, 2], [2 * width, 4 * width, 2], [4 * width, 8 * width, 2]]) {
    const ho = Math.ceil(hw / s);
    conv(ho, cin, cout, 3);
    conv(ho, cout, cout, 3);
    if (s !== 1 || cin !== cout) conv(ho, cin, cout, 1);
    conv(ho, cout, cout, 3);
    conv(ho, cout, cout, 3);
    hw = ho;
  }
  return f + 2 * 8 * width * classes;
}
