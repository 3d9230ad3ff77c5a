/**
 * Where a callback runs relative to the others at the same event: lower runs first, ties
 * keep registration order. The gaps let users slot their own callbacks between ours
 * (e.g. `CallbackOrder.EVALUATION + 5` runs after kNN evaluation, before checkpointing).
 */
export const CallbackOrder = {
  MODEL_INIT: 0,
  WEIGHT_UPDATE: 100,
  LOSS: 200,
  METRICS: 300,
  SCHEDULER: 400,
  EVALUATION: 500,
  CHECKPOINT: 600,
  LOGGING: 700,
  STOPPING: 800,
  EXTERNAL: 900,
} as const;

export type CallbackOrderName = keyof typeof CallbackOrder;

/**
 * When `fit` resumes from a checkpoint (`resumeFrom`, `exp.restore`), the loop restores it
 * during experimentStart, after the hooks ordered below this (the MODEL_INIT band, where
 * callbacks such as target-init build the models the checkpoint holds) and before the rest.
 */
export const RESTORE_ORDER = CallbackOrder.WEIGHT_UPDATE;
