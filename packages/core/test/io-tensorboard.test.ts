import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c, decodeTfRecords, dropEventsAfterStep, encodeScalarEvent, encodeTfRecord, eventFiles, eventStep, maskedCrc32c, TensorBoardWriter } from '../src/io';

// ---- An independent reader: bitwise CRC-32C, TFRecord framing and protobuf decoding. ----

function crc32cBitwise(bytes: Uint8Array): number {
  let crc = ~0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}
const mask = (c: number) => (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;

function readRecords(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p < buf.length) {
    const len = Number(buf.readBigUInt64LE(p));
    expect(buf.readUInt32LE(p + 8)).toBe(mask(crc32cBitwise(buf.subarray(p, p + 8))));
    const data = buf.subarray(p + 12, p + 12 + len);
    expect(buf.readUInt32LE(p + 12 + len)).toBe(mask(crc32cBitwise(data)));
    out.push(data);
    p += 16 + len;
  }
  return out;
}

type Field = { field: number; wire: number; value: bigint | Buffer };
function readFields(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let p = 0;
  const varint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[p++];
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (b < 0x80) return v;
    }
  };
  while (p < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ field, wire, value: varint() });
    else if (wire === 1) fields.push({ field, wire, value: buf.subarray(p, (p += 8)) });
    else if (wire === 5) fields.push({ field, wire, value: buf.subarray(p, (p += 4)) });
    else if (wire === 2) {
      const n = Number(varint());
      fields.push({ field, wire, value: buf.subarray(p, (p += n)) });
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return fields;
}

interface DecodedEvent {
  wallTime?: number;
  step: bigint;
  fileVersion?: string;
  values: Array<{ tag: string; simpleValue: number }>;
}
function decodeEvent(buf: Buffer): DecodedEvent {
  const ev: DecodedEvent = { step: 0n, values: [] };
  for (const f of readFields(buf)) {
    if (f.field === 1) ev.wallTime = (f.value as Buffer).readDoubleLE(0);
    if (f.field === 2) ev.step = BigInt.asIntN(64, f.value as bigint);
    if (f.field === 3) ev.fileVersion = (f.value as Buffer).toString('utf8');
    if (f.field === 5) {
      for (const v of readFields(f.value as Buffer).filter((x) => x.field === 1)) {
        const val = readFields(v.value as Buffer);
        ev.values.push({
          tag: (val.find((x) => x.field === 1)!.value as Buffer).toString('utf8'),
          simpleValue: (val.find((x) => x.field === 2)!.value as Buffer).readFloatLE(0),
        });
      }
    }
  }
  return ev;
}

