import { promises as fsp } from 'fs';
import type SharpNs from 'sharp';

type SharpFactory = typeof SharpNs;
let sharpFactory: SharpFactory | undefined;

/** sharp is loaded on first use, so code that never reads image folders never loads libvips. */
function loadSharp(): SharpFactory {
  if (!sharpFactory) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      sharpFactory = require('sharp') as SharpFactory;
    } catch (err) {
      throw new Error(`image-folder datasets need the npm package "sharp", which failed to load: ${(err as Error).message}`);
    }
  }
  return sharpFactory;
}

export interface DecodeTarget {
  height: number;
  width: number;
  channels: 1 | 3;
  /** How to map the source aspect ratio onto [height, width] (sharp's `fit`); default 'fill' (stretch). */
  fit?: 'fill' | 'cover' | 'contain';
}

/** Names the container by its first bytes; only PNG, JPEG and WebP are accepted. */
export function sniffImageFormat(bytes: Uint8Array): 'png' | 'jpeg' | 'webp' | { unsupported: string } {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (bytes.length === 0) return { unsupported: 'an empty file' };
  if (ascii(0, 4) === 'GIF8') return { unsupported: 'GIF' };
  if (ascii(0, 2) === 'BM') return { unsupported: 'BMP' };
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return { unsupported: 'TIFF' };
  return { unsupported: 'not a recognised image' };
}

/**
 * Decodes one image file into uint8 [height, width, channels] pixels: resized, alpha
 * dropped, converted to grayscale or sRGB. Any failure is an Error naming the file.
 */
export async function decodeImageFile(file: string, target: DecodeTarget): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    throw new Error(`cannot read image ${file}: ${(err as Error).message}`);
  }
  const format = sniffImageFormat(bytes);
  if (typeof format !== 'string') {
    throw new Error(`unsupported image format in ${file} (${format.unsupported}); only PNG, JPEG and WebP are read. Convert or exclude the file.`);
  }
  const sharp = loadSharp();
  let out: { data: Buffer; info: SharpNs.OutputInfo };
  try {
    // sharp's default failOn ('warning') rejects truncated PNG/JPEG/WebP data instead of
    // returning a partly grey image.
    let pipeline = sharp(bytes).removeAlpha().resize(target.width, target.height, { fit: target.fit ?? 'fill' });
    pipeline = target.channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
    out = await pipeline.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`cannot decode ${format.toUpperCase()} image ${file}: ${(err as Error).message.split('\n')[0]} — the file is corrupt or truncated`);
  }
  const { info, data } = out;
  if (info.width !== target.width || info.height !== target.height || info.channels !== target.channels) {
    throw new Error(`decoding ${file} gave ${info.width}x${info.height}x${info.channels}, expected ${target.width}x${target.height}x${target.channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
