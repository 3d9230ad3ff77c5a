import * as fs from 'fs';
import * as path from 'path';
import { epochSeed } from '../batch-order';
import { Rng } from '../../util/rng';
import type { PathPredicate } from './path-filter';
import { UserError } from '../../config/errors';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'];
export type FolderSplit = 'train' | 'val' | 'test' | 'all';
export const SPLIT_FILES = { train: 'train.txt', val: 'val.txt', test: 'test.txt' } as const;

export interface FolderEntry {
  /** Path relative to the root, '/'-separated. */
  rel: string;
  /** Class id (index into classNames); -1 when unlabeled. */
  label: number;
}

export interface FolderListing {
  root: string;
  classNames?: string[];
  entries: FolderEntry[];
}

const isImage = (name: string) => IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
const toPosix = (p: string) => p.split(path.sep).join('/');

/** Image files under `dir`, recursively, as paths relative to `root`, sorted for a stable order. */
function listImages(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
      if (ent.name.startsWith('.')) continue;
      const full = path.join(d, ent.name);
      if (ent.isDirectory()) walk(full);
      else if (isImage(ent.name) && (ent.isFile() || ent.isSymbolicLink())) out.push(toPosix(path.relative(root, full)));
    }
  };
  walk(dir);
  return out.sort();
}

/** Scans the Quadra layout (root/<class>/**.png) or, unlabeled, every image under root. */
export function scanFolder(rootArg: string, labeled: boolean, keep: PathPredicate, log: (msg: string) => void): FolderListing {
  const root = path.resolve(rootArg);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw new UserError(`image folder ${root} does not exist; check data.path`);
  }
  if (!stat.isDirectory()) throw new UserError(`image folder ${root} is not a directory; data.path must point to a folder of images`);

  if (!labeled) {
    const entries = listImages(root, root).filter(keep).map((rel) => ({ rel, label: -1 }));
    return { root, entries };
  }
  const classNames = fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (classNames.length === 0) {
    const loose = listImages(root, root).length;
    throw new UserError(
      loose > 0
        ? `image folder ${root} has ${loose} images but no class sub-folders; put each class in its own sub-folder, or set labeled: false to pretrain on unlabeled images`
        : `image folder ${root} is empty: expected one sub-folder per class holding ${IMAGE_EXTENSIONS.join('/')} images`,
    );
  }
  const entries: FolderEntry[] = [];
  const kept: string[] = [];
  for (const name of classNames) {
    const dir = path.join(root, name);
    const all = listImages(root, dir);
    if (all.length === 0) {
      throw new UserError(`class folder ${dir} contains no images (${IMAGE_EXTENSIONS.join(', ')}); add images or remove the folder`);
    }
    const files = all.filter(keep);
    // A class the filters remove entirely is a selection of classes, not a mistake.
    if (files.length === 0) {
      log(`[selfsup] image folder ${root}: class "${name}" left out (include/exclude match none of its ${all.length} images)`);
      continue;
    }
    for (const rel of files) entries.push({ rel, label: kept.length });
    kept.push(name);
  }
  if (kept.length === 0) throw new UserError(`image folder ${root}: include/exclude filters match no image in any class folder`);
  return { root, classNames: kept, entries };
}

/**
 * Entries of a split file (train.txt, ...): one path per line relative to the root, blank
 * lines and '#' comments ignored. Every path must exist and be an image; labels come from
 * the class folder the path starts with.
 */
