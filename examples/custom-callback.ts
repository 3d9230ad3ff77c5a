/**
 * Writing your own callback: a class registered by name with `@registerCallback` (so a YAML
 * config can list it, its options validated by class-validator), hooks chosen with
 * decorators and slotted between the built-in callbacks by order, a one-off functional hook,
 * and `getState`/`setState` so its state travels in checkpoints and survives a resume.
 *
 * `best-metric` runs at epoch end at EVALUATION + 5: after `knn-eval` (EVALUATION) has
 * logged knn_acc, before `checkpoint` (CHECKPOINT) saves — so the checkpoint holds the best
 * value including this epoch. Its step counter runs at batch end right after the EMA update.
 *
 *   node examples/dist/custom-callback.js [--epochs 2] [--stepsPerEpoch 3] [--out DIR]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IsIn, IsNotEmpty, IsString } from 'class-validator';
import * as tf from '@tensorflow/tfjs';
import {
  Callback,
  CallbackOrder,
  CallbackRunner,
  FashionMnistDataset,
  onBatchEnd,
  onEpochEnd,
  plugins,
  readCheckpointMeta,
  registerCallback,
  selectBackend,
  type BackendPreference,
  type Experiment,
  type HookEvent,
  type ImageDataset,
} from '@selfsup/core';
import { CheckpointCallback, EmaUpdateCallback, KnnEvalCallback, TargetInitCallback } from '@selfsup/callbacks';
import { ByolExperiment } from '@selfsup/byol';
import { runExample } from './example-options';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any>;

/** What a YAML entry `- name: best-metric` may set; unknown keys and bad values fail at start. */
export class BestMetricOptions {
  /** Epoch metric to track (another callback must log it before EVALUATION + 5). */
  @IsString()
  @IsNotEmpty()
  metric = 'knn_acc';

  @IsIn(['max', 'min'])
  mode: 'max' | 'min' = 'max';
}

export interface BestMetricState {
  best: number | null;
  bestEpoch: number | null;
  steps: number;
}

@registerCallback('best-metric', {
  options: BestMetricOptions,
  order: CallbackOrder.EVALUATION + 5,
  description: 'tracks the best value of an epoch metric (default knn_acc) and logs it as best_<metric>',
})
export class BestMetricCallback extends Callback {
  readonly options: BestMetricOptions;
  state: BestMetricState = { best: null, bestEpoch: null, steps: 0 };
  /** `event:method` of every hook call, in call order (what the example prints). */
  readonly calls: string[] = [];
  /** tf.memory().numTensors at each batch end: flat when nothing leaks. */
  readonly tensorCounts: number[] = [];

  constructor(options: Partial<BestMetricOptions> = {}) {
    super();
    this.options = Object.assign(new BestMetricOptions(), options);
  }

  /** Right after the EMA update (WEIGHT_UPDATE), before schedulers, loggers and stoppers. */
  @onBatchEnd(CallbackOrder.WEIGHT_UPDATE + 1)
  countStep(exp: AnyExperiment): void {
    this.calls.push('batchEnd:countStep');
    this.state.steps++;
    this.tensorCounts.push(tf.memory().numTensors);
    if (exp.state.globalStep !== this.state.steps) {
      // Holds across a resume too: setState restored `steps` with the global step.
      throw new Error(`best-metric: counted ${this.state.steps} steps but the experiment is at step ${exp.state.globalStep}`);
    }
  }

  /** Class-level order (EVALUATION + 5): knn-eval has run, the checkpoint has not. */
  @onEpochEnd()
  trackBest(exp: AnyExperiment): void {
    this.calls.push('epochEnd:trackBest');
    const { metric, mode } = this.options;
    const value = exp.state.epochMetrics[metric];
    if (value === undefined) {
      throw new Error(`no "${metric}" in this epoch's metrics (${Object.keys(exp.state.epochMetrics).join(', ')}); register the callback that logs it (knn-eval for knn_acc) or set the metric option`);
    }
    const better = this.state.best === null || (mode === 'max' ? value > this.state.best : value < this.state.best);
    if (better) this.state = { ...this.state, best: value, bestEpoch: exp.state.epoch };
    exp.logMetric(`best_${metric}`, this.state.best!);
  }

  override getState(): Record<string, unknown> {
    return { ...this.state };
  }

  override setState(state: Record<string, unknown>): void {
    const s = state as unknown as BestMetricState;
    this.state = { best: s.best ?? null, bestEpoch: s.bestEpoch ?? null, steps: s.steps ?? 0 };
  }
}

