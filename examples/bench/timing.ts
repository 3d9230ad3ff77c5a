import * as tf from '@tensorflow/tfjs';

/**
 * Median wall time (ms) of `fn` after one warm-up call; results are disposed. Completion is
 * forced by reading one element of each result (through a slice), not the whole tensor: a
 * whole-tensor read copies the output out of the wasm heap (1–2 ms for 8 MB), which a training
 * step never does and the PyTorch side of the comparison does not time either. (Figures in
 * docs/performance.md before 2026-12-06's third round included that copy.)
 */
export function median(fn: () => tf.Tensor | tf.Tensor[], reps: number): number {
  const once = () => {
    const t0 = performance.now();
    const out = fn();
    const list = Array.isArray(out) ? out : [out];
    list.forEach((t) => {
      if (t.size === 0) return;
      const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
      one.dataSync();
      one.dispose();
    });
    const dt = performance.now() - t0;
    tf.dispose(list);
    return dt;
  };
  once();
  const ts = Array.from({ length: reps }, once).sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}
