import * as tf from '@tensorflow/tfjs';
import { countBatches, epochBatches, resolveBatchOptions } from './batch-order';
import type { BatchOptions, ImageBatch, ImageDataset } from './types';

export interface InMemoryImageDatasetInit {
  name: string;
  /** uint8 pixels, [size, H, W, C] row-major. */
  pixels: Uint8Array;
  imageShape: [number, number, number];
  labels?: Int32Array;
  classNames?: string[];
}

/**
 * Images held as uint8 (4× smaller than float32); each batch is converted to float32 in
 * [0, 1] on demand, so only one batch of floats exists at a time.
 */
export class InMemoryImageDataset implements ImageDataset {
  readonly name: string;
  readonly size: number;
  readonly imageShape: [number, number, number];
  readonly classNames?: string[];
  readonly hasLabels: boolean;
  private readonly pixels: Uint8Array;
  private readonly labels?: Int32Array;

  constructor(init: InMemoryImageDatasetInit) {
    const [h, w, c] = init.imageShape;
    const perImage = h * w * c;
    if (!(perImage > 0) || init.pixels.length % perImage !== 0) {
      throw new Error(`dataset "${init.name}": ${init.pixels.length} pixel bytes is not a whole number of ${h}x${w}x${c} images`);
    }
    this.name = init.name;
    this.size = init.pixels.length / perImage;
    if (init.labels && init.labels.length !== this.size) {
      throw new Error(`dataset "${init.name}": ${this.size} images but ${init.labels.length} labels`);
    }
    this.pixels = init.pixels;
    this.imageShape = [h, w, c];
    this.labels = init.labels;
    this.classNames = init.classNames;
    this.hasLabels = init.labels !== undefined;
  }

  numBatches(opts: BatchOptions): number {
    return countBatches(this.size, resolveBatchOptions(opts, this.name));
  }

  labelsArray(): Int32Array {
    if (!this.labels) throw new Error(`dataset "${this.name}" has no labels`);
    return this.labels.slice();
  }

  /** uint8 pixels of one image (a view, not a copy). */
  imagePixels(index: number): Uint8Array {
    const n = this.imageShape[0] * this.imageShape[1] * this.imageShape[2];
    return this.pixels.subarray(index * n, (index + 1) * n);
  }

  async *batches(opts: BatchOptions): AsyncGenerator<ImageBatch> {
    const resolved = resolveBatchOptions(opts, this.name);
    for (const indices of epochBatches(this.size, resolved)) {
      yield this.makeBatch(indices);
    }
  }

  private makeBatch(indices: Int32Array): ImageBatch {
    const [h, w, c] = this.imageShape;
    const per = h * w * c;
    const out = new Float32Array(indices.length * per);
    for (let b = 0; b < indices.length; b++) {
      const src = indices[b] * per;
      const dst = b * per;
      for (let i = 0; i < per; i++) out[dst + i] = this.pixels[src + i] / 255;
    }
    const copy = Int32Array.from(indices);
    const images = tf.tensor4d(out, [indices.length, h, w, c], 'float32');
    if (!this.labels) return { images, indices: copy };
    const labels = new Int32Array(indices.length);
    for (let b = 0; b < indices.length; b++) labels[b] = this.labels[indices[b]];
    return { images, labels: tf.tensor1d(labels, 'int32'), indices: copy };
  }
}
