/**
 * `metrics.csv`: one row per log record, a column per metric key.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppendFile } from './append-file';
import { writeFileAtomicSync } from './atomic';
import { truncateTornTail } from './jsonl';

/** A cell value; `null`/`undefined` give an empty cell. */
export type CsvValue = number | string | boolean | bigint | null | undefined;

/** Options of {@link MetricsCsvWriter}. */
export interface MetricsCsvWriterOptions {
  /**
   * Columns put first, in this order, when they appear in the first row of a new file.
   * Default `['epoch', 'step']`.
   */
  firstColumns?: string[];
}

function formatCell(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v); // Infinity stays "Infinity"
  const s = String(v);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Splits CSV text into rows of raw cells (RFC 4180 quoting). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else {
      cell += c;
    }
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/**
 * Writes metric records as CSV rows. The header is the union of keys seen so far. When a
 * record brings a new key (e.g. `knn_acc` first appears at the end of epoch 1), the file is
 * rewritten atomically with the wider header and empty cells in the old rows; since
 * columns are only ever appended, old lines are copied as text plus trailing commas, never
 * re-parsed. Otherwise rows are appended with one `write(2)` each. Opening an existing file
 * continues it (resume): its header is read back and a torn last line is cut off.
 * Numbers are written in shortest round-trip form; NaN/±Infinity as `NaN`/`Infinity`/`-Infinity`.
 */
export class MetricsCsvWriter extends AppendFile {
  private header: string[] = [];
  private readonly firstColumns: string[];

  constructor(
    readonly filePath: string,
    options: MetricsCsvWriterOptions = {},
  ) {
    super();
    this.firstColumns = options.firstColumns ?? ['epoch', 'step'];
    fs.mkdirSync(path.dirname(filePath), { recursive: true });
    this.fd = fs.openSync(filePath, 'a');
    truncateTornTail(this.fd, filePath);
    if (fs.fstatSync(this.fd).size > 0) {
      const firstLine = readFirstLine(filePath);
      this.header = parseCsv(firstLine)[0] ?? [];
    }
  }

  /** The current columns, in file order. */
  get columns(): readonly string[] {
    return this.header;
  }

  /** Appends one row; widens the header first if `record` has keys not seen before. */
  write(record: Record<string, CsvValue>): void {
    this.openFd(); // throws once closed, before the header could be touched
    const known = new Set(this.header);
    let added = Object.keys(record).filter((k) => !known.has(k));
    if (added.length > 0) {
      if (this.header.length === 0) {
        const first = this.firstColumns.filter((c) => added.includes(c));
        added = [...first, ...added.filter((k) => !first.includes(k))];
      }
      this.widen(added);
    }
    const line = this.header.map((k) => formatCell(record[k])).join(',') + '\n';
    fs.writeSync(this.openFd(), line); // widen() may have reopened the file
  }

  private widen(added: string[]): void {
    const oldWidth = this.header.length;
    const newHeader = [...this.header, ...added];
    const headerLine = newHeader.map((k) => formatCell(k)).join(',') + '\n';
    if (oldWidth === 0) {
      fs.writeSync(this.openFd(), headerLine);
    } else {
      const text = fs.readFileSync(this.filePath, 'utf8');
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      // Quoted cells with embedded newlines would break line-wise copying; we never write
      // such cells for numbers, so only fall back to a full parse when they exist.
      const body = text.includes('"')
        ? parseCsv(text)
            .slice(1)
            .map((r) => r.map((c) => formatCell(c)).join(','))
        : lines.slice(1);
      const pad = ','.repeat(added.length);
      const rewritten = headerLine + body.map((l) => l + pad + '\n').join('');
      this.close();
      writeFileAtomicSync(this.filePath, rewritten);
      this.fd = fs.openSync(this.filePath, 'a');
    }
    this.header = newHeader;
  }
}

function readFirstLine(filePath: string): string {
  const text = fs.readFileSync(filePath, 'utf8');
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl);
}

/** A parsed metrics CSV: numeric-looking cells as numbers, empty cells as undefined. */
export interface MetricsCsv {
  header: string[];
  rows: Record<string, number | string | undefined>[];
}

/** Reads a file written by {@link MetricsCsvWriter} (or any simple CSV with a header). */
export function readMetricsCsv(filePath: string): MetricsCsv {
  const [header = [], ...body] = parseCsv(fs.readFileSync(filePath, 'utf8'));
  const rows = body.map((cells, i) => {
    if (cells.length !== header.length) {
      throw new Error(
        `readMetricsCsv: "${filePath}" row ${i + 2} has ${cells.length} cells, the header has ${header.length}.`,
      );
    }
    const row: Record<string, number | string | undefined> = {};
    header.forEach((k, j) => {
      const c = cells[j];
      if (c === '') row[k] = undefined;
      else if (c === 'NaN') row[k] = NaN;
      else if (c !== '' && !Number.isNaN(Number(c)) && c.trim() === c) row[k] = Number(c);
      else row[k] = c;
    });
    return row;
  });
  return { header, rows };
}
