import { IsBoolean, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Min } from 'class-validator';

/** Options of the `checkpoint` callback (the YAML entry minus `name`). */
export class CheckpointOptions {
  /** Where checkpoints go. Default: `<runDir>/checkpoints` when the experiment has a `runDir`; otherwise required. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  dir?: string;

  /**
   * Epoch metric that decides `best/`: any metric a callback logs, e.g. `knn_acc`,
   * `knn_acc_target` (the target encoder's kNN accuracy, logged by knn-eval when the method
   * has a target network), `linear_acc`, `loss`.
   */
  @IsString()
  @IsNotEmpty()
  monitor = 'knn_acc';

  /** Whether a larger (`max`) or smaller (`min`) monitored value is better. */
  @IsIn(['max', 'min'])
  mode: 'max' | 'min' = 'max';

  /** Also keep `epoch-<E>/` every N epochs (E counts from 1, as the progress line does: `every: 5` writes epoch-5, epoch-10, …). */
  @IsOptional()
  @IsInt()
  @Min(1)
  every?: number;

  /** With `every`: keep only the K most recent `epoch-<E>/` directories. */
  @IsOptional()
  @IsInt()
  @Min(1)
  keepLast?: number;

  /** Write `last/` after every epoch (and when a run stops mid-epoch). */
  @IsBoolean()
  saveLast = true;
}
