/**
 * Resuming a run in a directory that already has TensorBoard event files: the steps after the
 * checkpoint are trained (and logged) again, so the events the killed run wrote past that step
 * are dropped from the old files, as metrics.jsonl drops its rows. Without this, TensorBoard
 * shows both versions of those steps.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../atomic';
import { decodeTfRecords, encodeTfRecord } from './tfrecord';

/** The `step` (field 2) of a serialized `tensorflow.Event`; 0 when absent (proto3 default). */
export function eventStep(event: Uint8Array): number {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= event.length) throw new Error('Event: truncated varint');
      const b = event[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < event.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 2) return Number(BigInt.asIntN(64, v));
    } else if (wire === 1) pos += 8;
    else if (wire === 2) pos += Number(varint());
    else if (wire === 5) pos += 4;
    else throw new Error(`Event: unsupported wire type ${wire}`);
  }
  return 0;
}

/** Event files of a directory (TensorBoard's naming: `events.out.tfevents.*`). */
export function eventFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.')).map((f) => path.join(dir, f));
}

/**
 * Rewrites every event file in `dir` without the events whose step is greater than `step`
 * (and without a torn last record). Files that do not decode are left as they are; returns
 * the paths it rewrote.
 */
export function dropEventsAfterStep(dir: string, step: number): string[] {
  const rewritten: string[] = [];
  for (const file of eventFiles(dir)) {
    const buf = fs.readFileSync(file);
    let records: Uint8Array[];
    try {
      records = decodeTfRecords(buf);
    } catch {
      continue; // not ours to repair
    }
    const kept = records.filter((r) => {
      try {
        return eventStep(r) <= step;
      } catch {
        return false;
      }
    });
    const size = kept.reduce((s, r) => s + r.length + 16, 0);
    if (kept.length === records.length && size === buf.length) continue;
    const out = new Uint8Array(size);
    let o = 0;
    for (const r of kept) {
      const framed = encodeTfRecord(r);
      out.set(framed, o);
      o += framed.length;
    }
    writeFileAtomicSync(file, out);
    rewritten.push(file);
  }
  return rewritten;
}
