import * as path from 'node:path';
import { saveLayersModel, selectBackend } from '@selfsup/core';
import { stdio, useBackend, type Output } from './context';
import { loadEncoder, type EncoderChoice } from './encoder';

export interface ExportOptions {
  target: string;
  out: string;
  /** `online` or `target`; default: the run's choice (see LoadEncoderOptions). */
  encoder?: EncoderChoice;
  backend?: string;
  plugins?: string[];
  io?: Output;
}

/** `selfsup export`: writes the encoder as model.json + weights.bin, loadable by tf.loadLayersModel. */
export async function exportEncoder(opts: ExportOptions): Promise<string> {
  const io = opts.io ?? stdio;
  const { encoder, source, which } = await loadEncoder(
    opts.target,
    opts.plugins,
    (resolved) =>
      resolved
        ? useBackend(resolved, opts.backend, io.err)
        : selectBackend((opts.backend ?? 'auto') as Parameters<typeof selectBackend>[0], { log: io.err }),
    { encoder: opts.encoder },
  );
  try {
    const out = path.resolve(opts.out);
    await saveLayersModel(encoder, out);
    io.out(`exported ${which ? `the ${which} encoder of ` : ''}${source} → ${out} (model.json + weights.bin; load with tf.loadLayersModel)`);
    return out;
  } finally {
    encoder.dispose();
  }
}
