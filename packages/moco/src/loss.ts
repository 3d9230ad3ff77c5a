import * as tf from '@tensorflow/tfjs';
import { l2Normalize, logSumExpRows, stopGradient } from '@selfsup/ssl';

/** What one InfoNCE direction gives: the loss and the mean cosine of the queries with their positive and with the queue. */
export interface InfoNceTerms {
  loss: tf.Scalar;
  /** Mean over rows of cos(q, k⁺). */
  pos: tf.Scalar;
  /** Mean over rows and filled queue entries of q̄·n (the entries are unit vectors: a cosine); 0 while the queue is empty. */
  neg: tf.Scalar;
}

/**
 * MoCo's InfoNCE, one direction (He et al. 2020; v2: Chen et al. 2020): for each query row i,
 * the cross-entropy of softmax([q̄ᵢ·k̄ᵢ, q̄ᵢ·n₁, …, q̄ᵢ·n_K] / T) at index 0 — its key k⁺ is the
 * positive, the rows of `queue` the negatives — averaged over the rows. q and k are
 * L2-normalised here; the queue is used as given (it holds normalised keys), except that an
 * all-zero row is an empty slot and takes no part (see KeyQueue: a queue starts empty). The
 * key and the queue pass through a stop-gradient: no gradient reaches the key encoder or the
 * queue.
 */
export function infoNceLoss(q: tf.Tensor2D, k: tf.Tensor2D, queue: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const r = infoNceTerms(q, k, queue, temperature);
    tf.dispose([r.pos, r.neg]);
    return r.loss;
  });
}

/** InfoNCE's loss and the mean cosines it logs (see {@link infoNceLoss}). */
export function infoNceTerms(q: tf.Tensor2D, k: tf.Tensor2D, queue: tf.Tensor2D, temperature: number): InfoNceTerms {
  if (q.rank !== 2 || k.rank !== 2 || q.shape[0] !== k.shape[0] || q.shape[1] !== k.shape[1]) {
    throw new Error(`infoNceLoss: queries and keys must be [batch, dim] with equal shapes, got ${JSON.stringify(q.shape)} and ${JSON.stringify(k.shape)}.`);
  }
  if (queue.rank !== 2 || queue.shape[1] !== q.shape[1]) {
    throw new Error(`infoNceLoss: the queue must be [size, ${q.shape[1]}], got ${JSON.stringify(queue.shape)}.`);
  }
  if (!(temperature > 0)) throw new Error(`infoNceLoss: temperature must be > 0, got ${temperature}.`);
  return tf.tidy(() => {
    const n = q.shape[0];
    const qn = l2Normalize(q);
    const kn = l2Normalize(stopGradient(k));
    const negatives = stopGradient(queue);
    // 1 for a filled slot (a unit vector), 0 for an empty one (all zeros); step: an op with a (zero) gradient
    const filled = tf.step(tf.sub(tf.sum(tf.square(negatives), 1), 0.5)); // [K]
    const pos = tf.sum(tf.mul(qn, kn), 1, true); // [N, 1]
    const neg = tf.matMul(qn, negatives, false, true); // [N, K]
    // an empty slot's logit is pushed to −1e9: exp underflows to 0, and so does its gradient
    const negLogits = tf.sub(tf.div(neg, temperature), tf.mul(tf.sub(1, filled), 1e9));
    const logits = tf.concat([tf.div(pos, temperature), negLogits], 1);
    const loss = tf.mean(tf.sub(logSumExpRows(logits as tf.Tensor2D), tf.div(tf.squeeze(pos, [1]), temperature))) as tf.Scalar;
    const negMean = tf.div(tf.sum(tf.mul(neg, filled)), tf.maximum(tf.mul(tf.sum(filled), n), 1)) as tf.Scalar;
    return { loss, pos: tf.mean(pos) as tf.Scalar, neg: negMean };
  });
}

/**
 * The symmetric MoCo v2 loss (solo-learn's MoCo v2+): ½·InfoNCE(q₁, k₂, queue of view 2's keys)
 * + ½·InfoNCE(q₂, k₁, queue of view 1's keys). `queues`: [2, K, dim], row 0 the keys of view 1,
 * row 1 those of view 2 (each view's negatives come from the same augmentation as its
 * positive). Returns the loss and the mean positive and negative cosines over both directions.
 */
export function symmetricMocoLoss(q1: tf.Tensor2D, q2: tf.Tensor2D, k1: tf.Tensor2D, k2: tf.Tensor2D, queues: tf.Tensor3D, temperature: number): InfoNceTerms {
  if (queues.rank !== 3 || queues.shape[0] !== 2) throw new Error(`symmetricMocoLoss: queues must be [2, size, dim], got ${JSON.stringify(queues.shape)}.`);
  return tf.tidy(() => {
    const [queue1, queue2] = tf.unstack(queues) as [tf.Tensor2D, tf.Tensor2D];
    const a = infoNceTerms(q1, k2, queue2, temperature);
    const b = infoNceTerms(q2, k1, queue1, temperature);
    const half = (x: tf.Scalar, y: tf.Scalar) => tf.mul(tf.add(x, y), 0.5) as tf.Scalar;
    return { loss: half(a.loss, b.loss), pos: half(a.pos, b.pos), neg: half(a.neg, b.neg) };
  });
}
