import * as tf from '@tensorflow/tfjs';

/** Checks a label vector against the rows it labels and the class count; names what is wrong. */
export function checkLabels(labels: ArrayLike<number>, rows: number, numClasses: number, what: string): void {
  if (labels.length !== rows) {
    throw new Error(`${what}: ${labels.length} labels for ${rows} feature rows; they must match one to one`);
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new Error(`${what}: label ${y} at row ${i} is outside [0, ${numClasses}); check numClasses or the dataset's labels`);
    }
  }
}

/** Class count implied by the labels (max + 1), at least `atLeast`. */
export function inferNumClasses(atLeast: number, ...labelSets: Array<ArrayLike<number>>): number {
  let max = atLeast - 1;
  for (const labels of labelSets) for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  return max + 1;
}

/** Fraction of rows whose prediction equals the label. */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) hits++;
  return labels.length === 0 ? 0 : hits / labels.length;
}

/**
 * One-hot rows as float32. Casts instead of passing oneHot's dtype argument: the wasm backend
 * of tfjs 4.22 ignores that argument and writes int32 bits into a "float32" tensor (1 reads
 * as 1.4e-45), which silently breaks anything that multiplies the result.
 */
export function oneHotFloat(labels: tf.Tensor, numClasses: number): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(labels, numClasses), 'float32'));
}
