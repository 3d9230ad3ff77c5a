import { IsBoolean, IsInt, IsNumber, IsOptional, IsString, Max, Min } from 'class-validator';
import { Callback, CallbackOrder, registerCallback, type Experiment } from '@selfsup/core';

export class CollapseMonitorOptions {
  /** Warn when z_std < fraction · 1/√d (healthy z_std ≈ 1/√d). */
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  fraction?: number;

  /** Consecutive checks under the threshold before warning (and stopping). */
  @IsOptional()
  @IsInt()
  @Min(1)
  patience?: number;

  /** Read z_std every N steps (each read is one device sync). */
  @IsOptional()
  @IsInt()
  @Min(1)
  checkEvery?: number;

  @IsOptional()
  @IsBoolean()
  stop?: boolean;

  /** Projection size d; default: the output size of `model`. */
  @IsOptional()
  @IsInt()
  @Min(1)
  dim?: number;

  @IsOptional()
  @IsString()
  model?: string;

  @IsOptional()
  @IsString()
  metric?: string;
}

/**
 * Representation collapse shows as the std of L2-normalised projections falling to 0
 * (healthy ≈ 1/√d; lightly's docs, solo-learn's z_std). Warns once, optionally stops.
 */
@registerCallback('collapse-monitor', { order: CallbackOrder.STOPPING, options: CollapseMonitorOptions })
export class CollapseMonitorCallback extends Callback {
  private threshold = 0;
  private below = 0;
  warned = false;
  private readonly o: Required<Omit<CollapseMonitorOptions, 'dim'>> & { dim?: number };

  constructor(opts: CollapseMonitorOptions = {}, private readonly warn: (msg: string) => void = (m) => console.warn(m)) {
    super();
    this.o = {
      fraction: opts.fraction ?? 0.1,
      patience: opts.patience ?? 5,
      checkEvery: opts.checkEvery ?? 10,
      stop: opts.stop ?? false,
      model: opts.model ?? 'online_projector',
      metric: opts.metric ?? 'z_std',
      dim: opts.dim,
    };
  }

  override onExperimentStart(exp: Experiment<unknown, unknown>): void {
    let d = this.o.dim;
    if (d === undefined) {
      const m = exp.models.get(this.o.model);
      const shape = m?.outputs[0]?.shape;
      d = shape ? (shape[shape.length - 1] ?? undefined) : undefined;
      if (!d) throw new Error(`collapse-monitor: cannot tell the projection size: no model "${this.o.model}"; set the dim option`);
    }
    this.threshold = this.o.fraction / Math.sqrt(d);
    this.below = 0;
  }

  override async onBatchEnd(exp: Experiment<unknown, unknown>): Promise<void> {
    if (exp.state.globalStep % this.o.checkEvery !== 0 || !exp.state.logs.has(this.o.metric)) return;
    const v = (await exp.state.logs.get(this.o.metric))!;
    this.below = v < this.threshold ? this.below + 1 : 0;
    if (this.below >= this.o.patience) {
      const msg = `collapse-monitor: ${this.o.metric} = ${v.toExponential(3)} < ${this.threshold.toExponential(3)} (${this.o.fraction}/√d) for ${this.below} checks at step ${exp.state.globalStep}: the representation is collapsing (lower the LR, raise τ, check the augmentations)`;
      if (!this.warned) this.warn(msg);
      this.warned = true;
      if (this.o.stop) exp.stop(msg);
    }
  }
}
