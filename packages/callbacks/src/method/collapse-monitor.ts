import { IsBoolean, IsInt, IsNumber, IsOptional, IsString, Max, Min } from 'class-validator';
import { Callback, CallbackOrder, registerCallback, type Experiment } from '@selfsup/core';
import { resolveCallbackOptions } from '../eval/options';

export class CollapseMonitorOptions {
  /** Warn when z_std < fraction · 1/√d (healthy z_std ≈ 1/√d). */
  @IsNumber()
  @Min(0)
  @Max(1)
  fraction: number = 0.1;

  /** Consecutive checks under the threshold before warning (and stopping). */
  @IsInt()
  @Min(1)
  patience: number = 5;

  /** Read z_std every N steps (each read is one device sync). */
  @IsInt()
  @Min(1)
  checkEvery: number = 10;

  /** Stop training when it warns. */
  @IsBoolean()
  stop: boolean = false;

  /** Projection size d; unset: the output size of `model`. */
  @IsOptional()
  @IsInt()
  @Min(1)
  dim?: number;

  /** The model whose output z is (and whose size d is, unless `dim` is given). */
  @IsString()
  model: string = 'online_projector';

  /** The logged value read as z_std. */
  @IsString()
  metric: string = 'z_std';
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
  private readonly o: CollapseMonitorOptions;

  /** `opts`: the validated options, or a partial object that gets the same checks and defaults. */
  constructor(opts: Partial<CollapseMonitorOptions> = {}, private readonly warn: (msg: string) => void = (m) => console.warn(m)) {
    super();
    this.o = resolveCallbackOptions(CollapseMonitorOptions, opts, 'collapse-monitor');
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
