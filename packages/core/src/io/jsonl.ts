/**
 * JSON-lines logs (`train.log`, `metrics.jsonl`).
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppendFile } from './append-file';

/**
 * JSON has no NaN or Infinity, and `JSON.stringify` would turn them into `null`, hiding
 * exactly the value a diverging run needs to show. They are written as the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"`; bigints as decimal strings.
 */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * Truncates an append-mode file after its last newline, dropping a partial line that a
 * killed process left behind. Shared with the CSV writer.
 * @internal
 */
export function truncateTornTail(fd: number, filePath: string): void {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return;
  const rfd = fs.openSync(filePath, 'r');
  try {
    const chunk = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const n = fs.readSync(rfd, chunk, 0, end - start, start);
      const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
      if (nl >= 0) {
        if (start + nl + 1 !== size) fs.ftruncateSync(fd, start + nl + 1);
        return;
      }
      end = start;
    }
    fs.ftruncateSync(fd, 0);
  } finally {
    fs.closeSync(rfd);
  }
}

/**
 * Appends one JSON object per line to a file. Each `write` is a single `write(2)` on a
 * file opened with O_APPEND, so the line reaches the OS at once (no user-space buffer) and
 * concurrent appenders do not interleave within a line. A crash can at worst leave a torn
 * last line, which {@link readJsonl} skips and which the next writer of the file cuts off
 * before appending. Opening an existing file appends to it (resume).
 */
export class JsonlWriter extends AppendFile {
  /** Opens (creating if needed, with its parent directory) `filePath` for appending. */
  constructor(readonly filePath: string) {
    super();
    fs.mkdirSync(path.dirname(filePath), { recursive: true });
    this.fd = fs.openSync(filePath, 'a');
    // A torn last line from an earlier crash would glue onto our first line: cut it off.
    truncateTornTail(this.fd, filePath);
  }

  /** Appends `record` as one line. Throws if the writer is closed. */
  write(record: object): void {
    fs.writeSync(this.openFd(), JSON.stringify(record, jsonReplacer) + '\n');
  }
}

/**
 * Reads a JSON-lines file into objects. A last line that does not parse (a crash mid-write)
 * is dropped; a bad line anywhere else throws with the file and line number. The strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"` are left as strings.
 */
export function readJsonl<T = Record<string, unknown>>(filePath: string): T[] {
  const text = fs.readFileSync(filePath, 'utf8');
  const lines = text.split('\n');
  const out: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch (err) {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (isLast && !text.endsWith('\n')) break;
      throw new Error(`readJsonl: "${filePath}" line ${i + 1} is not valid JSON (${(err as Error).message}).`);
    }
  }
  return out;
}
