import type * as tf from '@tensorflow/tfjs';

/**
 * One batch. The consumer owns the tensors and must dispose them (`disposeBatch`), typically
 * right after the training step that used them.
 */
export interface ImageBatch {
  /** [N, H, W, C] float32, pixel values in [0, 1]. */
  images: tf.Tensor4D;
  /** [N] int32 class ids; absent for unlabeled datasets. */
  labels?: tf.Tensor1D;
  /** Position of each example in the dataset (0 ≤ index < size), e.g. to look up labels. */
  indices: Int32Array;
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffle the order (default false). The order is a function of (seed, epoch) only. */
  shuffle?: boolean;
  seed?: number;
  /** Epoch number (default 0): a resumed run asking for the same epoch sees the same order. */
  epoch?: number;
  /** Skip the first N batches of this epoch's order without decoding them (resume mid-epoch). */
  skipBatches?: number;
  /** Drop a last batch smaller than batchSize (default false). */
  dropRemainder?: boolean;
  /** Use only the first `limit` examples of the dataset (before shuffling): the same subset every epoch. */
  limit?: number;
}

/** A message sink for the one-line notices datasets print (which files were used, skipped images). */
export type DataLogFn = (message: string) => void;

export interface ImageDataset {
  readonly name: string;
  readonly size: number;
  /** [H, W, C] of every image a batch holds. */
  readonly imageShape: [number, number, number];
  readonly classNames?: string[];
  readonly hasLabels: boolean;
  /** One pass over the dataset (or its `limit` prefix) in the order BatchOptions define. */
  batches(opts: BatchOptions): AsyncIterable<ImageBatch>;
  /**
   * Batches in a full epoch for these options. `skipBatches` is not subtracted: a resumed
   * epoch still counts its steps from the start of the epoch.
   */
  numBatches(opts: BatchOptions): number;
  /** Labels of every example, by dataset index (only for labeled datasets). */
  labelsArray?(): Int32Array;
}

/** Disposes a batch's tensors. */
export function disposeBatch(batch: ImageBatch): void {
  batch.images.dispose();
  batch.labels?.dispose();
}
