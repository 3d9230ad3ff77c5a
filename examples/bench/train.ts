// Supervised ResNet-18 CIFAR training step in bare tfjs (tf.layers model, SGD momentum,
// softmax cross-entropy): images/s and effective GFLOP/s (3× the forward conv FLOPs).
import * as tf from '@tensorflow/tfjs';
import { resnet18Cifar, resnet18Flops } from './resnet';
import { installKernelProfiler } from './profiler';

export interface TrainRow {
  name: string;
  imgPerSec: number;
  gflops: number;
  stepSeconds: number[];
  batch: number;
  width: number;
  input: [number, number, number];
  tensorsBefore: number;
  tensorsAfter: number;
  rssMBBefore: number;
  rssMBAfter: number;
  profile?: { kernel: string; msPerStep: number; share: number; callsPerStep: number }[];
}

const rssMB = () => Math.round(process.memoryUsage().rss / 1e6);

export function benchTrainStep(opts: {
  width: number;
  input: [number, number, number];
  batch: number;
  steps: number;
  profile: boolean;
}): TrainRow {
  const { width, input, batch, steps } = opts;
  const model = resnet18Cifar({ width, inputShape: input, classes: 10 });
  const x = tf.randomNormal([batch, ...input]);
  const labels = tf.tidy(() => tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10));
  const opt = tf.train.momentum(0.05, 0.9);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = () => {
    const loss = tf.tidy(() =>
      opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true, vars) as tf.Scalar,
    );
    loss.dataSync();
    loss.dispose();
  };
  step(); // warm-up: kernel setup, optimizer slots
  const tensorsBefore = tf.memory().numTensors;
  const rssMBBefore = rssMB();
  const prof = opts.profile ? installKernelProfiler() : null;
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push((performance.now() - t0) / 1000);
  }
  const profile = prof?.rows(steps).slice(0, 15);
  prof?.uninstall();
  const tensorsAfter = tf.memory().numTensors;
  const rssMBAfter = rssMB();
  const med = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
  const row: TrainRow = {
    name: `resnet18-cifar w${width} ${input.join('×')} b${batch}`,
    imgPerSec: batch / med,
    gflops: (3 * resnet18Flops(width, input[0], input[2]) * batch) / med / 1e9,
    stepSeconds: times.map((t) => Number(t.toFixed(2))),
    batch,
    width,
    input,
    tensorsBefore,
    tensorsAfter,
    rssMBBefore,
    rssMBAfter,
    profile,
  };
  tf.dispose([x, labels]);
  opt.dispose();
  model.dispose();
  return row;
}
