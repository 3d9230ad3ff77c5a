import * as tf from '@tensorflow/tfjs';
import { disposeBatch, type ImageDataset } from '@selfsup/core';

/** A row-major feature matrix held in JS memory: `count` rows of `dim` floats. */
export interface FeatureArray {
  data: Float32Array;
  count: number;
  dim: number;
}

/** Features of a dataset (or its `limit` prefix), in dataset order. */
export interface ExtractedFeatures extends FeatureArray {
  /** Class ids by row; present when the dataset is labelled. */
  labels?: Int32Array;
  /** Dataset index of each row. */
  indices: Int32Array;
}

/**
 * What turns a batch of images into features: a Keras-style model (run with `predict`, i.e.
 * in inference mode, so batch norm uses its moving statistics and dropout is off) or a plain
 * function, e.g. {@link flattenPixels} for the raw-pixel baseline.
 */
export type FeatureExtractor = tf.LayersModel | ((images: tf.Tensor4D) => tf.Tensor);

export interface ExtractFeaturesOptions {
  /** Images per forward pass (default 256). */
  batchSize?: number;
  /** Use only the first `limit` examples of the dataset. */
  limit?: number;
  /** Name used in error messages (default: the model's name). */
  label?: string;
}

/** The identity encoder: each image's pixels as one feature row (the kNN-on-pixels baseline). */
export function flattenPixels(images: tf.Tensor4D): tf.Tensor2D {
  return tf.reshape(images, [images.shape[0], -1]);
}

function runExtractor(extractor: FeatureExtractor, images: tf.Tensor4D, batchSize: number, label: string): tf.Tensor {
  if (typeof extractor === 'function') return extractor(images);
  const out = extractor.predict(images, { batchSize });
  if (Array.isArray(out)) {
    tf.dispose(out);
    throw new Error(`${label}: the model has ${out.length} outputs; feature extraction needs a single-output encoder (pass the encoder sub-model, or a function picking one output)`);
  }
  return out;
}

/**
 * Runs `extractor` over `dataset` in order and copies the features into one Float32Array.
 * Each batch's tensors are disposed before the next is read, so at most one batch of
 * images and features lives on the backend at a time; the result holds no tensors.
 */
export async function extractFeatures(
  extractor: FeatureExtractor,
  dataset: ImageDataset,
  opts: ExtractFeaturesOptions = {},
): Promise<ExtractedFeatures> {
  const batchSize = opts.batchSize ?? 256;
  const label = opts.label ?? (typeof extractor === 'function' ? extractor.name || 'feature extractor' : `model "${extractor.name}"`);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`extractFeatures: batchSize must be a positive integer, got ${batchSize}`);
  }
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) {
    throw new Error(`extractFeatures: limit must be a positive integer, got ${opts.limit}`);
  }
  const count = Math.min(opts.limit ?? dataset.size, dataset.size);
  if (count === 0) throw new Error(`extractFeatures: dataset "${dataset.name}" is empty`);

  let data: Float32Array | undefined;
  let dim = 0;
  const labels = dataset.hasLabels ? new Int32Array(count) : undefined;
  const indices = new Int32Array(count);
  let row = 0;
  for await (const batch of dataset.batches({ batchSize, limit: count })) {
    let feats: tf.Tensor | undefined;
    try {
      const n = batch.images.shape[0];
      if (row + n > count) throw new Error(`extractFeatures: dataset "${dataset.name}" yielded more than the ${count} examples asked for`);
      feats = runExtractor(extractor, batch.images, batchSize, label);
      if (feats.rank < 2 || feats.shape[0] !== n) {
        throw new Error(`${label}: expected features of shape [${n}, ...] for a batch of ${n} images, got [${feats.shape}]`);
      }
      const rowDim = feats.size / n;
      if (data === undefined) {
        dim = rowDim;
        data = new Float32Array(count * dim);
      } else if (rowDim !== dim) {
        throw new Error(`${label}: feature size changed from ${dim} to ${rowDim} between batches`);
      }
      const values = (await feats.data()) as Float32Array;
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) {
          const at = batch.indices[Math.floor(i / dim)];
          throw new Error(`${label}: non-finite feature (${values[i]}) for example ${at} of dataset "${dataset.name}"; the model has probably diverged (lower the learning rate)`);
        }
      }
      data.set(values, row * dim);
      indices.set(batch.indices, row);
      if (labels) {
        if (!batch.labels) throw new Error(`extractFeatures: dataset "${dataset.name}" says it is labelled but yielded a batch without labels`);
        labels.set(await batch.labels.data(), row);
      }
      row += n;
    } finally {
      feats?.dispose();
      disposeBatch(batch);
    }
  }
  if (row !== count || data === undefined) {
    throw new Error(`extractFeatures: dataset "${dataset.name}" yielded ${row} examples, expected ${count}`);
  }
  return { data, count, dim, labels, indices };
}

/** A feature matrix as a tensor (the caller disposes it) plus its shape. */
export function featureTensor(features: tf.Tensor2D | FeatureArray, what: string): tf.Tensor2D {
  if (features instanceof tf.Tensor) {
    if (features.rank !== 2) throw new Error(`${what} must be a 2-D [count, dim] tensor, got shape [${(features as tf.Tensor).shape}]`);
    return tf.clone(features);
  }
  if (features.data.length !== features.count * features.dim) {
    throw new Error(`${what}: data has ${features.data.length} values, expected count × dim = ${features.count} × ${features.dim}`);
  }
  return tf.tensor2d(features.data, [features.count, features.dim], 'float32');
}

/** Number of rows of a feature matrix. */
export function featureRows(features: tf.Tensor2D | FeatureArray): number {
  return features instanceof tf.Tensor ? features.shape[0] : features.count;
}
