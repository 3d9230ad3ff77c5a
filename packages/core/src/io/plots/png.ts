/**
 * SVG → PNG with sharp (libvips rasterises SVG through librsvg; no browser needed).
 *
 * @packageDocumentation
 */
import { writeFileAtomic } from '../atomic';

/** Size of a written PNG. */
export interface PngInfo {
  width: number;
  height: number;
  bytes: number;
}

/**
 * Rasterises `svg` and writes it to `pngPath` atomically. At the default density of 72 DPI
 * one SVG user unit is one pixel, so a 640×400 chart gives a 640×400 PNG; pass `scale: 2`
 * for a sharper image twice the size.
 */
export async function svgToPng(svg: string, pngPath: string, options: { scale?: number } = {}): Promise<PngInfo> {
  const { default: sharp } = await import('sharp');
  const scale = options.scale ?? 1;
  let out: { data: Buffer; info: { width: number; height: number } };
  try {
    out = await sharp(Buffer.from(svg, 'utf8'), { density: 72 * scale })
      .png()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`svgToPng: could not rasterise the SVG for "${pngPath}": ${(err as Error).message}`);
  }
  await writeFileAtomic(pngPath, out.data);
  return { width: out.info.width, height: out.info.height, bytes: out.data.length };
}
