/**
 * A plain, framework-free tensor file format for checkpoints:
 *
 *   tensors.json  `{ format: "selfsup-tensors", version: 1, byteLength, tensors: [
 *                     { name, dtype, shape, offset, byteLength } ] }`
 *   tensors.bin   the raw little-endian bytes of every tensor, back to back, in that order
 *   meta.json     any JSON the caller wants next to the tensors (step, epoch, RNG state…)
 *
 * The bytes are the tensors' typed-array bytes, so float32 and int32 values (NaN payloads
 * and -0 included) round-trip bit for bit.
 *
 * @packageDocumentation
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from './atomic';

/** Name of the tensor index written by {@link saveTensors}. */
export const TENSORS_JSON = 'tensors.json';
/** Name of the raw tensor bytes written by {@link saveTensors}. */
export const TENSORS_BIN = 'tensors.bin';
/** Name of the caller's metadata written by {@link saveTensors}. */
export const META_JSON = 'meta.json';

const FORMAT = 'selfsup-tensors';
const VERSION = 1;

/** Dtypes that {@link saveTensors} stores; string tensors are not supported. */
export type StoredDType = 'float32' | 'int32' | 'bool';

const BYTES_PER_ELEMENT: Record<StoredDType, number> = { float32: 4, int32: 4, bool: 1 };

/** One entry of `tensors.json`. */
export interface TensorEntry {
  name: string;
  dtype: StoredDType;
  shape: number[];
  /** Byte offset into `tensors.bin`. */
  offset: number;
  byteLength: number;
}

/** The content of `tensors.json`. */
export interface TensorsIndex {
  format: typeof FORMAT;
  version: number;
  /** Expected size of `tensors.bin`. */
  byteLength: number;
  tensors: TensorEntry[];
}

/** What {@link loadTensors} returns. The caller owns (and must dispose) the tensors. */
export interface LoadedTensors<M> {
  tensors: Record<string, tf.Tensor>;
  meta: M;
}

function isStoredDType(d: string): d is StoredDType {
  return d === 'float32' || d === 'int32' || d === 'bool';
}

/**
 * Writes `tensors` and `meta` into `dir` (created if needed) as `tensors.json`,
 * `tensors.bin` and `meta.json`. Each file is written atomically; to make the three change
 * together, call this inside {@link writeDirAtomic}. Reads tensor values with `data()`
 * (async, no blocking readback) and does not dispose the inputs.
 */
export async function saveTensors(
  dir: string,
  tensors: Record<string, tf.Tensor>,
  meta: object = {},
): Promise<TensorsIndex> {
  const entries: TensorEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (t.isDisposed) {
      throw new Error(`saveTensors: tensor "${name}" is already disposed; save before disposing.`);
    }
    if (!isStoredDType(t.dtype)) {
      throw new Error(
        `saveTensors: tensor "${name}" has dtype ${t.dtype}; only float32, int32 and bool are stored.`,
      );
    }
    const values = (await t.data()) as Float32Array | Int32Array | Uint8Array;
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const expected = t.size * BYTES_PER_ELEMENT[t.dtype];
    if (bytes.byteLength !== expected) {
      throw new Error(
        `saveTensors: tensor "${name}" (${t.dtype}, shape [${t.shape}]) gave ${bytes.byteLength} bytes, expected ${expected}.`,
      );
    }
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], offset, byteLength: bytes.byteLength });
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const index: TensorsIndex = { format: FORMAT, version: VERSION, byteLength: offset, tensors: entries };
  let metaText: string;
  try {
    metaText = JSON.stringify(meta, null, 2);
  } catch (err) {
    throw new Error(`saveTensors: meta for "${dir}" is not JSON-serialisable: ${(err as Error).message}`);
  }
  await fsp.mkdir(dir, { recursive: true });
  // Binary first, index after: a reader that finds the new index finds the new bytes.
  await writeFileAtomic(path.join(dir, TENSORS_BIN), chunks);
  await writeFileAtomic(path.join(dir, TENSORS_JSON), JSON.stringify(index, null, 2) + '\n');
  await writeFileAtomic(path.join(dir, META_JSON), metaText + '\n');
  return index;
}

