import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Experiment, lineChartSvg, niceTicks, type StepLogs } from '@selfsup/core';
import { EmbeddingPlotCallback } from '../src/eval';
import { MetricHistory, metricChart } from '../src';
import { patternDataset } from './eval-helpers';
import { useBackend } from '../../../test/helpers/backend';

// One numbering wherever a person looks: the progress line says `epoch 3/3`, so the last
// embedding plot is embedding-epoch-3 and the epoch axis of the charts runs 1..3, in whole numbers.

let tmp: string;
beforeAll(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-epochs-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Trains nothing: a fixed encoder, so only the callbacks' bookkeeping is under test. */
class FrozenExperiment extends Experiment<number> {
  constructor() {
    super({});
  }
  protected override configureModels(): void {
    this.models.set(
      'online_encoder',
      tf.sequential({ layers: [tf.layers.flatten({ inputShape: [8, 8, 1] }), tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.randomNormal({ seed: 1 }) })] }),
    );
  }
  trainStep(): StepLogs {
    return { loss: tf.scalar(0) };
  }
}

async function embeddingPlots(epochs: number, every: number): Promise<{ dir: string; files: string[] }> {
  const dir = fs.mkdtempSync(path.join(tmp, 'plots-'));
  const exp = new FrozenExperiment();
  exp.datasets.set('train', patternDataset('bank', 8, 3, 1));
  exp.datasets.set('val', patternDataset('val', 12, 3, 2));
  await exp.fit([0], { epochs, callbacks: [new EmbeddingPlotCallback({ dir, every, limit: 12 })] });
  exp.dispose();
  return { dir, files: fs.readdirSync(dir).sort() };
}

/** The labels of the x axis of an SVG line chart. */
function xTickLabels(svg: string): string[] {
  const axis = /<g class="x-axis"[^>]*>([\s\S]*?)<\/g>/.exec(svg)![1];
  return [...axis.matchAll(/<text [^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
}

describe('epochs are numbered from 1 in what a person reads', () => {
  it('a 1-epoch run writes embedding-epoch-1, titled epoch 1', async () => {
    const { dir, files } = await embeddingPlots(1, 1);
    expect(files).toEqual(['embedding-epoch-1.png', 'embedding-epoch-1.svg']);
    expect(fs.readFileSync(path.join(dir, 'embedding-epoch-1.svg'), 'utf8')).toContain('epoch 1');
  });

  it('the last plot of a 3-epoch run is embedding-epoch-3, as the progress line says epoch 3/3', async () => {
    expect((await embeddingPlots(3, 1)).files).toEqual(['embedding-epoch-1.png', 'embedding-epoch-1.svg', 'embedding-epoch-2.png', 'embedding-epoch-2.svg', 'embedding-epoch-3.png', 'embedding-epoch-3.svg']);
    expect((await embeddingPlots(3, 5)).files).toEqual(['embedding-epoch-3.png', 'embedding-epoch-3.svg']); // the last epoch always
  });

  it('niceTicks with integer: whole-number ticks covering the range, where the default would give 0.25 steps', () => {
    expect(niceTicks(1, 3, 6).values).toContain(1.25); // what the epoch axis used to show
    expect(niceTicks(1, 3, 6, { integer: true }).values).toEqual([1, 2, 3]);
    const ranges: Array<[number, number, number]> = [[1, 1, 6], [1, 2, 6], [1, 3, 6], [1, 5, 6], [2, 8, 6], [0, 7, 6], [1, 10, 6], [3, 97, 5], [1, 100, 6], [1, 2500, 6], [12, 13, 6]];
    for (const [lo, hi, count] of ranges) {
      const t = niceTicks(lo, hi, count, { integer: true });
      expect(t.values.every(Number.isInteger), `${lo}..${hi}: ${t.values}`).toBe(true);
      expect(t.values.length, `${lo}..${hi}`).toBeGreaterThanOrEqual(2);
      expect(t.min).toBeLessThanOrEqual(lo);
      expect(t.max).toBeGreaterThanOrEqual(hi);
      expect(t.values[0]).toBe(t.min);
      expect(t.values[t.values.length - 1]).toBe(t.max);
    }
  });

  it('charts: the epoch axis runs from 1 and both x axes tick at whole numbers', () => {
    const h = new MetricHistory();
    for (let e = 0; e < 3; e++) {
      h.addStep(2 * e + 1, { loss: 1 / (e + 1) });
      h.addStep(2 * e + 2, { loss: 0.9 / (e + 1) });
      h.setEpoch(e, 2 * e + 2, { loss: 0.95 / (e + 1), knn_acc: 0.1 * (e + 1) }); // rows keep the 0-based epoch
    }
    const knn = metricChart('knn_acc', h)!;
    expect(knn.xLabel).toBe('epoch');
    expect(knn.series[0].points.map((p) => p[0])).toEqual([1, 2, 3]);
    expect(xTickLabels(lineChartSvg(knn))).toEqual(['1', '2', '3']);
    const loss = metricChart('loss', h)!;
    expect(loss.xLabel).toBe('step');
    const labels = xTickLabels(lineChartSvg(loss));
    expect(labels.length).toBeGreaterThanOrEqual(2);
    expect(labels.every((l) => Number.isInteger(Number(l))), labels.join(' ')).toBe(true);
  });
});
