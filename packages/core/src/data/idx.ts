import { promises as fsp } from 'fs';
import { gunzip, gzipSync } from 'zlib';
import { promisify } from 'util';
import { UserError } from '../config/errors';

/**
 * The IDX format (LeCun's MNIST files): a 4-byte magic number 0x00 0x00 <type> <ndims>,
 * ndims big-endian uint32 dimension sizes, then the values in row-major order, big-endian.
 */
const gunzipAsync = promisify(gunzip);

export type IdxType = 'ubyte' | 'byte' | 'short' | 'int' | 'float' | 'double';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  type: IdxType;
  data: IdxData;
}

const TYPE_CODES: Record<number, { type: IdxType; bytes: number }> = {
  0x08: { type: 'ubyte', bytes: 1 },
  0x09: { type: 'byte', bytes: 1 },
  0x0b: { type: 'short', bytes: 2 },
  0x0c: { type: 'int', bytes: 4 },
  0x0d: { type: 'float', bytes: 4 },
  0x0e: { type: 'double', bytes: 8 },
};

/** What a caller requires of a file: images are ubyte with 3 dims (0x00000803), labels ubyte 1 dim (0x00000801). */
export interface IdxExpectation {
  type?: IdxType;
  ndims?: number;
}

const hex = (v: number) => '0x' + (v >>> 0).toString(16).padStart(8, '0');

function expectedMagic(e: IdxExpectation): string {
  const code = Object.entries(TYPE_CODES).find(([, t]) => t.type === (e.type ?? 'ubyte'))![0];
  return e.ndims === undefined
    ? `0x00000${Number(code).toString(16)}<ndims>`
    : hex((Number(code) << 8) | e.ndims);
}

/** True when the bytes start with the gzip magic (1f 8b): decided by content, not the file name. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses an (uncompressed) IDX buffer; `source` names the file in error messages. */
export function decodeIdx(bytes: Uint8Array, source: string, expect: IdxExpectation = {}): IdxArray {
  const wanted = `expected magic number ${expectedMagic(expect)}${expect.ndims === 3 ? ' (IDX images)' : expect.ndims === 1 ? ' (IDX labels)' : ''}`;
  if (bytes.length < 4) {
    throw new UserError(`${source}: only ${bytes.length} bytes, too short for an IDX header; ${wanted}. The file is truncated or not an IDX file.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const typeInfo = TYPE_CODES[bytes[2]];
  const ndims = bytes[3];
  const typeOk = expect.type === undefined || typeInfo?.type === expect.type;
  const dimsOk = expect.ndims === undefined || ndims === expect.ndims;
  if (bytes[0] !== 0 || bytes[1] !== 0 || !typeInfo || ndims === 0 || !typeOk || !dimsOk) {
    throw new UserError(`${source}: wrong magic number ${hex(magic)}, ${wanted}. Is this the right file (images vs labels), and is it an IDX file?`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new UserError(`${source}: truncated IDX header: ${ndims} dimensions need ${headerBytes} header bytes, the file has ${bytes.length}. Re-download the file.`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const dataBytes = count * typeInfo.bytes;
  const present = bytes.length - headerBytes;
  if (present < dataBytes) {
    throw new UserError(`${source}: truncated: the header declares dims [${dims.join(', ')}] = ${dataBytes} data bytes, but only ${present} are present. Re-download the file.`);
  }
  if (present > dataBytes) {
    throw new UserError(`${source}: ${present - dataBytes} unexpected bytes after the ${dataBytes} data bytes the header declares (dims [${dims.join(', ')}]); the file is not a valid IDX file.`);
  }
  return { dims, type: typeInfo.type, data: decodeValues(bytes, view, headerBytes, count, typeInfo.type) };
}

function decodeValues(bytes: Uint8Array, view: DataView, offset: number, count: number, type: IdxType): IdxData {
  switch (type) {
    case 'ubyte':
      // A copy, so the (possibly large) file buffer can be freed.
      return bytes.slice(offset, offset + count);
    case 'byte':
      return new Int8Array(bytes.slice(offset, offset + count).buffer);
    case 'short': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'double': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Reads an IDX file, gzip-compressed or not (decided by its first bytes). */
export async function readIdxFile(file: string, expect: IdxExpectation = {}): Promise<IdxArray> {
  let raw: Uint8Array;
  try {
    raw = await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read IDX file ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (isGzip(raw)) {
    try {
      raw = await gunzipAsync(raw);
    } catch (err) {
      throw new UserError(`${file}: gzip data is corrupt or truncated (${(err as Error).message}). Re-download the file.`);
    }
  }
  return decodeIdx(raw, file, expect);
}

/** Encodes unsigned bytes as an IDX ubyte file (magic 0x000008<ndims>). */
export function encodeIdx(data: Uint8Array, dims: number[]): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeIdx: dims [${dims.join(', ')}] hold ${count} values, data has ${data.length}`);
  if (dims.length === 0 || dims.length > 255) throw new Error(`encodeIdx: need 1..255 dimensions, got ${dims.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + count);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Writes an IDX ubyte file, gzip-compressed when `gzip` is set. */
export async function writeIdxFile(file: string, data: Uint8Array, dims: number[], opts: { gzip?: boolean } = {}): Promise<void> {
  const bytes = encodeIdx(data, dims);
  await fsp.writeFile(file, opts.gzip ? gzipSync(bytes, { level: 9 }) : bytes);
}
