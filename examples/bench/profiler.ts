// Exclusive wall time per kernel for a synchronous backend (wasm): wraps every kernel of
// the backend; time spent in kernels called from inside a kernel (selfsup's composite
// kernels) is charged to the inner kernel and shown as `Inner<Outer>`.
import * as tf from '@tensorflow/tfjs';

export interface KernelProfiler {
  reset(): void;
  /** Stop / restart counting (kernels still run); e.g. to profile one of two interleaved loops. */
  pause(): void;
  resume(): void;
  rows(steps: number): { kernel: string; msPerStep: number; share: number; callsPerStep: number }[];
  uninstall(): void;
}

export function installKernelProfiler(backendName = tf.getBackend()): KernelProfiler {
  const stats = new Map<string, { n: number; ms: number }>();
  const childMs: number[] = [];
  const names: string[] = [];
  let active = true;
  const byShape = new Set((process.env.SELFSUP_PROFILE_SHAPES ?? '').split(',').filter(Boolean));
  const originals = tf.getKernelsForBackend(backendName);
  for (const k of originals) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        if (!active) return inner(args);
        const t0 = performance.now();
        childMs.push(0);
        names.push(k.kernelName);
        try {
          return inner(args);
        } finally {
          const dt = performance.now() - t0;
          const children = childMs.pop() as number;
          names.pop();
          if (childMs.length) childMs[childMs.length - 1] += dt;
          let key = names.length ? `${k.kernelName}<${names[names.length - 1]}` : k.kernelName;
          // SELFSUP_PROFILE_SHAPES=Multiply,Add: those kernels' rows split by input shapes
          if (byShape.has(k.kernelName)) key += ' ' + Object.values(args.inputs).filter((t) => t !== undefined).map((t) => `[${(t as tf.TensorInfo).shape}]`).join('');
          const s = stats.get(key) ?? { n: 0, ms: 0 };
          s.n++;
          s.ms += dt - children;
          stats.set(key, s);
        }
      },
    });
  }
  return {
    reset: () => stats.clear(),
    pause: () => {
      active = false;
    },
    resume: () => {
      active = true;
    },
    rows(steps) {
      const total = [...stats.values()].reduce((a, s) => a + s.ms, 0) || 1;
      return [...stats.entries()]
        .sort((a, b) => b[1].ms - a[1].ms)
        .map(([kernel, s]) => ({ kernel, msPerStep: s.ms / steps, share: s.ms / total, callsPerStep: s.n / steps }));
    },
    uninstall() {
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, backendName);
        tf.registerKernel(k);
      }
    },
  };
}