// -----------------------------------------------------------------------------------------

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-tb-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('crc32c', () => {
  it('matches published check values', () => {
    // "123456789" is the standard CRC check string; the other three are RFC 3720 B.4 vectors.
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('masks like TFRecord: an event file starts 18 00 … 00 a3 7f 4b 22', () => {
    // A 24-byte first event (wall_time + "brain.Event:2") gives this well-known file prefix.
    const len = new Uint8Array(8);
    len[0] = 24;
    expect(maskedCrc32c(len)).toBe(0x224b7fa3);
  });
});

describe('protobuf encoding', () => {
  it('encodes a scalar event byte for byte', () => {
    // Hand-encoded: Event{wall_time: 1.5 (field 1, fixed64), step: 3 (field 2, varint),
    // summary (field 5) { value (field 1) { tag: "a" (field 1), simple_value: 2.0 (field 2, fixed32) } } }
    const expected = [
      0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // wall_time = 1.5
      0x10, 0x03, // step = 3
      0x2a, 0x0a, // summary, 10 bytes
      0x0a, 0x08, // value, 8 bytes
      0x0a, 0x01, 0x61, // tag "a"
      0x15, 0, 0, 0, 0x40, // simple_value = 2.0f
    ];
    expect(Array.from(encodeScalarEvent({ a: 2 }, 3, 1.5))).toEqual(expected);
  });

  it('frames records that decode back, and tolerates a truncated tail', () => {
    const a = encodeTfRecord(Uint8Array.from([1, 2, 3]));
    const b = encodeTfRecord(Uint8Array.from([9]));
    expect(a.length).toBe(8 + 4 + 3 + 4);
    const both = new Uint8Array([...a, ...b]);
    expect(decodeTfRecords(both).map((r) => Array.from(r))).toEqual([[1, 2, 3], [9]]);
    expect(decodeTfRecords(both.subarray(0, both.length - 2)).map((r) => Array.from(r))).toEqual([[1, 2, 3]]);
    const corrupt = both.slice();
    corrupt[13] ^= 1;
    expect(() => decodeTfRecords(corrupt)).toThrow('data CRC mismatch in the record at byte 0');
  });
});

describe('TensorBoardWriter', () => {
  it('writes an event file that an independent reader decodes', () => {
    let t = 1_700_000_000.25;
    const w = new TensorBoardWriter(path.join(dir, 'tb'), { now: () => t, hostname: 'box' });
    expect(path.basename(w.filePath)).toBe('events.out.tfevents.1700000000.box');
    t += 1;
    w.addScalar('train/loss', 0.1, 1);
    w.addScalars({ 'train/lr': 0.2, 'train/tau': 0.996 }, 2);
    w.addScalar('val/knn_acc', NaN, 3, 42.5);
    w.addScalar('neg', -1, -5);
    expect(() => w.addScalar('x', 1, 1.5)).toThrow('step must be an integer, got 1.5');
    w.close();
    w.close();
    expect(() => w.addScalar('x', 1, 1)).toThrow('is closed');

    const events = readRecords(fs.readFileSync(w.filePath)).map(decodeEvent);
    expect(events).toHaveLength(5);
    expect(events[0]).toEqual({ wallTime: 1_700_000_000.25, step: 0n, fileVersion: 'brain.Event:2', values: [] });
    expect(events[1]).toEqual({ wallTime: 1_700_000_001.25, step: 1n, values: [{ tag: 'train/loss', simpleValue: Math.fround(0.1) }] });
    expect(events[2].values).toEqual([
      { tag: 'train/lr', simpleValue: Math.fround(0.2) },
      { tag: 'train/tau', simpleValue: Math.fround(0.996) },
    ]);
    expect(events[3].wallTime).toBe(42.5);
    expect(events[3].values[0].simpleValue).toBeNaN();
    expect(events[4].step).toBe(-5n);
  });

  it('never overwrites an event file started in the same second', () => {
    const opts = { now: () => 1000, hostname: 'h' };
    const a = new TensorBoardWriter(dir, opts);
    const b = new TensorBoardWriter(dir, opts);
    a.close();
    b.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['events.out.tfevents.1000.h', 'events.out.tfevents.1000.h.1']);
  });
});

describe('dropEventsAfterStep (resume)', () => {
  it('keeps the file version and the events up to the step, drops later ones and a torn tail', () => {
    let t = 100;
    const w = new TensorBoardWriter(dir, { now: () => t++, hostname: 'h' });
    for (let s = 1; s <= 6; s++) w.addScalars({ 'train/loss': 10 - s }, s);
    w.close();
    // a torn last record, as a kill mid-write leaves it
    const torn = encodeTfRecord(encodeScalarEvent({ 'train/loss': 0 }, 7, 200));
    fs.appendFileSync(w.filePath, torn.subarray(0, torn.length - 5));
    expect(eventStep(encodeScalarEvent({ a: 1 }, 123456789012, 1))).toBe(123456789012);

    expect(dropEventsAfterStep(dir, 4)).toEqual([w.filePath]);
    const events = decodeTfRecords(fs.readFileSync(w.filePath)).map((r) => decodeEvent(Buffer.from(r)));
    expect(events[0].fileVersion).toBe('brain.Event:2');
    expect(events.slice(1).map((e) => [Number(e.step), e.values[0].simpleValue])).toEqual([[1, 9], [2, 8], [3, 7], [4, 6]]);
    // nothing left to drop: the file is not rewritten again
    expect(dropEventsAfterStep(dir, 4)).toEqual([]);
    expect(eventFiles(dir)).toEqual([w.filePath]);
  });
});
