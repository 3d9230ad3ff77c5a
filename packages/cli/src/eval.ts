import { evaluateKnn, evaluateLinearProbe } from '@selfsup/callbacks';
import { UsageError } from './args';
import { openData, stdio, useBackend, type Output } from './context';
import { loadEncoder, type EncoderChoice } from './encoder';

export interface EvalOptions {
  /** A run directory, a checkpoint directory or an exported encoder directory (inside a run). */
  target: string;
  knn?: boolean;
  linear?: boolean;
  /** `online` or `target`; default: the run's choice (see LoadEncoderOptions). */
  encoder?: EncoderChoice;
  backend?: string;
  plugins?: string[];
  io?: Output;
}

export interface EvalResult {
  knn?: { top1: number; top5?: number };
  linear?: { top1: number };
}

/** `selfsup eval`: kNN and/or linear-probe accuracy of a trained encoder on the run's data. */
export async function evaluate(opts: EvalOptions): Promise<EvalResult> {
  const io = opts.io ?? stdio;
  const { encoder, source, which, resolved } = await loadEncoder(
    opts.target,
    opts.plugins,
    async (r) => {
      if (!r) throw new UsageError(`${opts.target}: eval needs the run's config.resolved.yaml (to know the data); pass the run directory`);
      await useBackend(r, opts.backend, io.err);
    },
    { encoder: opts.encoder },
  );
  try {
    if (!resolved) throw new Error('unreachable: checked before loading');
    const data = await openData(resolved, io.err);
    if (!data.val) throw new UsageError('eval needs labelled evaluation data: the run config has no val: section');
    const doKnn = opts.knn || !opts.linear;
    const out: EvalResult = {};
    io.out(`encoder: ${source}${which ? ` (${which})` : ''}`);
    if (doKnn) {
      const r = await evaluateKnn(encoder, data.train, data.val);
      out.knn = { top1: r.top1, top5: r.top5 };
      io.out(`knn_acc ${r.top1.toFixed(4)}${r.top5 !== undefined ? `  knn_top5 ${r.top5.toFixed(4)}` : ''}  (k=20, T=0.07, bank ${r.bankSize}, queries ${r.querySize})`);
    }
    if (opts.linear) {
      const r = await evaluateLinearProbe(encoder, data.train, data.val);
      out.linear = { top1: r.top1 };
      io.out(`linear_acc ${r.top1.toFixed(4)}  (logistic regression on frozen features, train ${r.bankSize}, test ${r.querySize})`);
    }
    return out;
  } finally {
    encoder.dispose();
  }
}
