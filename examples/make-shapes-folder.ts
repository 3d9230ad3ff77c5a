/**
 * Writes a small labelled image folder in the Quadra layout — one sub-folder per class of
 * PNG files — with simple drawn shapes (circle, square, triangle, cross) at random sizes,
 * positions, rotations and colours on a noisy background. The classes differ in shape only,
 * so a kNN on learned features has something to find. Used by the tests and to try
 * examples/configs/byol-image-folder.yaml without a dataset at hand:
 *
 *   node examples/dist/make-shapes-folder.js /tmp/shapes [--perClass 40] [--size 32]
 *   node packages/cli/dist/bin.js train examples/configs/byol-image-folder.yaml \
 *     --set data.path=/tmp/shapes --set val.path=/tmp/shapes
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng, svgToPng } from '@selfsup/core';

export const SHAPE_CLASSES = ['circle', 'cross', 'square', 'triangle'] as const;
export type ShapeClass = (typeof SHAPE_CLASSES)[number];

export interface ShapesFolderOptions {
  /** Images per class (default 40). */
  perClass?: number;
  /** Side of the square images in pixels (default 32). */
  size?: number;
  seed?: number;
  classes?: readonly ShapeClass[];
}

export interface ShapesFolder {
  root: string;
  classes: ShapeClass[];
  files: string[];
}

function shapeSvg(kind: ShapeClass, size: number, rng: Rng): string {
  const bg = Math.round(rng.uniform(20, 90));
  const hue = Math.round(rng.uniform(0, 360));
  const fill = `hsl(${hue}, ${Math.round(rng.uniform(60, 100))}%, ${Math.round(rng.uniform(55, 75))}%)`;
  const r = rng.uniform(0.22, 0.38) * size; // half-extent of the shape
  const cx = rng.uniform(r + 1, size - r - 1);
  const cy = rng.uniform(r + 1, size - r - 1);
  const angle = rng.uniform(0, 90);
  let body: string;
  switch (kind) {
    case 'circle':
      body = `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${fill}"/>`;
      break;
    case 'square':
      body = `<rect x="${cx - r * 0.85}" y="${cy - r * 0.85}" width="${r * 1.7}" height="${r * 1.7}" fill="${fill}" transform="rotate(${angle} ${cx} ${cy})"/>`;
      break;
    case 'triangle': {
      const pts = [0, 120, 240].map((a) => {
        const t = ((a + angle) * Math.PI) / 180;
        return `${cx + r * Math.sin(t)},${cy - r * Math.cos(t)}`;
      });
      body = `<polygon points="${pts.join(' ')}" fill="${fill}"/>`;
      break;
    }
    case 'cross': {
      const w = r * 0.55;
      body =
        `<g transform="rotate(${angle} ${cx} ${cy})" fill="${fill}">` +
        `<rect x="${cx - r}" y="${cy - w / 2}" width="${2 * r}" height="${w}"/>` +
        `<rect x="${cx - w / 2}" y="${cy - r}" width="${w}" height="${2 * r}"/></g>`;
      break;
    }
  }
  // A few faint specks so no two backgrounds are identical.
  let specks = '';
  for (let i = 0; i < 6; i++) {
    const g = Math.round(bg + rng.uniform(-15, 15));
    specks += `<rect x="${rng.int(size)}" y="${rng.int(size)}" width="2" height="2" fill="rgb(${g},${g},${g})"/>`;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">` +
    `<rect width="${size}" height="${size}" fill="rgb(${bg},${bg},${bg})"/>${specks}${body}</svg>`
  );
}

/** Writes `<root>/<class>/<class>-<i>.png` for every class; deterministic for a given seed. */
export async function makeShapesFolder(root: string, opts: ShapesFolderOptions = {}): Promise<ShapesFolder> {
  const perClass = opts.perClass ?? 40;
  const size = opts.size ?? 32;
  const classes = [...(opts.classes ?? SHAPE_CLASSES)];
  if (!Number.isInteger(perClass) || perClass < 1) throw new Error(`makeShapesFolder: perClass must be a positive integer, got ${perClass}`);
  if (!Number.isInteger(size) || size < 8) throw new Error(`makeShapesFolder: size must be an integer ≥ 8, got ${size}`);
  const rng = new Rng(opts.seed ?? 0);
  const files: string[] = [];
  for (const kind of classes) {
    const dir = path.join(root, kind);
    fs.mkdirSync(dir, { recursive: true });
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < perClass; i++) {
      const file = path.join(dir, `${kind}-${String(i).padStart(3, '0')}.png`);
      files.push(file);
      jobs.push(svgToPng(shapeSvg(kind, size, rng), file));
    }
    await Promise.all(jobs);
  }
  return { root, classes, files };
}

if (require.main === module) {
  const [root, ...rest] = process.argv.slice(2);
  if (!root || root.startsWith('--')) {
    console.error('usage: node examples/dist/make-shapes-folder.js <output-dir> [--perClass 40] [--size 32] [--seed 0]');
    process.exit(2);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { exampleOptions } = require('./example-options') as typeof import('./example-options');
  const o = exampleOptions({ perClass: 40, size: 32, seed: 0 }, rest);
  makeShapesFolder(root, o).then(
    (r) => console.log(`wrote ${r.files.length} images (${r.classes.join(', ')}; ${o.size}×${o.size}) under ${path.resolve(root)}`),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(1);
    },
  );
}
