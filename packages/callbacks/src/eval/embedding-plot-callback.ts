import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { IsBoolean, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Min } from 'class-validator';
import { CallbackOrder, pca2, registerCallback, scatterSvg, svgToPng, writeFileAtomic, type CallbackInit, type ImageDataset } from '@selfsup/core';
import { extractFeatures, type FeatureExtractor } from './features';
import { FeatureEvalCallback, FeatureEvalOptions, type AnyExperiment } from './feature-eval-callback';

export class EmbeddingPlotOptions extends FeatureEvalOptions {
  /** Role in `exp.datasets` whose features are plotted (labelled: coloured by class). */
  @IsString()
  @IsNotEmpty()
  dataset = 'val';

  /** Plot the first N examples (a PCA of a few thousand points reads best). */
  @IsInt()
  @Min(1)
  limit = 2000;

  /** Output folder. Default: `<runDir>/plots` when the experiment has a `runDir`; otherwise required. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  dir?: string;

  /** Also write a PNG next to each SVG. */
  @IsBoolean()
  png = true;

  /** File name stem: `<prefix>-epoch-<E>.svg`, E counted from 1 (as the progress lines count epochs). */
  @IsString()
  @Matches(/^[\w.-]+$/, { message: 'prefix must be a plain file-name stem (letters, digits, _ . -)' })
  prefix = 'embedding';
}

/** What an embedding plot wrote. */
export interface EmbeddingPlotFiles {
  svg: string;
  png?: string;
  /** Fraction of the variance the two plotted axes explain. */
  explained: [number, number];
}

/**
 * Writes a 2-D PCA of an encoder's features on `dataset`, coloured by class, as SVG (and PNG)
 * to `<dir>/<stem>.svg`. `title` goes on top of the plot.
 */
export async function writeEmbeddingPlot(
  extractor: FeatureExtractor,
  dataset: ImageDataset,
  out: { dir: string; stem: string; title: string; png?: boolean; limit?: number; batchSize?: number },
): Promise<EmbeddingPlotFiles> {
  const f = await extractFeatures(extractor, dataset, { limit: out.limit, batchSize: out.batchSize });
  const p = pca2(f.data, f.count, f.dim);
  const total = totalVariance(f.data, f.count, f.dim);
  const explained: [number, number] = total > 0 ? [p.variances[0] / total, p.variances[1] / total] : [0, 0];
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const points = Array.from({ length: f.count }, (_, i) => ({
    x: p.coords[2 * i],
    y: p.coords[2 * i + 1],
    label: f.labels ? f.labels[i] : 'unlabelled',
  }));
  const svg = scatterSvg({
    title: out.title,
    xLabel: `PC1 (${pct(explained[0])} of variance)`,
    yLabel: `PC2 (${pct(explained[1])} of variance)`,
    points,
    classNames: dataset.classNames,
  });
  await fsp.mkdir(out.dir, { recursive: true });
  const svgPath = path.join(out.dir, `${out.stem}.svg`);
  await writeFileAtomic(svgPath, svg);
  const files: EmbeddingPlotFiles = { svg: svgPath, explained };
  if (out.png ?? true) {
    files.png = path.join(out.dir, `${out.stem}.png`);
    await svgToPng(svg, files.png);
  }
  return files;
}

/** Sum of the per-feature sample variances (the trace of the covariance PCA decomposes). */
function totalVariance(data: Float32Array, n: number, d: number): number {
  let total = 0;
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += data[i * d + j];
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (data[i * d + j] - mean) ** 2;
    total += v / Math.max(1, n - 1);
  }
  return total;
}

/**
 * Embedding plot at epoch end (every N epochs and at the last one). Runs in LOGGING order,
 * after evaluation and checkpointing: a failed plot write never costs a checkpoint.
 */
@registerCallback('embedding-plot', {
  options: EmbeddingPlotOptions,
  order: CallbackOrder.LOGGING,
  description: '2-D PCA of encoder features on the val set, coloured by class, as SVG and PNG',
})
export class EmbeddingPlotCallback extends FeatureEvalCallback<EmbeddingPlotOptions> {
  /** Files written so far, oldest first. */
  readonly written: EmbeddingPlotFiles[] = [];

  constructor(options: Partial<EmbeddingPlotOptions> = {}, init: CallbackInit = {}) {
    super(EmbeddingPlotOptions, options, init);
  }

  private outDir(exp: AnyExperiment): string {
    if (this.options.dir !== undefined) return path.resolve(this.options.dir);
    const rd = exp.run.runDir;
    if (rd !== undefined) return path.join(rd, 'plots');
    throw new Error(`callback "${this.name}": no output folder; set the callback's \`dir\` option (e.g. dir: runs/plots)`);
  }

  override onExperimentStart(exp: AnyExperiment): void {
    this.requireModel(exp);
    this.requireDataset(exp, this.options.dataset, 'dataset', false);
    this.outDir(exp);
  }

  override async onEpochEnd(exp: AnyExperiment): Promise<void> {
    if (!this.shouldRun(exp)) return;
    const o = this.options;
    const ds = this.requireDataset(exp, o.dataset, 'dataset', false);
    // 1-based, as the progress lines count (`epoch 3/3` → embedding-epoch-3)
    const epoch = exp.state.epoch + 1;
    const files = await writeEmbeddingPlot(this.requireModel(exp), ds, {
      dir: this.outDir(exp),
      stem: `${o.prefix}-epoch-${epoch}`,
      title: `PCA of "${o.model}" features on ${ds.name}, epoch ${epoch}`,
      png: o.png,
      limit: o.limit,
      batchSize: o.batchSize,
    });
    this.written.push(files);
  }
}
