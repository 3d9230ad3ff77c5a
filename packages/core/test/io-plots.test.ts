import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { CATEGORICAL_PALETTE, lineChartSvg, niceTicks, pca2, scatterSvg, svgToPng } from '../src/io';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-plots-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Checks that tags nest properly (a small stand-in for an XML parser). */
function expectWellFormed(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) expect(stack.pop()).toBe(name);
    else stack.push(name);
  }
  expect(stack).toEqual([]);
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
}

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

describe('niceTicks', () => {
  it('picks round steps covering the range', () => {
    expect(niceTicks(0, 1, 5).values).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const t = niceTicks(3, 97, 5); // rough step 18.8 → 20
    expect([t.min, t.max]).toEqual([0, 100]);
    expect(t.values).toHaveLength(6);
    const flat = niceTicks(2, 2); // a constant series still gets an axis
    expect(flat.min).toBeLessThan(2);
    expect(flat.max).toBeGreaterThan(2);
  });
});

describe('lineChartSvg', () => {
  it('draws each series with its name in the legend, with title and axis labels', () => {
    const svg = lineChartSvg({
      title: 'Loss & <accuracy>',
      xLabel: 'step',
      yLabel: 'value',
      series: [
        { name: 'train/loss', points: [[0, 2], [1, 1.5], [2, 1.2], [3, 1.1]] },
        { name: 'knn_acc', points: [[0, 0.1], [3, 0.4]] },
      ],
    });
    expectWellFormed(svg);
    expect(svg).toContain('Loss &amp; &lt;accuracy&gt;');
    expect(svg).toContain('>train/loss</text>');
    expect(svg).toContain('>knn_acc</text>');
    expect(svg).toContain('>step</text>');
    expect(count(svg, /<path /g)).toBe(2);
    expect(svg).toContain(`stroke="${CATEGORICAL_PALETTE[0]}"`);
    expect(svg).toContain(`stroke="${CATEGORICAL_PALETTE[1]}"`);
    expect(svg).not.toContain('NaN');
  });

  it('splits a line at NaN and says how many points it skipped', () => {
    const svg = lineChartSvg({
      series: [{ name: 'loss', points: [[0, 1], [1, 0.9], [2, NaN], [3, 0.8], [4, 0.7], [5, Infinity]] }],
      markersUpTo: 0,
    });
    expectWellFormed(svg);
    expect(count(svg, /<path /g)).toBe(2);
    expect(svg).toContain('2 non-finite points not drawn');
    expect(svg).not.toMatch(/="[^"]*NaN/);
  });

  it('shows "no data" for no points, and a lone point as a dot', () => {
    const empty = lineChartSvg({ title: 'empty', series: [] });
    expectWellFormed(empty);
    expect(empty).toContain('no data');
    const single = lineChartSvg({ series: [{ name: 's', points: [[5, 5]] }], markersUpTo: 0 });
    expect(count(single, /<circle /g)).toBe(1);
    expect(single).not.toContain('NaN');
  });
});

describe('scatterSvg', () => {
  it('colours points by class and lists class names in the legend', () => {
    const points = [
      { x: 0, y: 0, label: 0 },
      { x: 1, y: 1, label: 1 },
      { x: 2, y: 0.5, label: 1 },
      { x: NaN, y: 0, label: 2 },
    ];
    const svg = scatterSvg({ title: 'PCA of val features', points, classNames: ['T-shirt', 'Trouser', 'Pullover'] });
    expectWellFormed(svg);
    for (const name of ['T-shirt', 'Trouser', 'Pullover']) expect(svg).toContain(`>${name}</text>`);
    // 3 drawn points + 3 legend dots.
    expect(count(svg, /<circle /g)).toBe(6);
    expect(svg).toContain(`<g data-class="Trouser" fill="${CATEGORICAL_PALETTE[1]}">`);
    expect(svg).toContain('1 non-finite point not drawn');
  });

  it('goes beyond the palette with distinct colours', () => {
    const points = Array.from({ length: 12 }, (_, i) => ({ x: i, y: i, label: i }));
    const svg = scatterSvg({ points });
    const fills = [...svg.matchAll(/data-class="\d+" fill="([^"]+)"/g)].map((m) => m[1]);
    expect(fills).toHaveLength(12);
    expect(new Set(fills).size).toBe(12);
  });
});