async function readRequired(file: string, what: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `loadTensors: missing ${what} "${file}"; the checkpoint is incomplete or the path is wrong.`,
      );
    }
    throw new Error(`loadTensors: cannot read "${file}": ${(err as Error).message}`);
  }
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`loadTensors: "${file}" is not valid JSON (${(err as Error).message}).`);
  }
}

function validateIndex(file: string, raw: unknown): TensorsIndex {
  const bad = (why: string): never => {
    throw new Error(`loadTensors: "${file}" is not a valid tensor index: ${why}.`);
  };
  if (typeof raw !== 'object' || raw === null) bad('expected an object');
  const idx = raw as Partial<TensorsIndex>;
  if (idx.format !== FORMAT) bad(`format is ${JSON.stringify(idx.format)}, expected "${FORMAT}"`);
  if (idx.version !== VERSION) bad(`version ${idx.version} is not supported (expected ${VERSION})`);
  if (typeof idx.byteLength !== 'number') bad('byteLength is missing');
  if (!Array.isArray(idx.tensors)) bad('tensors is not an array');
  const seen = new Set<string>();
  for (const [i, e] of idx.tensors!.entries()) {
    const where = `tensors[${i}]${e && typeof e.name === 'string' ? ` ("${e.name}")` : ''}`;
    if (typeof e?.name !== 'string') bad(`${where} has no name`);
    if (seen.has(e.name)) bad(`${where} duplicates a name`);
    seen.add(e.name);
    if (!isStoredDType(String(e.dtype))) bad(`${where} has unsupported dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((s) => Number.isInteger(s) && s >= 0)) {
      bad(`${where} has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const size = e.shape.reduce((a, b) => a * b, 1);
    if (e.byteLength !== size * BYTES_PER_ELEMENT[e.dtype]) {
      bad(`${where} byteLength ${e.byteLength} does not match shape [${e.shape}] of ${e.dtype}`);
    }
    if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset + e.byteLength > idx.byteLength!) {
      bad(`${where} range [${e.offset}, ${e.offset + e.byteLength}) lies outside byteLength ${idx.byteLength}`);
    }
  }
  return idx as TensorsIndex;
}

/**
 * Reads a directory written by {@link saveTensors}. Every problem — a missing file, bad
 * JSON, an index that does not match the size of `tensors.bin` — throws an error naming
 * the file. The returned tensors live on the active backend; the caller disposes them.
 */
export async function loadTensors<M = unknown>(dir: string): Promise<LoadedTensors<M>> {
  const indexFile = path.join(dir, TENSORS_JSON);
  const binFile = path.join(dir, TENSORS_BIN);
  const metaFile = path.join(dir, META_JSON);
  const index = validateIndex(indexFile, parseJson(indexFile, (await readRequired(indexFile, 'tensor index')).toString('utf8')));
  const bin = await readRequired(binFile, 'tensor data');
  if (bin.byteLength !== index.byteLength) {
    throw new Error(
      `loadTensors: "${binFile}" has ${bin.byteLength} bytes but "${indexFile}" expects ${index.byteLength}; ` +
        'the files come from different saves or the data is truncated.',
    );
  }
  const meta = parseJson(metaFile, (await readRequired(metaFile, 'metadata')).toString('utf8')) as M;

  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const e of index.tensors) {
      // Copy into a fresh, aligned buffer: Buffer slices may be unaligned for 4-byte views.
      const bytes = new Uint8Array(e.byteLength);
      bytes.set(bin.subarray(e.offset, e.offset + e.byteLength));
      const values =
        e.dtype === 'float32'
          ? new Float32Array(bytes.buffer)
          : e.dtype === 'int32'
            ? new Int32Array(bytes.buffer)
            : bytes;
      tensors[e.name] = tf.tensor(values, e.shape, e.dtype);
    }
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose();
    throw err;
  }
  return { tensors, meta };
}
