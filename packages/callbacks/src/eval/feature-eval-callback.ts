import type * as tf from '@tensorflow/tfjs';
import { IsInt, IsNotEmpty, IsOptional, IsString, Min } from 'class-validator';
import { Callback, type CallbackInit, type Experiment, type ImageDataset } from '@selfsup/core';
import type { DatasetEvalResult } from './evaluate';
import { resolveCallbackOptions } from './options';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyExperiment = Experiment<any, any>;

/** Options shared by every callback that runs an encoder over a dataset. */
export class FeatureEvalOptions {
  /** Run every N epochs (and always at the last one). */
  @IsInt()
  @Min(1)
  every = 1;

  /** Key of the encoder in `exp.models`. */
  @IsString()
  @IsNotEmpty()
  model = 'online_encoder';

  /** Images per forward pass while extracting features. */
  @IsInt()
  @Min(1)
  batchSize = 256;
}

/** Options of evaluations that need a labelled bank (train) set and a query (val) set. */
export class BankQueryEvalOptions extends FeatureEvalOptions {
  /** Role in `exp.datasets` of the labelled set the classifier learns from. */
  @IsString()
  @IsNotEmpty()
  bank = 'train';

  /** Role in `exp.datasets` of the labelled set it is scored on. */
  @IsString()
  @IsNotEmpty()
  query = 'val';

  /** Use only the first N bank examples (the same ones every time). */
  @IsOptional()
  @IsInt()
  @Min(1)
  bankLimit?: number;

  /** Use only the first N query examples. */
  @IsOptional()
  @IsInt()
  @Min(1)
  queryLimit?: number;
}

/**
 * Base of the evaluation callbacks: validated options, "every N epochs and at the end"
 * timing, and the checks that name the missing model or dataset before training starts.
 */
export abstract class FeatureEvalCallback<O extends FeatureEvalOptions> extends Callback {
  readonly options: O;

  protected constructor(cls: new () => O, given: Partial<O> | undefined, init: CallbackInit) {
    super(init);
    this.options = resolveCallbackOptions(cls, given, this.name || cls.name);
  }

  /** True at every `every`-th epoch, at the planned last one, and when the run is about to stop. */
  protected shouldRun(exp: AnyExperiment): boolean {
    const st = exp.state;
    const run = exp.run;
    if ((st.epoch + 1) % this.options.every === 0) return true;
    if (st.epoch >= run.epochs - 1) return true;
    if (st.stopTraining) return true;
    const total = run.totalSteps;
    return total !== undefined && st.globalStep >= total;
  }

  protected requireModel(exp: AnyExperiment): tf.LayersModel {
    const name = this.options.model;
    const model = exp.models.get(name);
    if (!model) {
      const have = [...exp.models.keys()];
      throw new Error(
        `callback "${this.name}": the experiment has no model "${name}" (models: ${have.join(', ') || 'none'}). ` +
          `Set the callback's \`model\` option to the encoder's key${have.length ? `, e.g. model: ${have[0]}` : ''}.`,
      );
    }
    return model;
  }

  protected requireDataset(exp: AnyExperiment, role: string, option: string, labelled: boolean): ImageDataset {
    const ds = exp.datasets.get(role);
    if (!ds) {
      const have = [...exp.datasets.keys()];
      throw new Error(
        `callback "${this.name}": no dataset with role "${role}" (datasets: ${have.join(', ') || 'none'}). ` +
          `Configure a ${labelled ? 'labelled ' : ''}"${role}" split in the data section (or exp.datasets.set('${role}', dataset)), ` +
          `or set the callback's \`${option}\` option to an existing role.`,
      );
    }
    if (labelled && !ds.hasLabels) {
      throw new Error(
        `callback "${this.name}": dataset "${ds.name}" (role "${role}") has no labels, and this evaluation needs them. ` +
          `Use a labelled dataset for "${role}" or point the \`${option}\` option at one.`,
      );
    }
    return ds;
  }
}

/**
 * An evaluation that scores the encoder on a labelled `query` set using a labelled `bank`
 * (kNN, linear probe): checks both at experimentStart, runs at the scheduled epoch ends,
 * and keeps the latest result in `last`.
 */
export abstract class BankQueryEvalCallback<O extends BankQueryEvalOptions> extends FeatureEvalCallback<O> {
  /** The most recent evaluation and the epoch it ran at. */
  last: (DatasetEvalResult & { epoch: number }) | undefined;

  /** Runs the evaluation; `report` logs what it found. */
  protected abstract evaluate(encoder: tf.LayersModel, bank: ImageDataset, query: ImageDataset): Promise<DatasetEvalResult>;

  protected abstract report(exp: AnyExperiment, result: DatasetEvalResult): void;

  override onExperimentStart(exp: AnyExperiment): void {
    this.requireModel(exp);
    this.requireDataset(exp, this.options.bank, 'bank', true);
    this.requireDataset(exp, this.options.query, 'query', true);
  }

  override async onEpochEnd(exp: AnyExperiment): Promise<void> {
    if (!this.shouldRun(exp)) return;
    const o = this.options;
    const r = await this.evaluate(this.requireModel(exp), this.requireDataset(exp, o.bank, 'bank', true), this.requireDataset(exp, o.query, 'query', true));
    this.report(exp, r);
    this.last = { ...r, epoch: exp.state.epoch };
  }
}
