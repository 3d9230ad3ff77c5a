// The `quality-clock` callback that `npm run quality` adds to the run (as a plugin, so the run
// directory resumes with plain `selfsup train --resume` too). It
// - at a fresh start, scores the kNN baselines (raw pixels, the untrained encoder) with the
//   knn-eval callback's settings and writes them to <runDir>/quality-baselines.json, so they
//   survive a kill and a resume;
// - writes the PyTorch recipe of the live experiment to <runDir>/quality-recipe.json;
// - logs train_seconds (cumulative time in training steps) and elapsed_seconds (cumulative
//   wall clock of the fit, evaluation included) at every epoch end, before the checkpoint, and
//   keeps both across a resume (getState/setState);
// - prints one line per epoch: `epoch 2/10: knn 0.8312 (target 0.8350), 7.1 min`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IsOptional, IsString } from 'class-validator';
import { Callback, CallbackOrder, onEpochEnd, onEpochStart, onExperimentStart, registerCallback, writeFileAtomicSync, type CallbackInit, type Experiment } from '@selfsup/core';
import { evaluateKnn, flattenPixels } from '@selfsup/callbacks';
import { recipeFromExperiment, RecipeError } from './recipe';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any>;

export const BASELINES_FILE = 'quality-baselines.json';
export const RUN_RECIPE_FILE = 'quality-recipe.json';

export interface BaselinesJson {
  rawPixels: number;
  untrained: number;
  bank: number;
  queries: number;
}

export class QualityClockOptions {
  /** Identifies the `npm run quality` command that started the run (config, overrides, data). */
  @IsOptional()
  @IsString()
  fingerprint?: string;

  /** The folder of the IDX files, for the recipe. */
  @IsOptional()
  @IsString()
  dataDir?: string;
}

interface KnnLike {
  name: string;
  options: { k: number; temperature: number; batchSize: number; bankLimit?: number; queryLimit?: number; model: string; bank: string; query: string };
}

@registerCallback('quality-clock', { order: CallbackOrder.EVALUATION + 50, options: QualityClockOptions, description: 'npm run quality: baselines, recipe, train/elapsed seconds per epoch' })
export class QualityClockCallback extends Callback {
  trainSeconds = 0;
  elapsedSeconds = 0;
  private segmentStart = 0;
  private segmentBase = 0;
  private epochStart = 0;

  constructor(
    readonly options: QualityClockOptions = {},
    init: CallbackInit = {},
  ) {
    super(init);
  }

  // after target-init, the checkpoint restore (MODEL_INIT + 10), ema and lr-schedule
  @onExperimentStart(CallbackOrder.EVALUATION + 50)
  async start(exp: AnyExperiment): Promise<void> {
    const runDir = exp.runDir;
    const knn = exp.callbacks.find((c) => c.name === 'knn-eval') as unknown as KnnLike | undefined;
    if (runDir && knn && exp.state.globalStep === 0) {
      const o = knn.options;
      const bank = exp.datasets.get(o.bank);
      const query = exp.datasets.get(o.query);
      const encoder = exp.models.get(o.model);
      if (bank && query && encoder) {
        process.stderr.write('quality: kNN baselines (raw pixels, untrained encoder) ...\n');
        const opts = { k: o.k, temperature: o.temperature, batchSize: o.batchSize, bankLimit: o.bankLimit, queryLimit: o.queryLimit };
        const raw = await evaluateKnn(flattenPixels, bank, query, opts);
        const rnd = await evaluateKnn(encoder, bank, query, opts);
        const b: BaselinesJson = { rawPixels: raw.top1, untrained: rnd.top1, bank: raw.bankSize, queries: raw.querySize };
        writeFileAtomicSync(path.join(runDir, BASELINES_FILE), `${JSON.stringify(b, null, 2)}\n`);
        process.stderr.write(`quality: raw pixels ${b.rawPixels.toFixed(4)}, untrained encoder ${b.untrained.toFixed(4)} (bank ${b.bank}, queries ${b.queries})\n`);
      }
    }
    if (runDir) this.writeRecipe(exp, runDir);
    this.segmentStart = Date.now();
    this.segmentBase = this.elapsedSeconds;
  }

  private writeRecipe(exp: AnyExperiment, runDir: string): void {
    let threads = 1;
    try {
      threads = Number(JSON.parse(fs.readFileSync(path.join(runDir, 'env.json'), 'utf8')).threads) || 1;
    } catch {
      // env.json is written by `selfsup train`; elsewhere the recipe says 1 thread
    }
    const bank = exp.datasets.get('train') as { source?: { dir?: string } } | undefined;
    const dataDir = this.options.dataDir ?? bank?.source?.dir ?? '';
    const file = path.join(runDir, RUN_RECIPE_FILE);
    try {
      const recipe = recipeFromExperiment(exp, exp.callbacks, (exp as unknown as { resolvedConfig: Parameters<typeof recipeFromExperiment>[2] }).resolvedConfig, { threads, dataDir });
      writeFileAtomicSync(file, `${JSON.stringify(recipe, null, 2)}\n`);
    } catch (err) {
      if (!(err instanceof RecipeError)) throw err;
      // not comparable with PyTorch: say why in the file --compare-torch reads
      writeFileAtomicSync(file, `${JSON.stringify({ error: err.message })}\n`);
    }
  }

  @onEpochStart()
  markEpochStart(): void {
    this.epochStart = Date.now();
  }

  // before knn-eval: the epoch's training steps are done
  @onEpochEnd(CallbackOrder.EVALUATION - 1)
  markTrainEnd(): void {
    this.trainSeconds += (Date.now() - this.epochStart) / 1000;
  }

  // after knn-eval, before the checkpoint saves the epoch
  @onEpochEnd(CallbackOrder.EVALUATION + 50)
  logTimes(exp: AnyExperiment): void {
    this.elapsedSeconds = this.segmentBase + (Date.now() - this.segmentStart) / 1000;
    exp.logMetric('train_seconds', this.trainSeconds);
    exp.logMetric('elapsed_seconds', this.elapsedSeconds);
    const m = exp.state.epochMetrics;
    const f = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));
    const target = m.knn_acc_target !== undefined ? ` (target ${f(m.knn_acc_target)})` : '';
    process.stderr.write(`epoch ${exp.state.epoch + 1}/${exp.state.epochs}: knn ${f(m.knn_acc)}${target}, ${(this.elapsedSeconds / 60).toFixed(1)} min\n`);
  }

  override getState(): Record<string, unknown> {
    return { trainSeconds: this.trainSeconds, elapsedSeconds: this.elapsedSeconds };
  }

  override setState(state: Record<string, unknown>): void {
    if (typeof state.trainSeconds === 'number') this.trainSeconds = state.trainSeconds;
    if (typeof state.elapsedSeconds === 'number') this.elapsedSeconds = state.elapsedSeconds;
  }
}
