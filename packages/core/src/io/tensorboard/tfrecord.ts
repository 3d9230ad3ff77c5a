/**
 * TFRecord framing: for each record, `uint64 length`, `uint32 masked_crc32c(length bytes)`,
 * `data`, `uint32 masked_crc32c(data)`, all little-endian.
 *
 * @packageDocumentation
 */
import { maskedCrc32c } from './crc32c';

/** Frames `data` as one TFRecord. */
export function encodeTfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * Splits a buffer of TFRecords into their payloads, checking both CRCs. A truncated final
 * record (a writer killed mid-write) ends the list instead of throwing, as TensorBoard does;
 * a CRC mismatch throws with the record's byte offset.
 */
export function decodeTfRecords(buf: Uint8Array): Uint8Array[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos + 12 <= buf.length) {
    const len = Number(view.getBigUint64(pos, true));
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(buf.subarray(pos, pos + 8))) {
      throw new Error(`TFRecord: length CRC mismatch at byte ${pos}.`);
    }
    if (pos + 12 + len + 4 > buf.length) break;
    const data = buf.subarray(pos + 12, pos + 12 + len);
    if (view.getUint32(pos + 12 + len, true) !== maskedCrc32c(data)) {
      throw new Error(`TFRecord: data CRC mismatch in the record at byte ${pos}.`);
    }
    out.push(data);
    pos += 12 + len + 4;
  }
  return out;
}
