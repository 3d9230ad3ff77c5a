// The BYOL configurations the benchmark knows, by the name `--byol` takes.
export interface ByolBenchConfig {
  name: string;
  width: number;
  input: [number, number, number];
  batch: number;
  /** [hidden, output] of projector and predictor. */
  heads: [number, number];
  optimizer: { name: 'lars'; lr: number; momentum: number; weightDecay: number; eta: number; clipTrustRatio: boolean };
  /** ByolExperiment's optimizer.microBatches: the batch in this many parts (bounded heap). */
  microBatches?: number;
}

// examples/configs/byol-fashion-mnist.yaml's optimizer (solo-learn's CIFAR LARS)
const LARS = { name: 'lars', lr: 1.0, momentum: 0.9, weightDecay: 1e-5, eta: 0.02, clipTrustRatio: true } as const;

export const BYOL_CONFIGS: Record<string, (batch: number) => ByolBenchConfig> = {
  /** The README's main job: examples/configs/byol-fashion-mnist.yaml. */
  main: (batch) => ({ name: `main-job r18 w0.125 28×28×1 b${batch} heads 1024/128`, width: 0.125, input: [28, 28, 1], batch, heads: [1024, 128], optimizer: LARS }),
  'r18-w0.5': (batch) => ({ name: `r18 w0.5 32×32×3 b${batch} heads 4096/256`, width: 0.5, input: [32, 32, 3], batch, heads: [4096, 256], optimizer: LARS }),
  'r18-w0.5-gray': (batch) => ({ name: `r18 w0.5 28×28×1 b${batch} heads 4096/256`, width: 0.5, input: [28, 28, 1], batch, heads: [4096, 256], optimizer: LARS }),
  // Both views of 128 images at full width need ~2× the 4 GB heap: 4 micro-batches of 32.
  'r18-w1': (batch) => ({ name: `r18 w1 32×32×3 b${batch} heads 4096/256 (4 micro-batches)`, width: 1, input: [32, 32, 3], batch, heads: [4096, 256], optimizer: LARS, microBatches: 4 }),
  'r18-w1-gray': (batch) => ({ name: `r18 w1 28×28×1 b${batch} heads 4096/256 (4 micro-batches)`, width: 1, input: [28, 28, 1], batch, heads: [4096, 256], optimizer: LARS, microBatches: 4 }),
};
