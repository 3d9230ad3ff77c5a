import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonlWriter, MetricsCsvWriter, readJsonl, readMetricsCsv } from '../src/io';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfsup-logs-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('JsonlWriter', () => {
  it('writes one JSON object per line, visible before close, and spells out non-finite numbers', () => {
    const f = path.join(dir, 'sub', 'metrics.jsonl');
    const w = new JsonlWriter(f);
    w.write({ step: 1, loss: 0.5 });
    // No buffering: the line is in the file before close.
    expect(fs.readFileSync(f, 'utf8')).toBe('{"step":1,"loss":0.5}\n');
    w.write({ step: 2, loss: NaN, grad: Infinity, neg: -Infinity, big: 10n });
    w.close();
    w.close();
    expect(() => w.write({})).toThrow(`"${f}" is closed`);
    expect(fs.readFileSync(f, 'utf8').split('\n')[1]).toBe(
      '{"step":2,"loss":"NaN","grad":"Infinity","neg":"-Infinity","big":"10"}',
    );
  });

  it('appends on reopen and cuts a torn last line left by a crash', () => {
    const f = path.join(dir, 'train.log');
    fs.writeFileSync(f, '{"a":1}\n{"a":2}\n{"a":');
    expect(readJsonl(f)).toEqual([{ a: 1 }, { a: 2 }]);
    const w = new JsonlWriter(f);
    w.write({ a: 3 });
    w.close();
    expect(fs.readFileSync(f, 'utf8')).toBe('{"a":1}\n{"a":2}\n{"a":3}\n');
  });

  it('readJsonl names the file and line of a bad line in the middle', () => {
    const f = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(f, '{"a":1}\nnot json\n{"a":2}\n');
    expect(() => readJsonl(f)).toThrow(`"${f}" line 2 is not valid JSON`);
  });
});

describe('MetricsCsvWriter', () => {
  it('puts epoch and step first and widens the header when new keys appear', () => {
    const f = path.join(dir, 'metrics.csv');
    const w = new MetricsCsvWriter(f);
    w.write({ loss: 1.25, step: 10, epoch: 0 });
    w.write({ loss: 0.75, step: 20, epoch: 0 });
    expect(fs.readFileSync(f, 'utf8')).toBe('epoch,step,loss\n0,10,1.25\n0,20,0.75\n');
    w.write({ epoch: 1, step: 20, knn_acc: 0.5, note: 'a,"b"' });
    w.write({ epoch: 1, step: 30, loss: NaN, lr: Infinity });
    w.close();
    expect(fs.readFileSync(f, 'utf8')).toBe(
      [
        'epoch,step,loss,knn_acc,note,lr',
        '0,10,1.25,,,',
        '0,20,0.75,,,',
        '1,20,,0.5,"a,""b""",',
        '1,30,NaN,,,Infinity',
        '',
      ].join('\n'),
    );
    // The atomic rewrite leaves no temp files.
    expect(fs.readdirSync(dir)).toEqual(['metrics.csv']);
    const parsed = readMetricsCsv(f);
    expect(parsed.header).toEqual(['epoch', 'step', 'loss', 'knn_acc', 'note', 'lr']);
    expect(parsed.rows[2]).toEqual({ epoch: 1, step: 20, loss: undefined, knn_acc: 0.5, note: 'a,"b"', lr: undefined });
    expect(parsed.rows[3].loss).toBeNaN();
    expect(parsed.rows[3].lr).toBe(Infinity);
  });

  it('widens correctly after quoted cells', () => {
    const f = path.join(dir, 'm.csv');
    const w = new MetricsCsvWriter(f);
    w.write({ tag: 'x\ny' });
    w.write({ tag: 'z', v: 1 });
    w.close();
    expect(readMetricsCsv(f).rows).toEqual([
      { tag: 'x\ny', v: undefined },
      { tag: 'z', v: 1 },
    ]);
  });

  it('continues an existing file with its header and drops a torn last row', () => {
    const f = path.join(dir, 'metrics.csv');
    fs.writeFileSync(f, 'epoch,step,loss\n0,10,1.5\n0,20,1.');
    const w = new MetricsCsvWriter(f);
    expect(w.columns).toEqual(['epoch', 'step', 'loss']);
    w.write({ epoch: 0, step: 20, loss: 1.25 });
    w.write({ epoch: 1, step: 30, loss: 1, tau: 0.99 });
    w.close();
    expect(fs.readFileSync(f, 'utf8')).toBe('epoch,step,loss,tau\n0,10,1.5,\n0,20,1.25,\n1,30,1,0.99\n');
  });

  it('readMetricsCsv names the file and row of a ragged row', () => {
    const f = path.join(dir, 'r.csv');
    fs.writeFileSync(f, 'a,b\n1,2\n3\n');
    expect(() => readMetricsCsv(f)).toThrow(`"${f}" row 3 has 1 cells, the header has 2`);
  });
});
