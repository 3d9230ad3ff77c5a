/**
 * TensorBoard event files without tfjs-node.
 *
 * An event file is a sequence of TFRecords (see `tfrecord.ts`), each holding a serialized
 * `tensorflow.Event` protobuf. Only the fields scalars need are written:
 *
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 *
 * The first record carries `file_version: "brain.Event:2"`, which TensorBoard expects.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppendFile } from '../append-file';
import { ProtoWriter } from './protobuf';
import { encodeTfRecord } from './tfrecord';

/** The `file_version` TensorBoard expects in the first event. */
export const EVENT_FILE_VERSION = 'brain.Event:2';

/** Encodes the first event of a file. */
export function encodeFileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).int64(2, 0).string(3, EVENT_FILE_VERSION).finish();
}

/** Encodes one event holding scalar summaries (one `Value` per entry of `values`). */
export function encodeScalarEvent(values: Record<string, number>, step: number, wallTime: number): Uint8Array {
  const summary = new ProtoWriter();
  for (const [tag, v] of Object.entries(values)) {
    summary.bytes(1, new ProtoWriter().string(1, tag).float(2, v).finish());
  }
  return new ProtoWriter().double(1, wallTime).int64(2, step).bytes(5, summary.finish()).finish();
}

/** Options of {@link TensorBoardWriter}. */
export interface TensorBoardWriterOptions {
  /** Clock in seconds since the epoch; injectable for tests. Default `Date.now() / 1000`. */
  now?: () => number;
  /** Host name in the file name; default `os.hostname()`. */
  hostname?: string;
}

/**
 * Writes scalars to `<logDir>/events.out.tfevents.<unix seconds>.<host>` (a `.<n>` suffix
 * is added if that name is taken, e.g. a resumed run within the same second). Each event is
 * one `write(2)`, so TensorBoard sees it at once; a crash can at worst leave a truncated
 * last record, which TensorBoard's reader skips. Resuming opens a new file in the same
 * directory (TensorBoard merges all event files of a directory); `dropEventsAfterStep` first
 * removes the old files' events past the resume step.
 */
export class TensorBoardWriter extends AppendFile {
  /** Path of the event file being written. */
  readonly filePath: string;
  private readonly now: () => number;

  constructor(
    readonly logDir: string,
    options: TensorBoardWriterOptions = {},
  ) {
    super();
    this.now = options.now ?? (() => Date.now() / 1000);
    const host = (options.hostname ?? os.hostname()).replace(/[/\\]/g, '_');
    fs.mkdirSync(logDir, { recursive: true });
    const start = this.now();
    const base = path.join(logDir, `events.out.tfevents.${Math.floor(start)}.${host}`);
    let filePath = base;
    for (let n = 1; ; n++) {
      try {
        this.fd = fs.openSync(filePath, 'wx');
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n > 1000) throw err;
        filePath = `${base}.${n}`;
      }
    }
    this.filePath = filePath;
    this.writeRecord(encodeFileVersionEvent(start));
  }

  /** Logs one scalar. Non-finite values are written as is (TensorBoard shows NaN/Inf). */
  addScalar(tag: string, value: number, step: number, wallTime?: number): void {
    this.addScalars({ [tag]: value }, step, wallTime);
  }

  /** Logs several scalars at one step, in one event. */
  addScalars(values: Record<string, number>, step: number, wallTime?: number): void {
    if (!Number.isInteger(step)) {
      throw new Error(`TensorBoardWriter: step must be an integer, got ${step} (tags ${Object.keys(values).join(', ')}).`);
    }
    if (Object.keys(values).length === 0) return;
    this.writeRecord(encodeScalarEvent(values, step, wallTime ?? this.now()));
  }

  private writeRecord(payload: Uint8Array): void {
    fs.writeSync(this.openFd(), encodeTfRecord(payload));
  }
}
