/** Decides whether a variable (by its tf.Variable name) skips weight decay / LARS adaptation. */
export type ExcludeFn = (variableName: string) => boolean;

// tfjs names weights `<layer>/<weight>`, appending `_<n>` when a name was already taken
// in the process; the weight's own name is the last segment without that suffix.
const weightName = (variableName: string) => variableName.slice(variableName.lastIndexOf('/') + 1).replace(/_\d+$/, '');

const BIAS_OR_NORM = new Set(['bias', 'gamma', 'beta', 'moving_mean', 'moving_variance']);

/**
 * Default LARS exclusion: biases and batch-norm (also layer-norm) scale/offset, matched
 * by the tfjs weight names `bias`, `gamma`, `beta`. Equivalent to solo-learn's
 * `p.ndim == 1` rule for every standard tfjs layer.
 */
export const isBiasOrNormParam: ExcludeFn = (variableName) => BIAS_OR_NORM.has(weightName(variableName));

/** Excludes nothing (torch.optim's behaviour). */
export const excludeNothing: ExcludeFn = () => false;
