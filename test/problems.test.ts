import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_CSV_BYTES, readNumericCsv } from '../problems/csv.js';
import { BENCHMARK_NAMES, benchmarkTask, csvTask, gridPoints, resolveTask } from '../problems/index.js';
import { DataError } from '../src/core/errors.js';
import { rSquared } from '../src/eval/reference.js';
import { runRegression } from '../src/sr/run.js';
import { SHARED } from './helpers.js';

const range = (a: Float64Array) => [Math.min(...a), Math.max(...a)];

describe('benchmark problems', () => {
  it('sample the specified sizes and ranges', () => {
    const spec: Record<string, { vars: number; train: number; test: number; lo: number; hi: number; testLo?: number; testHi?: number }> = {
      'koza-1': { vars: 1, train: 20, test: 20, lo: -1, hi: 1 },
      'nguyen-1': { vars: 1, train: 20, test: 20, lo: -1, hi: 1 },
      'nguyen-7': { vars: 1, train: 20, test: 20, lo: 0, hi: 2 },
      'keijzer-6': { vars: 1, train: 50, test: 120, lo: 1, hi: 50, testLo: 1, testHi: 120 },
      'pagie-1': { vars: 2, train: 676, test: 1000, lo: -5, hi: 5 },
      'korns-12': { vars: 5, train: 10000, test: 10000, lo: -50, hi: 50 },
      'vladislavleva-4': { vars: 5, train: 1024, test: 5000, lo: 0.05, hi: 6.05, testLo: -0.25, testHi: 6.35 },
    };
    for (const [name, s] of Object.entries(spec)) {
      const t = benchmarkTask(name as never, 1);
      expect(t.train.columns.length).toBe(s.vars);
      expect(t.train.rows).toBe(s.train);
      expect(t.test!.rows).toBe(s.test);
      for (const c of t.train.columns) {
        const [lo, hi] = range(c);
        expect(lo).toBeGreaterThanOrEqual(s.lo - 1e-12);
        expect(hi).toBeLessThanOrEqual(s.hi + 1e-12);
      }
      for (const c of t.test!.columns) {
        const [lo, hi] = range(c);
        expect(lo).toBeGreaterThanOrEqual((s.testLo ?? s.lo) - 1e-12);
        expect(hi).toBeLessThanOrEqual((s.testHi ?? s.hi) + 1e-12);
      }
    }
    expect(BENCHMARK_NAMES).toHaveLength(12);
  });

  it('use grids exactly where specified', () => {
    expect(gridPoints(-5, 5, 0.4)).toHaveLength(26);
    const k6 = benchmarkTask('keijzer-6', 1);
    expect(Array.from(k6.train.columns[0]!)).toEqual(gridPoints(1, 50, 1));
    expect(k6.train.y[2]).toBeCloseTo(1 + 1 / 2 + 1 / 3, 14);
    const p1 = benchmarkTask('pagie-1', 1);
    expect(new Set(p1.train.columns[0]).size).toBe(26);
    const i = 5;
    const [x, y] = [p1.train.columns[0]![i]!, p1.train.columns[1]![i]!];
    expect(p1.train.y[i]).toBeCloseTo(1 / (1 + x ** -4) + 1 / (1 + y ** -4), 14);
  });

  it('compute the target functions', () => {
    const k = benchmarkTask('korns-12', 2);
    const [x, w] = [k.train.columns[0]![7]!, k.train.columns[4]![7]!];
    expect(k.train.y[7]).toBeCloseTo(2 - 2.1 * Math.cos(9.8 * x) * Math.sin(1.3 * w), 12);
    const v = benchmarkTask('vladislavleva-4', 2);
    const row = v.train.columns.map((c) => c[3]!);
    expect(v.train.y[3]).toBeCloseTo(10 / (5 + row.reduce((s, xi) => s + (xi - 3) ** 2, 0)), 12);
    const n7 = benchmarkTask('nguyen-7', 2);
    const x7 = n7.train.columns[0]![0]!;
    expect(n7.train.y[0]).toBeCloseTo(Math.log(x7 + 1) + Math.log(x7 * x7 + 1), 14);
  });

  it('are sampled from the run seed', () => {
    const a = benchmarkTask('koza-1', 1);
    expect(Array.from(benchmarkTask('koza-1', 1).train.columns[0]!)).toEqual(Array.from(a.train.columns[0]!));
    expect(Array.from(benchmarkTask('koza-1', 2).train.columns[0]!)).not.toEqual(Array.from(a.train.columns[0]!));
  });

  it('reject unknown names', () => {
    expect(() => resolveTask({ problem: 'koza-9' }, 1)).toThrow(/unknown problem "koza-9"/);
  });

  it('refuse a target, rows or a description, which only a data file has (they were ignored)', () => {
    expect(() => resolveTask({ problem: 'koza-1', target: 'x' }, 1)).toThrow(/^option target: only with a data file \(benchmark koza-1/);
    expect(() => resolveTask({ train: { start: 0, end: 5 } }, 1)).toThrow(/^option train: only with a data file/);
    expect(() => resolveTask({ problem: 'pagie-1', test: { start: 0, end: 5 } }, 1)).toThrow(/^option test: only with a data file/);
    expect(() => resolveTask({ problem: 'pagie-1', meta: 'm.json' }, 1)).toThrow(/^option meta: only with a data file/);
  });
});

describe('CSV loader', () => {
  it("reads a shared data set with Operon's JSON beside it", () => {
    const t = csvTask(join(SHARED, 'data/sr/Concrete.csv'));
    expect(t.train.names).toEqual(['X1', 'X2', 'X3', 'X4', 'X5', 'X6', 'X7', 'X8']);
    expect(t.train.rows).toBe(500);
    expect(t.test!.rows).toBe(500);
    expect(t.train.y[0]).toBe(79.99);
    expect(t.train.columns[0]![0]).toBe(540);
  });

  it('takes target and ranges from options', () => {
    const t = csvTask(join(SHARED, 'data/sr/Concrete.csv'), { target: 'X1', train: { start: 10, end: 20 } });
    expect(t.train.rows).toBe(10);
    expect(t.train.names).not.toContain('X1');
    expect(t.train.names).toContain('Y');
  });

  const dir = mkdtempSync(join(tmpdir(), 'gpmate-csv-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  it('names the file and the problem for bad input', () => {
    const bad: [string, RegExp, object?][] = [
      [join(dir, 'missing.csv'), /missing\.csv: not found/],
      [file('empty.csv', ''), /empty\.csv: the file is empty/],
      [file('header.csv', 'a,b\n'), /header\.csv: no data rows/],
      [file('ragged.csv', 'a,b\n1,2\n3\n'), /ragged\.csv: line 3: expected 2 cells, found 1/],
      [file('text.csv', 'a,b\n1,2\n3,abc\n'), /text\.csv: line 3, column "b": "abc" is not a number/],
      [file('target.csv', 'a,b\n1,2\n'), /target\.csv: no column named "y"/, { target: 'y' }],
      [file('range.csv', 'a,b\n1,2\n3,4\n'), /range\.csv: training rows 1:1 are empty/, { train: { start: 1, end: 1 } }],
      [file('beyond.csv', 'a,b\n1,2\n3,4\n'), /beyond\.csv: test rows 0:5 exceed the file's 2 data rows/, { test: { start: 0, end: 5 } }],
      [file('dup.csv', 'a,a\n1,2\n'), /dup\.csv: line 1: column "a" appears twice/],
      [file('one.csv', 'y\n1\n'), /one\.csv: no input columns/],
    ];
    for (const [path, msg, spec] of bad) {
      expect(() => csvTask(path, spec ?? {})).toThrow(DataError);
      expect(() => csvTask(path, spec ?? {})).toThrow(msg);
    }
    const meta = file('m.json', '{"metadata": {"target": 3}}');
    expect(() => csvTask(file('ok.csv', 'a,b\n1,2\n'), {}, meta)).toThrow(/m\.json: "target" must be a string/);
    expect(() => csvTask(file('ok2.csv', 'a,b\n1,2\n'), {}, file('bad.json', '{'))).toThrow(/bad\.json: not valid JSON/);
  });
  it('refuses what a user gets wrong in a data file, each with a clear message', () => {
    const bad: [string, string | Buffer, RegExp][] = [
      ['noheader.csv', '1,2,3\n4,5,6\n', /line 1 holds numbers, not column names: the file needs a header row/],
      [
        'hex.csv',
        'a,y\n0x1A,2\n3,4\n',
        /line 2, column "a": "0x1A" is not a decimal number \(hexadecimal, binary and octal are not read\)/,
      ],
      ['octal.csv', 'a,y\n0o17,2\n3,4\n', /"0o17" is not a decimal number/],
      ['inf.csv', 'a,y\nInfinity,2\n3,4\n', /"Infinity" is not a finite number/],
      ['huge.csv', 'a,y\n1e400,2\n3,4\n', /"1e400" is beyond the range of double-precision numbers/],
      ['nan.csv', 'a,y\nNaN,2\n3,4\n', /"NaN" is a missing value \(every cell needs a number\)/],
      ['empty-cell.csv', 'a,y\n,2\n3,4\n', /line 2, column "a": an empty cell is a missing value/],
      ['digits.csv', 'a,y\n1_000,2\n3,4\n', /line 2, column "a": "1_000" is not a number/],
      ['semicolon.csv', 'a;b;y\n1;2;3\n', /line 1: one column holding ";": gpmate reads comma-separated files/],
      ['tabs.csv', 'a\tb\ty\n1\t2\t3\n', /line 1: one column holding "\\t"/],
      [
        'utf16.csv',
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,y\n1,2\n', 'utf16le')]),
        /the file is UTF-16 encoded; save it as UTF-8/,
      ],
      ['latin1.csv', Buffer.from('caf\xe9,y\n1,2\n3,4\n', 'latin1'), /line 1: not valid UTF-8 text/],
      ['quote.csv', 'a,y\n"1,2\n3,4\n', /line 2: a quote is not closed/],
      [
        'constant.csv',
        'a,y\n1,5\n2,5\n3,5\n',
        /target column "y" in training rows 0:3 is constant \(every value is 5\): there is nothing to fit/,
      ],
      [
        'overflow.csv',
        'a,y\n1,1e200\n2,-1e200\n3,0\n',
        /target column "y" in training rows 0:3 spans -1e\+200 to 1e\+200: its squared errors overflow/,
      ],
      [
        'underflow.csv',
        'a,y\n1,1e-170\n2,-1e-170\n3,0\n',
        /target column "y" in training rows 0:3 spans -1e-170 to 1e-170: its squared errors underflow double precision; rescale the column \(multiply it by a power of 10\)/,
      ],
      ['folder.csv', '', /folder\.csv: a folder, not a file/],
    ];
    for (const [name, content, msg] of bad) {
      const p = join(dir, name);
      if (name === 'folder.csv') mkdirSync(p);
      else writeFileSync(p, content);
      let err: unknown;
      try {
        csvTask(p);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(DataError);
      expect((err as Error).message, name).toMatch(msg);
      expect((err as Error).message.includes('\n'), name).toBe(false);
    }
    // a file beyond the size bound is refused before it is read (a sparse file: no disk used)
    const big = join(dir, 'big.csv');
    writeFileSync(big, 'a,y\n');
    truncateSync(big, MAX_CSV_BYTES + 1);
    expect(() => csvTask(big)).toThrow(/big\.csv: 268435457 bytes; gpmate reads CSV files of at most 268435456 bytes \(256 MiB\)/);
  });

  it('reads what it should: every line ending, a BOM, quoted names, signs and exponents; large targets that fit', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const p = file(`eol${eol.length}${eol.charCodeAt(0)}.csv`, ['\uFEFF"x 1",y', '+1.5,-2e3', '.5,4.', '-0,1E-3'].join(eol) + eol);
      const t = csvTask(p);
      expect(t.train.names).toEqual(['x 1']);
      expect(Array.from(t.train.y)).toEqual([-2000, 4, 0.001]);
      expect(Array.from(t.train.columns[0]!)).toEqual([1.5, 0.5, -0]);
    }
    expect(csvTask(file('big-target.csv', 'a,y\n1,1e100\n2,-1e100\n')).train.rows).toBe(2);
    // mixed line endings; trailing lines of white space (a no-break space too) are no rows
    const mixed = readNumericCsv(file('mixed.csv', 'a,y\r\n1,2\r3,4\n5,6\r\n \n\t\r\n\u00a0\n\n'));
    expect(mixed.rows).toBe(3);
    expect(Array.from(mixed.columns[1]!)).toEqual([2, 4, 6]);
    // a blank line before the last row is a line of one cell, named by its number
    expect(() => readNumericCsv(file('gap.csv', 'a,y\n1,2\n\n3,4\n'))).toThrow(/gap\.csv: line 3: expected 2 cells, found 1/);
    expect(() => readNumericCsv(file('blank.csv', '\n \r\n\n'))).toThrow(/blank\.csv: the file is empty/);
  });

  it('reports R^2 as undefined (NaN, null in JSON) on a constant test target, never as 1', async () => {
    const t = csvTask(file('const-test.csv', 'a,y\n1,1\n2,2\n3,3\n4,7\n5,7\n'), {
      train: { start: 0, end: 3 },
      test: { start: 3, end: 5 },
    });
    const r = await runRegression(t, { populationSize: 10, generations: 1 });
    expect(r.best.testR2).toBeNaN();
    expect(rSquared([7, 7], [7, 7])).toBeNaN();
  });
});