describe('svgToPng', () => {
  it('writes a PNG of the SVG size (and twice it at scale 2)', async () => {
    const svg = lineChartSvg({ title: 'loss', series: [{ name: 'loss', points: [[0, 1], [1, 0.5]] }] });
    const out = path.join(dir, 'loss.png');
    const info = await svgToPng(svg, out);
    const bytes = fs.readFileSync(out);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 640, 400]);
    expect(info).toEqual({ width: 640, height: 400, bytes: bytes.length });
    // Not a blank canvas: the white background plus dark axes and coloured lines.
    const stats = await sharp(out).stats();
    expect(stats.channels[0].min).toBeLessThan(100);
    expect((await svgToPng(svg, path.join(dir, 'big.png'), { scale: 2 })).width).toBe(1280);
    expect(fs.readdirSync(dir).sort()).toEqual(['big.png', 'loss.png']);
  });

  it('names the target when the SVG is not valid', async () => {
    const out = path.join(dir, 'bad.png');
    await expect(svgToPng('<svg', out)).rejects.toThrow(`could not rasterise the SVG for "${out}"`);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('pca2', () => {
  // Points a·u + b·w + offset with u = (3/5, 4/5, 0), w = (0, 0, 1); a and b have mean 0 and
  // are uncorrelated, so the principal axes are u and w with variances Σa²/(n−1) and Σb²/(n−1).
  const a = [-3, -1, 1, 3, -3, -1, 1, 3];
  const b = [1, 1, 1, 1, -1, -1, -1, -1];
  const varA = (2 * (9 + 1 + 1 + 9)) / 7; // 40/7
  const varB = 8 / 7;

  function dataset(d: number, u: number[], w: number[], offset: number[]): Float32Array {
    const f = new Float32Array(a.length * d);
    for (let i = 0; i < a.length; i++) {
      for (let j = 0; j < d; j++) f[i * d + j] = a[i] * u[j] + b[i] * w[j] + offset[j];
    }
    return f;
  }

  function check(res: ReturnType<typeof pca2>, d: number, u: number[], w: number[]) {
    expect(res.variances[0]).toBeCloseTo(varA, 4);
    expect(res.variances[1]).toBeCloseTo(varB, 4);
    for (let j = 0; j < d; j++) {
      expect(res.components[j]).toBeCloseTo(u[j], 5);
      expect(res.components[d + j]).toBeCloseTo(w[j], 5);
    }
    for (let i = 0; i < a.length; i++) {
      expect(res.coords[2 * i]).toBeCloseTo(a[i], 4);
      expect(res.coords[2 * i + 1]).toBeCloseTo(b[i], 4);
    }
  }

  it('finds a known principal axis (n ≥ d, covariance route) and removes the mean', () => {
    const u = [0.6, 0.8, 0];
    const w = [0, 0, 1];
    const res = pca2(dataset(3, u, w, [10, -5, 2]), a.length, 3);
    check(res, 3, u, w);
    expect(Array.from(res.mean)).toEqual([10, -5, 2]);
  });

  it('gives the same answer when d > n (Gram route)', () => {
    const d = 12;
    const u = [0.6, 0.8, ...new Array(10).fill(0)];
    const w = [...new Array(11).fill(0), 1];
    check(pca2(dataset(d, u, w, new Array(d).fill(1)), a.length, d), d, u, w);
  });

  it('handles degenerate input and rejects a wrong length', () => {
    const one = pca2(Float32Array.from([1, 2, 3]), 1, 3);
    expect(Array.from(one.coords)).toEqual([0, 0]);
    expect(one.variances).toEqual([0, 0]);
    const line = pca2(Float32Array.from([0, 1, 2, 3]), 4, 1); // d = 1: only one axis exists
    expect(line.variances[0]).toBeCloseTo(5 / 3, 6);
    expect(line.variances[1]).toBe(0);
    expect(() => pca2(new Float32Array(5), 2, 3)).toThrow('features has length 5, expected n·d = 2·3');
  });
});