export const defaults = { epochs: 2, stepsPerEpoch: 3, limit: 256, batchSize: 32, backend: 'auto', out: '' };
export type Options = typeof defaults;

function buildRun(train: ImageDataset, val: ImageDataset, batchSize: number, checkpointDir: string) {
  const exp = new ByolExperiment({
    batchSize,
    model: { width: 1 / 16, projectorHiddenDim: 128, projectorDim: 32, predictorHiddenDim: 128 },
    optimizer: { name: 'sgd', lr: 0.05, scaleLr: false },
  });
  exp.datasets.set('train', train).set('val', val);
  const best = new BestMetricCallback({ metric: 'knn_acc', mode: 'max' });
  const lines: string[] = [];
  // A one-off functional hook: prints after everything else at epoch end (LOGGING order).
  const epochLine = onEpochEnd({ name: 'epoch-line', order: CallbackOrder.LOGGING })((e) => {
    best.calls.push('epochEnd:epoch-line');
    const m = e.state.epochMetrics;
    const line = `epoch ${e.state.epoch}: loss ${m.loss.toFixed(4)}  knn_acc ${m.knn_acc.toFixed(4)}  best_knn_acc ${m.best_knn_acc.toFixed(4)}`;
    lines.push(line);
    console.log(line);
  });
  const callbacks: Callback[] = [
    // registration order does not matter: the orders do
    epochLine,
    new CheckpointCallback({ dir: checkpointDir, monitor: 'knn_acc', mode: 'max' }, { log: () => {} }),
    best,
    new KnnEvalCallback({ every: 1, bankLimit: 256, queryLimit: 128 }),
    new EmaUpdateCallback({ tauBase: 0.99, schedule: 'constant' }),
    new TargetInitCallback(),
  ];
  exp.addCallback(...callbacks);
  return { exp, best, callbacks, lines };
}

function plannedOrder(callbacks: Callback[], event: HookEvent): string[] {
  return new CallbackRunner(callbacks).hooksFor(event).map((h) => `${h.callback.name}${h.method === 'fn' ? '' : `.${h.method}`}(${h.order})`);
}

export async function main(opts: Partial<Options> = {}) {
  const { epochs, stepsPerEpoch, limit, batchSize, backend } = { ...defaults, ...opts };
  await selectBackend(backend as BackendPreference);
  const out = opts.out || fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-custom-callback-'));
  const checkpointDir = path.join(out, 'checkpoints');
  const train = await FashionMnistDataset.load({ source: 'embedded', split: 'train', limit });
  const val = await FashionMnistDataset.load({ source: 'embedded', split: 'test', limit: 128 });

  console.log(`registered: best-metric — ${plugins.callback('best-metric').description}`);
  const first = buildRun(train, val, batchSize, checkpointDir);
  const planned = { batchEnd: plannedOrder(first.callbacks, 'batchEnd'), epochEnd: plannedOrder(first.callbacks, 'epochEnd') };
  console.log(`batchEnd hooks run as: ${planned.batchEnd.join(' → ')}`);
  console.log(`epochEnd hooks run as: ${planned.epochEnd.join(' → ')}`);

  const data = ({ epoch, skipBatches }: { epoch: number; skipBatches: number }) =>
    train.batches({ batchSize, shuffle: true, seed: 0, epoch, skipBatches, dropRemainder: true });
  await first.exp.fit(data, { epochs, stepsPerEpoch, logEvery: 0 });
  const saved = (await readCheckpointMeta(path.join(checkpointDir, 'last'))).callbacks['best-metric'];
  console.log(`checkpoint ${path.join(checkpointDir, 'last')} holds best-metric state ${JSON.stringify(saved)}`);
  first.exp.dispose();

  // Resume for one more epoch: the loop restores the models, every callback's state, the
  // optimizer, the generators and its own position (after target-init has built the target).
  const second = buildRun(train, val, batchSize, checkpointDir);
  await second.exp.fit(data, { epochs: epochs + 1, stepsPerEpoch, logEvery: 0, resumeFrom: checkpointDir });
  console.log(`after resuming: best-metric state ${JSON.stringify(second.best.getState())} (steps continue from ${(saved as { steps: number }).steps})`);
  second.exp.dispose();
  return { planned, first, second, saved: saved as unknown as BestMetricState, checkpointDir };
}

if (require.main === module) runExample(main, defaults);
