import { Adam, AdamW } from './adam';
import type { ExcludeFn } from './exclude';
import { LARS } from './lars';
import { SGD } from './sgd';
import type { SlotOptimizer } from './slot-optimizer';
import { UserError } from '@selfsup/core';

export const OPTIMIZER_NAMES = ['lars', 'sgd', 'adam', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export interface OptimizerConfig {
  name: OptimizerName;
  lr: number;
  /** lars, sgd. Default 0.9. */
  momentum?: number;
  /** Default 0 (adamw: 1e-2). */
  weightDecay?: number;
  /** lars, sgd. */
  nesterov?: boolean;
  /** lars trust coefficient η. Default 1e-3. */
  eta?: number;
  /** lars: solo-learn's `clip_lr`. */
  clipTrustRatio?: boolean;
  /** adam, adamw. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Variables exempt from weight decay (and LARS adaptation). lars default: biases and BN γ/β; others: none. */
  exclude?: ExcludeFn;
  /** Per-variable learning rate (see SlotOptimizerOptions.lrFor). */
  lrFor?: (variableName: string, lr: number) => number;
}

const ONLY: Record<OptimizerName, readonly (keyof OptimizerConfig)[]> = {
  lars: ['momentum', 'nesterov', 'eta', 'clipTrustRatio'],
  sgd: ['momentum', 'nesterov'],
  adam: ['beta1', 'beta2', 'epsilon'],
  adamw: ['beta1', 'beta2', 'epsilon'],
};
const SPECIFIC = [...new Set(Object.values(ONLY).flat())];

/**
 * Builds an optimizer from a config section. Options that the chosen optimizer does not
 * use are rejected rather than ignored, so `eta` on an Adam config is caught at start.
 */
export function createOptimizer(config: OptimizerConfig): SlotOptimizer {
  const name = config.name;
  if (!(OPTIMIZER_NAMES as readonly string[]).includes(name)) {
    throw new UserError(`Unknown optimizer "${String(name)}"; use one of ${OPTIMIZER_NAMES.join(', ')}.`);
  }
  const unused = SPECIFIC.filter((k) => config[k] !== undefined && !ONLY[name].includes(k));
  if (unused.length > 0) {
    throw new UserError(`Optimizer "${name}" does not take ${unused.join(', ')}; remove ${unused.length > 1 ? 'them' : 'it'} or pick another optimizer.`);
  }
  const { name: _name, ...opts } = config;
  switch (name) {
    case 'lars':
      return new LARS(opts);
    case 'sgd':
      return new SGD(opts);
    case 'adam':
      return new Adam(opts);
    case 'adamw':
      return new AdamW(opts);
  }
}
