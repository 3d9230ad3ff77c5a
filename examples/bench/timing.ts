import * as tf from '@tensorflow/tfjs';

/** Median wall time (ms) of `fn` after one warm-up call; results are read back and disposed. */
export function median(fn: () => tf.Tensor | tf.Tensor[], reps: number): number {
  const once = () => {
    const t0 = performance.now();
    const out = fn();
    const list = Array.isArray(out) ? out : [out];
    list.forEach((t) => t.dataSync());
    const dt = performance.now() - t0;
    tf.dispose(list);
    return dt;
  };
  once();
  const ts = Array.from({ length: reps }, once).sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}