export function readSplitFile(file: string, listing: FolderListing, keep: PathPredicate): FolderEntry[] {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  const classIndex = new Map((listing.classNames ?? []).map((n, i) => [n, i]));
  const out: FolderEntry[] = [];
  const seen = new Set<string>();
  lines.forEach((line, i) => {
    const entry = line.trim();
    if (!entry || entry.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const abs = path.resolve(listing.root, entry);
    const rel = toPosix(path.relative(listing.root, abs));
    if (rel.startsWith('../') || path.isAbsolute(rel)) throw new UserError(`${where}: ${entry} is outside the image folder ${listing.root}`);
    if (!fs.existsSync(abs)) throw new UserError(`${where}: ${entry} does not exist (looked for ${abs}); fix or remove the line`);
    if (!isImage(abs)) throw new UserError(`${where}: ${entry} is not a supported image (${IMAGE_EXTENSIONS.join(', ')})`);
    if (seen.has(rel) || !keep(rel)) return;
    seen.add(rel);
    let label = -1;
    if (listing.classNames) {
      const cls = rel.split('/')[0];
      const id = classIndex.get(cls);
      if (id === undefined || !rel.includes('/')) {
        throw new UserError(`${where}: ${entry} is not inside a class folder of ${listing.root} (classes: ${listing.classNames.join(', ')})`);
      }
      label = id;
    }
    out.push({ rel, label });
  });
  return out;
}

/**
 * Splits entries per class: a seeded shuffle of each class (its own stream, so adding a
 * class does not reshuffle the others), the first round(fraction·n) (at least 1) go to the sample.
 */
function stratifiedSample(entries: FolderEntry[], fraction: number, seed: number, salt: number): { sample: FolderEntry[]; rest: FolderEntry[] } {
  if (fraction <= 0) return { sample: [], rest: entries };
  const byClass = new Map<number, FolderEntry[]>();
  for (const e of entries) {
    const list = byClass.get(e.label);
    if (list) list.push(e);
    else byClass.set(e.label, [e]);
  }
  const picked = new Set<string>();
  for (const [label, list] of byClass) {
    const order = [...list].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    new Rng(epochSeed(seed, ((label + 1) * 7919 + salt) >>> 0)).shuffle(order);
    // At least one per class (when the class has two or more), so every class is evaluated.
    const take = order.length < 2 ? 0 : Math.max(1, Math.round(fraction * order.length));
    for (const e of order.slice(0, take)) picked.add(e.rel);
  }
  return { sample: entries.filter((e) => picked.has(e.rel)), rest: entries.filter((e) => !picked.has(e.rel)) };
}

export interface SplitOptions {
  split: FolderSplit;
  valSize: number;
  testSize: number;
  seed: number;
  keep: PathPredicate;
  log: (msg: string) => void;
}

/**
 * The entries of one split. Split files win; what they do not define is sampled:
 * test = test.txt, else testSize of the files no split file lists;
 * val = val.txt, else valSize of the train pool (train.txt, or everything not in test);
 * train = the train pool minus a sampled val.
 */
export function selectSplit(listing: FolderListing, opts: SplitOptions): { entries: FolderEntry[]; source: string } {
  if (opts.split === 'all') return { entries: listing.entries, source: 'all images' };
  const fileOf = (s: keyof typeof SPLIT_FILES) => {
    const f = path.join(listing.root, SPLIT_FILES[s]);
    return fs.existsSync(f) ? f : undefined;
  };
  const files = { train: fileOf('train'), val: fileOf('val'), test: fileOf('test') };
  const listed = {
    train: files.train ? readSplitFile(files.train, listing, opts.keep) : undefined,
    val: files.val ? readSplitFile(files.val, listing, opts.keep) : undefined,
    test: files.test ? readSplitFile(files.test, listing, opts.keep) : undefined,
  };
  warnOverlaps(listed, files, opts.log);

  const inFiles = new Set([...(listed.train ?? []), ...(listed.val ?? [])].map((e) => e.rel));
  const test = listed.test ?? stratifiedSample(listing.entries.filter((e) => !inFiles.has(e.rel)), opts.testSize, opts.seed, 1).sample;
  const testSet = new Set(test.map((e) => e.rel));
  const trainPool = listed.train ?? listing.entries.filter((e) => !testSet.has(e.rel));
  let val: FolderEntry[];
  let train: FolderEntry[];
  if (listed.val) {
    val = listed.val;
    const valSet = new Set(val.map((e) => e.rel));
    train = listed.train ?? trainPool.filter((e) => !valSet.has(e.rel));
  } else {
    ({ sample: val, rest: train } = stratifiedSample(trainPool, opts.valSize, opts.seed, 2));
  }
  const chosen = { train, val, test }[opts.split];
  const source = files[opts.split] ? files[opts.split]! : `seeded split (seed ${opts.seed}, valSize ${opts.valSize}, testSize ${opts.testSize})`;
  return { entries: chosen, source };
}

function warnOverlaps(listed: Record<'train' | 'val' | 'test', FolderEntry[] | undefined>, files: Record<string, string | undefined>, log: (m: string) => void): void {
  const pairs: Array<['train' | 'val' | 'test', 'train' | 'val' | 'test']> = [['train', 'val'], ['train', 'test'], ['val', 'test']];
  for (const [a, b] of pairs) {
    const la = listed[a];
    const lb = listed[b];
    if (!la || !lb) continue;
    const set = new Set(la.map((e) => e.rel));
    const both = lb.filter((e) => set.has(e.rel));
    if (both.length > 0) log(`[selfsup] warning: ${both.length} images are listed in both ${files[a]} and ${files[b]} (first: ${both[0].rel}); evaluation on ${b} will be optimistic`);
  }
}
