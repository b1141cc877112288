import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { DataError, readJsonFile, readTextFile } from '../src/core/errors.js';
import { makeDataset, type Dataset } from '../src/eval/dataset.js';
import type { RegressionTask } from '../src/eval/dataset.js';

/** Half-open row range [start, end) over the data rows (the header is not a row). */
export interface RowRange {
  readonly start: number;
  readonly end: number;
}

export interface CsvSpec {
  /** Target column name. Default: the JSON's target, else the last column. */
  target?: string;
  /** Training rows. Default: the JSON's training_rows, else all rows. */
  train?: RowRange;
  /** Test rows. Default: the JSON's test_rows, else none. */
  test?: RowRange;
}

/** A parsed numeric CSV: header names and columns of numbers. */
export interface NumericTable {
  readonly header: readonly string[];
  readonly columns: readonly Float64Array[];
  readonly rows: number;
}

function splitLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

/** Reads a comma-separated file with a header row and numeric cells; errors name file, line and column. */
export function readNumericCsv(path: string): NumericTable {
  const text = readTextFile(path);
  const lines = text.split(/\r?\n/);
  while (lines.length && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  if (lines.length === 0) throw new DataError(`${path}: the file is empty`);
  const header = splitLine((lines[0] as string).replace(/^\uFEFF/, ''));
  if (header.some((h) => h === '')) throw new DataError(`${path}: line 1: empty column name in the header`);
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw new DataError(`${path}: line 1: column "${dup}" appears twice`);
  const rows = lines.length - 1;
  if (rows === 0) throw new DataError(`${path}: no data rows after the header`);
  const columns = header.map(() => new Float64Array(rows));
  for (let r = 0; r < rows; r++) {
    const cells = splitLine(lines[r + 1] as string);
    if (cells.length !== header.length) {
      throw new DataError(`${path}: line ${r + 2}: expected ${header.length} cells, found ${cells.length}`);
    }
    for (let c = 0; c < cells.length; c++) {
      const cell = cells[c] as string;
      const v = cell === '' ? NaN : Number(cell);
      if (!Number.isFinite(v)) {
        throw new DataError(`${path}: line ${r + 2}, column "${header[c]}": "${cell}" is not a finite number`);
      }
      (columns[c] as Float64Array)[r] = v;
    }
  }
  return { header, columns, rows };
}

interface MetaRows {
  target?: string;
  train?: RowRange;
  test?: RowRange;
}

function rangeFrom(v: unknown, where: string): RowRange | undefined {
  if (v === undefined) return undefined;
  const r = v as { start?: unknown; end?: unknown };
  if (typeof r !== 'object' || r === null || !Number.isInteger(r.start) || !Number.isInteger(r.end)) {
    throw new DataError(`${where}: expected {"start": integer, "end": integer}`);
  }
  return { start: r.start as number, end: r.end as number };
}

/**
 * Reads the JSON description that sits beside each CSV in Operon's data folder:
 * `{"metadata": {"target": ..., "training_rows": {start, end}, "test_rows": {start, end}}}`.
 * A flat object with the same keys is accepted too.
 */
export function readCsvMeta(path: string): MetaRows {
  const json = readJsonFile(path);
  const root = json as Record<string, unknown>;
  const m = (typeof root?.['metadata'] === 'object' ? root['metadata'] : root) as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null) throw new DataError(`${path}: expected a JSON object`);
  if (m['target'] !== undefined && typeof m['target'] !== 'string') throw new DataError(`${path}: "target" must be a string`);
  const train = rangeFrom(m['training_rows'], `${path}: training_rows`);
  const test = rangeFrom(m['test_rows'], `${path}: test_rows`);
  return {
    ...(typeof m['target'] === 'string' ? { target: m['target'] } : {}),
    ...(train ? { train } : {}),
    ...(test ? { test } : {}),
  };
}

function slice(table: NumericTable, inputs: number[], target: number, range: RowRange): Dataset {
  return makeDataset(
    inputs.map((c) => table.header[c] as string),
    inputs.map((c) => (table.columns[c] as Float64Array).slice(range.start, range.end)),
    (table.columns[target] as Float64Array).slice(range.start, range.end),
  );
}

function checkRange(path: string, what: string, r: RowRange, rows: number): void {
  if (!(r.start >= 0 && r.end > r.start)) throw new DataError(`${path}: ${what} rows ${r.start}:${r.end} are empty`);
  if (r.end > rows) throw new DataError(`${path}: ${what} rows ${r.start}:${r.end} exceed the file's ${rows} data rows`);
}

/** The JSON beside a CSV (same name, .json), if there is one. */
export function metaPathFor(csvPath: string): string | undefined {
  const p = join(dirname(csvPath), `${basename(csvPath, extname(csvPath))}.json`);
  return existsSync(p) ? p : undefined;
}

/**
 * A regression task from a CSV file: inputs are every column but the target. Target and row ranges
 * come from `spec`, else from the JSON beside the file (or `metaPath`), else the last column and
 * all rows for training.
 */
export function csvTask(path: string, spec: CsvSpec = {}, metaPath = metaPathFor(path)): RegressionTask {
  const meta = metaPath ? readCsvMeta(metaPath) : {};
  const table = readNumericCsv(path);
  const targetName = spec.target ?? meta.target ?? (table.header[table.header.length - 1] as string);
  const target = table.header.indexOf(targetName);
  if (target < 0) throw new DataError(`${path}: no column named "${targetName}" (columns: ${table.header.join(', ')})`);
  const inputs = table.header.map((_, i) => i).filter((i) => i !== target);
  if (inputs.length === 0) throw new DataError(`${path}: no input columns besides the target "${targetName}"`);
  const train = spec.train ?? meta.train ?? { start: 0, end: table.rows };
  checkRange(path, 'training', train, table.rows);
  const test = spec.test ?? meta.test;
  if (test) checkRange(path, 'test', test, table.rows);
  return {
    name: basename(path, extname(path)),
    train: slice(table, inputs, target, train),
    ...(test ? { test: slice(table, inputs, target, test) } : {}),
  };
}
