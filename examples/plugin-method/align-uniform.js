// A selfsup method written the way a third party would: plain CommonJS JavaScript, no build
// step, using only the published package names (@selfsup/core, @selfsup/ssl). Listing this file
// under `plugins:` in a config (or `--plugin`) imports it, and importing it registers
// `method: align-uniform`. Not one of the monorepo's workspaces: here the package names resolve
// through the repository's node_modules, as they would from a user's own node_modules.
//
// align-uniform (Wang & Isola, ICML 2020, "Understanding contrastive representation learning
// through alignment and uniformity on the hypersphere"), on L2-normalised projections:
//   align   = mean_i ‖z1_i − z2_i‖²                                   (α = 2)
//   uniform = ½ (U(z1) + U(z2)),  U(z) = log mean_{i≠j} exp(−2 ‖z_i − z_j‖²)   (t = 2)
//   loss    = alignment · align + uniformity · uniform               (weights 1, 1)
'use strict';
require('reflect-metadata');
const tf = require('@tensorflow/tfjs');
const { IsNumber, Min } = require('class-validator');
const { registerMethod, Section } = require('@selfsup/core');
const { LarsOptimizerConfig, l2Normalize, splitViews, SslAugmentConfig, SslExperiment, SslModelConfig, SslOptimizerConfig, zStd } = require('@selfsup/ssl');

/** log mean over i ≠ j of exp(−t‖z_i − z_j‖²), for rows z_i of [n, d] (n ≥ 2). */
function uniformity(z, t = 2) {
  return tf.tidy(() => {
    const n = z.shape[0];
    const sq = tf.sum(tf.square(z), 1);
    const d2 = tf.relu(tf.sub(tf.add(tf.expandDims(sq, 1), tf.expandDims(sq, 0)), tf.mul(tf.matMul(z, z, false, true), 2)));
    const logits = tf.sub(tf.mul(d2, -t), tf.mul(tf.eye(n), 1e9)); // the diagonal (i = j) out
    return tf.sub(tf.logSumExp(logits), Math.log(n * (n - 1)));
  });
}

/** The two terms and the weighted loss for a pair of views [n, d] (normalised here). */
function alignUniformTerms(z1, z2, weights = {}) {
  const { alignment = 1, uniformity: wU = 1 } = weights;
  if (z1.rank !== 2 || z2.rank !== 2 || z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1] || z1.shape[0] < 2) {
    throw new Error(`alignUniformTerms: both views must be [batch ≥ 2, dim] with equal shapes, got ${JSON.stringify(z1.shape)} and ${JSON.stringify(z2.shape)}.`);
  }
  return tf.tidy(() => {
    const a = l2Normalize(z1);
    const b = l2Normalize(z2);
    const align = tf.mean(tf.sum(tf.square(tf.sub(a, b)), 1));
    const uniform = tf.mul(tf.add(uniformity(a), uniformity(b)), 0.5);
    const loss = tf.add(tf.mul(align, alignment), tf.mul(uniform, wU));
    return { loss, align, uniform };
  });
}

// Config sections. Without TypeScript's decorator syntax, a decorator is a plain call.
class AlignUniformLossConfig {
  alignment = 1;
  uniformity = 1;
}
for (const key of ['alignment', 'uniformity']) {
  IsNumber()(AlignUniformLossConfig.prototype, key);
  Min(0)(AlignUniformLossConfig.prototype, key);
}

class AlignUniformSectionsConfig {
  model = new SslModelConfig();
  augment = SslAugmentConfig.absent();
  optimizer = new LarsOptimizerConfig();
  loss = new AlignUniformLossConfig();
}
Section(() => SslModelConfig)(AlignUniformSectionsConfig.prototype, 'model');
Section(() => SslAugmentConfig)(AlignUniformSectionsConfig.prototype, 'augment');
Section(() => SslOptimizerConfig)(AlignUniformSectionsConfig.prototype, 'optimizer');
Section(() => AlignUniformLossConfig)(AlignUniformSectionsConfig.prototype, 'loss');

/** encoder → projector on both views; align + uniformity. Logs loss, z_std, au_align, au_uniform, lr. */
class AlignUniformExperiment extends SslExperiment {
  constructor(config = {}, init = {}) {
    super(config, init, AlignUniformSectionsConfig);
  }

  get lossConfig() {
    return this.sections.loss;
  }

  trainStep(batch) {
    const weights = this.lossConfig;
    return this.twoViewStep(batch, (both, n) => {
      const z = this.project(both);
      const [z1, z2] = splitViews(z, n);
      const t = alignUniformTerms(z1, z2, weights);
      return { loss: t.loss, logs: { z_std: zStd(z), au_align: t.align, au_uniform: t.uniform } };
    });
  }
}
registerMethod('align-uniform', {
  config: AlignUniformSectionsConfig,
  description: 'align-uniform (plugin): alignment + uniformity on the hypersphere (Wang & Isola 2020)',
})(AlignUniformExperiment);

module.exports = { alignUniformTerms, uniformity, AlignUniformExperiment, AlignUniformLossConfig, AlignUniformSectionsConfig };
