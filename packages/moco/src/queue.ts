import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '@selfsup/ssl';

export interface KeyQueueOptions {
  /** Queues side by side (MoCo's symmetric loss: one per view). */
  views: number;
  /** Keys each queue holds (K). */
  size: number;
  /** Key dimension. */
  dim: number;
  /**
   * `empty` (default): the queue starts with no keys (zero rows, which InfoNCE skips) and fills
   * as steps enqueue theirs. `random`: it starts with random unit vectors, as the MoCo reference
   * code does.
   */
  init?: QueueInit;
  /** Seed of the random initial keys (`init: random`). */
  seed?: number;
}

/** How a queue starts: empty, or with random unit vectors (see KeyQueueOptions.init). */
export type QueueInit = 'empty' | 'random';
export const QUEUE_INITS: readonly QueueInit[] = ['empty', 'random'];

/**
 * MoCo's dictionary: `views` ring buffers of `size` keys each, as two tf.Variables — `keys`
 * [views, size, dim] and `pointer` (int32 scalar, the row the next key is written to) — so a
 * checkpoint saves them (`exp.buffers()`) and a resume puts them back exactly. An empty slot is
 * an all-zero row (keys are unit vectors), so which slots are filled is part of `keys`. `enqueue`
 * writes a batch at the pointer, wrapping around the end, and moves the pointer: the oldest
 * keys are replaced first (FIFO). It uses tensor ops only, so a step reads nothing back from
 * the device. Nothing here is differentiated: neither variable is trainable.
 */
export class KeyQueue {
  readonly keys: tf.Variable;
  readonly pointer: tf.Variable;
  readonly views: number;
  readonly size: number;
  readonly dim: number;

  constructor({ views, size, dim, init = 'empty', seed = 0 }: KeyQueueOptions) {
    for (const [k, v] of Object.entries({ views, size, dim })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`KeyQueue: ${k} must be an integer ≥ 1, got ${v}`);
    }
    this.views = views;
    this.size = size;
    this.dim = dim;
    if (!QUEUE_INITS.includes(init)) throw new Error(`KeyQueue: init must be one of ${QUEUE_INITS.join(', ')}, got ${String(init)}`);
    const start = tf.tidy(() => {
      if (init === 'empty') return tf.zeros([views, size, dim]);
      const r = tf.randomNormal([views * size, dim], 0, 1, 'float32', seed) as tf.Tensor2D;
      return tf.reshape(l2Normalize(r), [views, size, dim]);
    });
    this.keys = tf.variable(start, false);
    start.dispose();
    this.pointer = tf.variable(tf.scalar(0, 'int32'), false);
  }

  /**
   * Writes `batch` ([views, n, dim], n ≤ size) at the pointer — row (pointer + i) mod size of
   * each queue gets key i of its view — and moves the pointer on by n, modulo size.
   */
  enqueue(batch: tf.Tensor3D): void {
    const [v, n, d] = batch.shape;
    if (batch.rank !== 3 || v !== this.views || d !== this.dim) {
      throw new Error(`KeyQueue.enqueue: expected keys of shape [${this.views}, n, ${this.dim}], got ${JSON.stringify(batch.shape)}`);
    }
    if (n > this.size) throw new Error(`KeyQueue.enqueue: ${n} keys do not fit a queue of ${this.size}; use a queue at least as large as the batch`);
    if (n === 0) return;
    const size = this.size;
    tf.tidy(() => {
      const ptr = this.pointer as tf.Scalar;
      // int32 throughout (a plain number would make tfjs's ops float32)
      const int = (v: number) => tf.scalar(v, 'int32');
      // row r of the queue takes key (r − pointer) mod size of the batch, when that is < n
      const rel = tf.sub(tf.range(0, size, 1, 'int32'), ptr);
      const idx = tf.where(tf.less(rel, int(0)), tf.add(rel, int(size)), rel) as tf.Tensor1D;
      // one gather from [queue ; batch] along the rows: row r takes batch row idx when idx < n,
      // else keeps its own key (rather than tf.where with a [1, size, 1] mask, which tiles the
      // mask to the queue's whole shape first: on wasm ~70 ms a step for two queues of 4096 × 128)
      const from = tf.where(tf.less(idx, int(n)), tf.add(idx, int(size)), tf.range(0, size, 1, 'int32')) as tf.Tensor1D;
      this.keys.assign(tf.gather(tf.concat([this.keys as tf.Tensor3D, batch], 1), from, 1));
      const next = tf.add(ptr, int(n));
      this.pointer.assign(tf.where(tf.greaterEqual(next, int(size)), tf.sub(next, int(size)), next));
    });
  }

  dispose(): void {
    tf.dispose([this.keys, this.pointer]);
  }
}
