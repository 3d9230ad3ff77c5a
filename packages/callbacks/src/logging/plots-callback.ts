import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ArrayNotEmpty, IsArray, IsBoolean, IsInt, IsNotEmpty, IsOptional, IsString, Min } from 'class-validator';
import { Callback, CallbackOrder, lineChartSvg, readJsonl, registerCallback, svgToPng, writeFileAtomic, type CallbackInit } from '@selfsup/core';
import { resolveCallbackOptions } from '../eval/options';
import { MetricHistory, metricChart, plotFileStem } from './metric-series';
import { METRICS_JSONL } from './metrics-logger';
import { EventSubscriptions } from './observer';
import { resolveOutputDir, type LoggingExperiment } from './output-dir';

export class PlotsOptions {
  /** Output folder. Default: `<runDir>/plots`. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  dir?: string;

  /** Metrics to chart, one file each; those the run never logs are skipped. */
  @IsArray()
  @ArrayNotEmpty()
  @IsString({ each: true })
  metrics: string[] = ['loss', 'knn_acc', 'lr', 'tau', 'z_std'];

  /** Redraw every N epochs (and always at the end). */
  @IsInt()
  @Min(1)
  every = 1;

  /** Also write a PNG next to each SVG. */
  @IsBoolean()
  png = true;
}

/** Files of one chart. */
export interface PlotFiles {
  metric: string;
  svg: string;
  png?: string;
}

/**
 * Line charts of the training curves, `plots/<metric>.svg` (+ `.png`), redrawn at epoch
 * ends and at the end of the run (failed runs included: the curve up to a divergence is what
 * one wants to see). Step-level series come from the `log` events, epoch-level ones (knn_acc,
 * epoch means) from the epoch metrics. Each file is replaced atomically, so a viewer never
 * reads half a chart. On resume, the earlier part of the curves is read back from the run's
 * `metrics.jsonl` when there is one.
 */
@registerCallback('plots', {
  options: PlotsOptions,
  order: CallbackOrder.LOGGING,
  description: 'SVG and PNG line charts of loss, knn_acc (with knn_acc_target), lr, tau and z_std in <runDir>/plots',
})
export class PlotsCallback extends Callback {
  readonly options: PlotsOptions;
  readonly history = new MetricHistory();
  /** The folder being written (set at experimentStart). */
  dir: string | undefined;
  /** Files of the latest drawing, one entry per charted metric. */
  written: PlotFiles[] = [];
  private readonly subs: EventSubscriptions;

  constructor(options: Partial<PlotsOptions> = {}, init: CallbackInit = {}) {
    super(init);
    this.options = resolveCallbackOptions(PlotsOptions, options, this.name || 'plots');
    this.subs = new EventSubscriptions(this.name);
  }

  override async onExperimentStart(exp: LoggingExperiment): Promise<void> {
    this.subs.clear();
    this.history.clear();
    this.written = [];
    this.dir = undefined;
    this.dir = resolveOutputDir(exp, this.options.dir, this.name, 'plots');
    await fsp.mkdir(this.dir, { recursive: true });
    const rd = exp.run.runDir;
    const earlier = rd === undefined ? undefined : path.join(rd, METRICS_JSONL);
    if (earlier !== undefined && exp.state.globalStep > 0 && fs.existsSync(earlier)) {
      this.history.loadRows(readJsonl(earlier), exp.state.globalStep);
    }
    this.subs.on(exp, 'log', (e) => this.history.addStep(e.step, e.values));
    // The epochEnd event comes after every hook, so it carries what later callbacks added.
    this.subs.on(exp, 'epochEnd', (e) => this.history.setEpoch(e.epoch, exp.state.globalStep, e.metrics));
  }

  override async onEpochEnd(exp: LoggingExperiment): Promise<void> {
    const st = exp.state;
    // This hook runs before the epochEnd event: take what is known now (train means, kNN).
    this.history.setEpoch(st.epoch, st.globalStep, st.epochMetrics);
    if ((st.epoch + 1) % this.options.every === 0) await this.draw();
  }

  override async onExperimentEnd(): Promise<void> {
    this.subs.clear();
    if (this.dir !== undefined) await this.draw();
  }

  /** Writes every chart that has data; returns (and keeps in `written`) the files. */
  async draw(): Promise<PlotFiles[]> {
    const dir = this.dir;
    if (dir === undefined) throw new Error(`callback "${this.name}": draw() before experimentStart; there is no output folder yet`);
    const out: PlotFiles[] = [];
    for (const metric of this.options.metrics) {
      const spec = metricChart(metric, this.history);
      if (!spec) continue;
      const svg = lineChartSvg(spec);
      const stem = plotFileStem(metric);
      const files: PlotFiles = { metric, svg: path.join(dir, `${stem}.svg`) };
      await writeFileAtomic(files.svg, svg);
      if (this.options.png) {
        files.png = path.join(dir, `${stem}.png`);
        await svgToPng(svg, files.png);
      }
      out.push(files);
    }
    this.written = out;
    return out;
  }
}
