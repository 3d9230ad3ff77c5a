import * as tf from '@tensorflow/tfjs';
import { Rng } from '@selfsup/core';
import { featureRows, featureTensor, type FeatureArray } from './features';
import { l2NormalizeRows } from './knn';
import { accuracy, checkLabels, oneHotFloat } from './labels';

/** How frozen features are scaled before the probe sees them. */
export type ProbeNormalization = 'standardize' | 'l2' | 'none';

export interface LinearProbeOptions {
  /** Passes over the training features (default 100). */
  epochs?: number;
  /** Adam learning rate (default 0.01). */
  lr?: number;
  /** Mini-batch size; default (or ≥ the training rows) means full batch. */
  batchSize?: number;
  /** L2 penalty ½·wd·‖W‖² on the weights, not the bias (default 1e-4). */
  weightDecay?: number;
  /** 'standardize' (default: per-feature mean/std of the training rows), 'l2' (unit rows) or 'none'. */
  normalize?: ProbeNormalization;
  /** Seeds the mini-batch order (default 0); weights start at zero, so the run is deterministic. */
  seed?: number;
}

export interface LinearProbeArgs extends LinearProbeOptions {
  trainFeatures: tf.Tensor2D | FeatureArray;
  trainLabels: ArrayLike<number>;
  testFeatures: tf.Tensor2D | FeatureArray;
  testLabels?: ArrayLike<number>;
  numClasses: number;
}

export interface LinearProbeResult {
  /** Predicted class of each test row. */
  predictions: Int32Array;
  /** Test accuracy, when test labels were given. */
  accuracy?: number;
  /** Accuracy on the training rows (how separable the features are). */
  trainAccuracy: number;
  /** Mean cross-entropy (without the penalty) on the training rows after the last epoch. */
  trainLoss: number;
}

function positiveInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`linearProbe: ${name} must be a positive integer, got ${v}`);
}

/**
 * Multinomial logistic regression (softmax, Adam) on frozen features: the standard linear
 * evaluation of a self-supervised encoder. Trained on the train rows, scored on the test
 * rows; every tensor it creates is gone when it returns.
 */
export async function linearProbe(args: LinearProbeArgs): Promise<LinearProbeResult> {
  const epochs = args.epochs ?? 100;
  const lr = args.lr ?? 0.01;
  const wd = args.weightDecay ?? 1e-4;
  const normalize = args.normalize ?? 'standardize';
  const C = args.numClasses;
  positiveInt(epochs, 'epochs');
  positiveInt(C, 'numClasses');
  if (!(lr > 0)) throw new Error(`linearProbe: lr must be positive, got ${lr}`);
  if (!(wd >= 0)) throw new Error(`linearProbe: weightDecay must be ≥ 0, got ${wd}`);
  if (!['standardize', 'l2', 'none'].includes(normalize)) {
    throw new Error(`linearProbe: normalize must be 'standardize', 'l2' or 'none', got ${String(normalize)}`);
  }
  const n = featureRows(args.trainFeatures);
  const nTest = featureRows(args.testFeatures);
  if (n === 0) throw new Error('linearProbe: no training rows');
  checkLabels(args.trainLabels, n, C, 'linearProbe train');
  if (args.testLabels !== undefined) checkLabels(args.testLabels, nTest, C, 'linearProbe test');
  const batchSize = Math.min(args.batchSize ?? n, n);
  positiveInt(batchSize, 'batchSize');

  const keep: tf.Tensor[] = [];
  const track = <T extends tf.Tensor>(t: T): T => {
    keep.push(t);
    return t;
  };
  const optimizer = tf.train.adam(lr);
  try {
    const rawTrain = track(featureTensor(args.trainFeatures, 'linearProbe train features'));
    const rawTest = track(featureTensor(args.testFeatures, 'linearProbe test features'));
    const D = rawTrain.shape[1];
    if (rawTest.shape[1] !== D) {
      throw new Error(`linearProbe: test features have ${rawTest.shape[1]} dimensions, train features ${D}; both must come from the same encoder`);
    }
    const [xTrain, xTest] = tf.tidy(() => scale(rawTrain, rawTest, normalize)).map(track);
    const yTrain = track(tf.tidy(() => oneHotFloat(tf.tensor1d(Int32Array.from(args.trainLabels), 'int32'), C) as tf.Tensor2D));
    // tf.variable keeps its initial value alive as a separate tensor: build it inside tidy.
    const W = track(tf.tidy(() => tf.variable(tf.zeros([D, C]), true)));
    const b = track(tf.tidy(() => tf.variable(tf.zeros([C]), true)));
    const vars = [W, b] as tf.Variable[];
    const lossOf = (x: tf.Tensor2D, y: tf.Tensor2D) => {
      const ce = tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(x, W), b), undefined, undefined, tf.Reduction.MEAN) as tf.Scalar;
      return wd > 0 ? tf.add(ce, tf.mul(0.5 * wd, tf.sum(tf.square(W)))) as tf.Scalar : ce;
    };

    const rng = new Rng(args.seed ?? 0);
    const order = new Int32Array(n).map((_, i) => i);
    for (let epoch = 0; epoch < epochs; epoch++) {
      if (batchSize >= n) {
        tf.tidy(() => {
          optimizer.minimize(() => lossOf(xTrain as tf.Tensor2D, yTrain as tf.Tensor2D), false, vars);
        });
        continue;
      }
      shuffle(order, rng);
      for (let start = 0; start < n; start += batchSize) {
        const idx = order.slice(start, Math.min(n, start + batchSize));
        tf.tidy(() => {
          const it = tf.tensor1d(idx, 'int32');
          const xb = tf.gather(xTrain, it) as tf.Tensor2D;
          const yb = tf.gather(yTrain, it) as tf.Tensor2D;
          optimizer.minimize(() => lossOf(xb, yb), false, vars);
        });
      }
    }

    const [trainPred, testPred, ce] = tf.tidy(() => {
      const logits = tf.add(tf.matMul(xTrain, W), b);
      return [
        tf.argMax(logits, 1),
        tf.argMax(tf.add(tf.matMul(xTest, W), b), 1),
        tf.losses.softmaxCrossEntropy(yTrain, logits, undefined, undefined, tf.Reduction.MEAN),
      ];
    }).map(track);
    const trainPredictions = Int32Array.from(await trainPred.data());
    const predictions = Int32Array.from(await testPred.data());
    const trainLoss = (await ce.data())[0];
    const result: LinearProbeResult = { predictions, trainAccuracy: accuracy(trainPredictions, args.trainLabels), trainLoss };
    if (args.testLabels !== undefined) result.accuracy = accuracy(predictions, args.testLabels);
    return result;
  } finally {
    tf.dispose(keep);
    optimizer.dispose();
  }
}

/** Both sets scaled with statistics of the training rows only (no test leakage). */
function scale(train: tf.Tensor2D, test: tf.Tensor2D, how: ProbeNormalization): [tf.Tensor2D, tf.Tensor2D] {
  if (how === 'l2') return [l2NormalizeRows(train), l2NormalizeRows(test)];
  if (how === 'none') return [tf.clone(train), tf.clone(test)];
  const { mean, variance } = tf.moments(train, 0, true);
  // Constant features get std 1 instead of 0: they become 0 after centring rather than NaN.
  const std = tf.where(tf.greater(variance, 1e-12), tf.sqrt(variance), tf.onesLike(variance));
  return [tf.div(tf.sub(train, mean), std), tf.div(tf.sub(test, mean), std)];
}

function shuffle(a: Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
