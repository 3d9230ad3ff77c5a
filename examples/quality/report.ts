// The quality JSON, its two charts, and the table in docs/quality.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { categoricalColor, lineChartSvg, svgToPng, writeFileAtomic, type LineSeries } from '@selfsup/core';
import type { EpochRow, TorchResult } from './torch';

export interface QualityJson {
  schema: 1;
  config: string;
  label: string | null;
  overrides: string[];
  subset: 'full' | 'embedded';
  seed: number;
  epochs: number;
  machine: { cpu: string | null; cores: number; node: string };
  backend: Record<string, unknown>;
  date: string;
  dataDir: string;
  baselines: { rawPixels: number | null; untrained: number | null; bank: number | null; queries: number | null };
  selfsup: { epochs: EpochRow[]; minutes: number; runDir: string };
  torch: TorchResult | null;
}

export const TABLE_START = '<!-- quality-table:start -->';
export const TABLE_END = '<!-- quality-table:end -->';

const REF_RAW = '#555555';
const REF_UNTRAINED = '#999999';

/** Writes `<stem>.epochs.{svg,png}` and `<stem>.minutes.{svg,png}`; returns the four paths. */
export async function writeCharts(q: QualityJson, stem: string): Promise<string[]> {
  const files: string[] = [];
  const title = `${path.basename(q.config).replace(/\.ya?ml$/i, '')}${q.label ? ` (${q.label})` : ''}${q.subset === 'full' ? '' : ', embedded subset'}`;
  for (const axis of ['epochs', 'minutes'] as const) {
    const x = (r: EpochRow) => (axis === 'epochs' ? r.epoch : (r.elapsedSeconds ?? NaN) / 60);
    const series: LineSeries[] = [];
    const curves = (name: string, rows: EpochRow[], color: string) => {
      series.push({ name: `${name} online`, color, points: rows.map((r) => [x(r), r.knn_acc] as const) });
      if (rows.some((r) => r.knn_acc_target !== null)) {
        series.push({ name: `${name} target`, color, dash: '6 4', points: rows.map((r) => [x(r), r.knn_acc_target ?? NaN] as const) });
      }
    };
    curves('selfsup', q.selfsup.epochs, categoricalColor(0));
    if (q.torch) curves('PyTorch', q.torch.epochs, categoricalColor(1));
    const xs = series.flatMap((s) => s.points.map((p) => p[0])).filter(Number.isFinite);
    const xHi = xs.length ? Math.max(...xs) : 1;
    const ref = (name: string, y: number | null, color: string) => {
      if (y !== null) series.push({ name, color, dash: '2 4', markers: false, points: [[0, y], [xHi, y]] });
    };
    ref('raw pixels', q.baselines.rawPixels, REF_RAW);
    ref('untrained encoder', q.baselines.untrained, REF_UNTRAINED);
    // PyTorch initialises the same architecture its own way: its untrained encoder is another line
    const tu = q.torch?.baselines.untrained ?? null;
    if (tu !== null && tu !== q.baselines.untrained) series.push({ name: 'PyTorch untrained', color: categoricalColor(1), dash: '1 5', markers: false, points: [[0, tu], [xHi, tu]] });
    const svg = lineChartSvg({
      title: `${title}: kNN vs ${axis === 'epochs' ? 'epoch' : 'minutes'}`,
      xLabel: axis === 'epochs' ? 'epoch' : 'minutes (training + evaluation)',
      yLabel: `kNN top-1 (k=20, T=0.07)`,
      series,
      width: 760,
      height: 420,
    });
    const svgFile = `${stem}.${axis}.svg`;
    const pngFile = `${stem}.${axis}.png`;
    await writeFileAtomic(svgFile, svg);
    await svgToPng(svg, pngFile);
    files.push(svgFile, pngFile);
  }
  return files;
}

const f4 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));

function row(q: QualityJson, stem: string, tableDir: string): string {
  const eps = q.selfsup.epochs;
  const last = eps[eps.length - 1];
  const best = eps.reduce<EpochRow | undefined>((b, r) => (b === undefined || r.knn_acc > b.knn_acc ? r : b), undefined);
  const tLast = q.torch?.epochs[q.torch.epochs.length - 1];
  const rel = (suffix: string) => path.relative(tableDir, `${stem}.${suffix}.png`).split(path.sep).join('/');
  const name = `${path.basename(q.config).replace(/\.ya?ml$/i, '')}${q.label ? ` · ${q.label}` : ''}`;
  return [
    name,
    q.subset,
    String(q.epochs),
    q.selfsup.minutes.toFixed(1),
    f4(last?.knn_acc),
    f4(last?.knn_acc_target),
    best ? `${f4(best.knn_acc)} (ep ${best.epoch})` : '-',
    f4(q.baselines.rawPixels),
    f4(q.baselines.untrained),
    tLast ? f4(tLast.knn_acc) : '-',
    `[epochs](${rel('epochs')}) · [minutes](${rel('minutes')})`,
  ].join(' | ');
}

/** Every quality JSON in `dir` (not the .recipe.json files), by file name. */
export function readQualityJsons(dir: string): Array<{ file: string; q: QualityJson }> {
  if (!fs.existsSync(dir)) return [];
  const out: Array<{ file: string; q: QualityJson }> = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (!name.endsWith('.json') || name.endsWith('.recipe.json')) continue;
    try {
      const q = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as QualityJson;
      if (q.schema === 1 && q.selfsup) out.push({ file: path.join(dir, name), q });
    } catch {
      // not one of ours
    }
  }
  return out;
}

const INTRO = `# Representation quality

kNN accuracy (k=20, T=0.07, cosine) of BYOL encoders on Fashion-MNIST: pretrained on the 60k
training images, which are also the memory bank, and scored on the 10k test images after every
epoch, next to raw pixels and the same network untrained. Rows marked \`embedded\` used the
6000/10000 subset shipped in the repository (quick checks, not comparable with full rows).
Produced by \`npm run quality -- <config.yaml> [--epochs N] [--compare-torch]\`
(examples/quality/quality.ts); each row's numbers are in docs/quality/<name>.json. The PyTorch
column is torch_quality.py trained on the same recipe (same data, model, optimizer, schedules
and augmentations) with the same thread count.

`;

/** Rewrites the table between the markers of `tableFile` from every JSON in `dir` (creating the file if needed). */
export async function regenerateTable(dir: string, tableFile: string): Promise<number> {
  const tableDir = path.dirname(path.resolve(tableFile));
  const rows = readQualityJsons(dir).map(({ file, q }) => row(q, file.replace(/\.json$/, ''), tableDir));
  const table = [
    TABLE_START,
    '| run | data | epochs | minutes | kNN online | kNN target | best epoch | raw pixels | untrained | PyTorch | charts |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    ...rows.map((r) => `| ${r} |`),
    TABLE_END,
  ].join('\n');
  let text = fs.existsSync(tableFile) ? fs.readFileSync(tableFile, 'utf8') : `${INTRO}${TABLE_START}\n${TABLE_END}\n`;
  const a = text.indexOf(TABLE_START);
  const b = text.indexOf(TABLE_END, a);
  if (a < 0 || b < 0) text = `${text.replace(/\n*$/, '\n\n')}${table}\n`;
  else text = text.slice(0, a) + table + text.slice(b + TABLE_END.length);
  fs.mkdirSync(tableDir, { recursive: true });
  await writeFileAtomic(tableFile, text);
  return rows.length;
}
