import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { DataError, readJsonFile, readTextFile } from '../src/core/errors.js';
import { checkTarget, makeDataset, type Dataset } from '../src/eval/dataset.js';
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

/**
 * Most bytes of a CSV file: the whole text is held as one JavaScript string (at most 2^29 characters)
 * while it is parsed, and each cell becomes 8 bytes of every copy of the data the evaluators hold.
 */
export const MAX_CSV_BYTES = 256 * 2 ** 20;

/**
 * The cells of one line; undefined when a quote is left open. Runs of plain characters are sliced, not
 * appended one by one: a string built a character at a time costs tens of bytes per character, and a
 * line of a file of the size limit would take gigabytes.
 */
function splitLine(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let from = 0; // the start of the run of plain characters not yet in `cur`
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '"') {
      cur += line.slice(from, i);
      if (quoted && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
      from = i + 1;
    } else if (c === ',' && !quoted) {
      out.push((cur + line.slice(from, i)).trim());
      cur = '';
      from = i + 1;
    }
  }
  out.push((cur + line.slice(from)).trim());
  return quoted ? undefined : out;
}

/** A decimal number as data files write it: no hexadecimal, binary or octal, no Infinity, no digit separators. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const MISSING = /^(?:|na|n\/a|nan|null|none|missing|\?|-)$/i;

/** A cell or a name as an error message shows it: quoted when short and printable, else `otherwise` (a file's content is not echoed). */
export function quoted(s: string, otherwise = `a text of ${s.length} characters`): string {
  return s.length <= 24 && /^[\x20-\x7e]*$/.test(s) ? `"${s}"` : otherwise;
}

/** Why a cell is not read as a number. */
function notNumber(cell: string): string {
  if (MISSING.test(cell)) return `${cell === '' ? 'an empty cell' : `${quoted(cell)}`} is a missing value (every cell needs a number)`;
  if (/^[+-]?0[xXbBoO]/.test(cell)) return `${quoted(cell)} is not a decimal number (hexadecimal, binary and octal are not read)`;
  if (/^[+-]?inf(inity)?$/i.test(cell)) return `${quoted(cell)} is not a finite number`;
  if (DECIMAL.test(cell)) return `${quoted(cell)} is beyond the range of double-precision numbers`;
  return `${quoted(cell)} is not a number`;
}

/** The text of a data file: UTF-8 (a BOM is dropped), refused when it holds binary content or another encoding. */
function decodeText(path: string, bytes: Buffer): string {
  const lineAt = (i: number) => bytes.subarray(0, i).filter((b) => b === 10).length + 1;
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
    throw new DataError(`${path}: the file is UTF-16 encoded; save it as UTF-8 text`);
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new DataError(`${path}: line ${lineAt(nul)}: a NUL byte: not a text (CSV) file`);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const text = bytes.toString('utf8');
    const bad = text.indexOf('\uFFFD');
    throw new DataError(`${path}: line ${text.slice(0, bad).split(/\r\n|\n|\r/).length}: not valid UTF-8 text; save the file as UTF-8`);
  }
}

/** The bytes of a file of at most {@link MAX_CSV_BYTES}. */
function readBounded(path: string): Buffer {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new DataError(`${path}: a folder, not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof DataError) throw e;
    return Buffer.from(readTextFile(path)); // names the problem (not found, cannot read)
  }
  if (size > MAX_CSV_BYTES)
    throw new DataError(
      `${path}: ${size} bytes; gpmate reads CSV files of at most ${MAX_CSV_BYTES} bytes (${MAX_CSV_BYTES / 2 ** 20} MiB)`,
    );
  try {
    return readFileSync(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Reads a comma-separated UTF-8 file with a header row and a decimal number in every other cell.
 * Errors name the file, the line and the column, and show a cell only when it is short and printable.
 * Refused: binary or UTF-16 files, a header of numbers (a forgotten header row), a file of one column
 * that holds ';' or tabs (another separator), open quotes, missing values, and notations nobody
 * means in a data file (hexadecimal, binary, octal, Infinity).
 */
export function readNumericCsv(path: string): NumericTable {
  const text = decodeText(path, readBounded(path));
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // Lines are walked twice, never held: once to count them (trailing blank lines are no rows), then to
  // read them. A file near the size limit has tens of millions of lines, and an array of their strings
  // took gigabytes.
  let total = 0;
  const count = new Lines(body);
  for (let i = 0; count.next(); i++) if (!isBlank(body, count.start, count.end)) total = i + 1;
  if (total === 0) throw new DataError(`${path}: the file is empty`);
  const lines = new Lines(body);
  const cellsOf = (i: number): string[] => {
    lines.next();
    const cells = splitLine(body.slice(lines.start, lines.end));
    if (!cells) throw new DataError(`${path}: line ${i + 1}: a quote is not closed`);
    return cells;
  };
  const header = cellsOf(0);
  const headerLine = body.slice(lines.start, lines.end);
  const separator = header.length === 1 && [';', '\t', '|'].find((c) => headerLine.includes(c));
  if (separator)
    throw new DataError(`${path}: line 1: one column holding ${JSON.stringify(separator)}: gpmate reads comma-separated files`);
  if (header.every((h) => DECIMAL.test(h)))
    throw new DataError(`${path}: line 1 holds numbers, not column names: the file needs a header row (names such as x1,x2,y)`);
  const empty = header.indexOf('');
  if (empty >= 0) throw new DataError(`${path}: line 1: column ${empty + 1} has an empty name in the header`);
  const seen = new Set<string>();
  // a set of the names so far: indexOf per name would take quadratic time on a wide header (300,000 columns: hours)
  const dup = header.find((h) => seen.has(h) || (seen.add(h), false));
  if (dup !== undefined) throw new DataError(`${path}: line 1: column ${quoted(dup, String(header.lastIndexOf(dup) + 1))} appears twice`);
  const rows = total - 1;
  if (rows === 0) throw new DataError(`${path}: no data rows after the header`);
  const columns = header.map(() => new Float64Array(rows));
  for (let r = 0; r < rows; r++) {
    const cells = cellsOf(r + 1);
    if (cells.length !== header.length) {
      throw new DataError(`${path}: line ${r + 2}: expected ${header.length} cells, found ${cells.length}`);
    }
    for (let c = 0; c < cells.length; c++) {
      const cell = cells[c] as string;
      const v = DECIMAL.test(cell) ? Number(cell) : NaN;
      if (!Number.isFinite(v))
        throw new DataError(`${path}: line ${r + 2}, column ${quoted(header[c] as string, String(c + 1))}: ${notNumber(cell)}`);
      (columns[c] as Float64Array)[r] = v;
    }
  }
  return { header, columns, rows };
}

/**
 * The lines of a text one after the other, as offsets [start, end) (`next()` moves to the next; false
 * past the last), split where String.split(/\r\n|\n|\r/) splits: an empty text is one empty line, and a
 * text that ends in a line break ends in an empty line.
 */
class Lines {
  start = 0;
  end = 0;
  private at = 0;
  private done = false;
  // the next \n and \r at or after `at` (-1: none left; -2: not looked for yet)
  private lf = -2;
  private cr = -2;

  constructor(private readonly text: string) {}

  next(): boolean {
    if (this.done) return false;
    const t = this.text;
    const at = this.at;
    if (this.lf !== -1 && this.lf < at) this.lf = t.indexOf('\n', at);
    if (this.cr !== -1 && this.cr < at) this.cr = t.indexOf('\r', at);
    const brk = this.lf < 0 ? this.cr : this.cr < 0 ? this.lf : Math.min(this.lf, this.cr);
    this.start = at;
    if (brk < 0) {
      this.end = t.length;
      this.done = true;
    } else {
      this.end = brk;
      this.at = brk + (t.charCodeAt(brk) === 13 && t.charCodeAt(brk + 1) === 10 ? 2 : 1);
    }
    return true;
  }
}

/** Whether text[a, b) is empty or white space only (as trim() sees it), without a string for the common line. */
function isBlank(text: string, a: number, b: number): boolean {
  if (a === b) return true;
  const c = text.charCodeAt(a);
  // a line that starts with a printable ASCII character is not blank
  return c > 32 && c < 127 ? false : text.slice(a, b).trim() === '';
}

interface MetaRows {
  target?: string;
  train?: RowRange;
  test?: RowRange;
}

function rangeFrom(v: unknown, where: string): RowRange | undefined {
  if (v === undefined) return undefined;
  const r = v as { start?: unknown; end?: unknown };
  if (typeof r !== 'object' || r === null || !Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end)) {
    throw new DataError(`${where}: expected {"start": integer, "end": integer}`);
  }
  return { start: r.start as number, end: r.end as number };
}

const META_KEYS = ['target', 'training_rows', 'test_rows'];
const META_SHAPE = '{"metadata": {"target": COLUMN, "training_rows": {"start", "end"}, "test_rows": {"start", "end"}}}';

/**
 * Reads the JSON description that sits beside each CSV in Operon's data folder:
 * `{"metadata": {"target": ..., "training_rows": {start, end}, "test_rows": {start, end}}}`.
 * A flat object with some of those keys is accepted too. Anything else is an error, never ignored:
 * a description that says nothing about the file would let its rows be split silently otherwise.
 */
export function readCsvMeta(path: string): MetaRows {
  const root = readJsonFile(path);
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(root)) throw new DataError(`${path}: expected a JSON object ${META_SHAPE}`);
  const m = Object.hasOwn(root, 'metadata') ? root['metadata'] : root;
  if (!isObject(m)) throw new DataError(`${path}: "metadata" must be an object with "target", "training_rows", "test_rows"`);
  if (!META_KEYS.some((k) => Object.hasOwn(m, k)))
    throw new DataError(`${path}: describes no target or rows (none of ${META_KEYS.join(', ')}); expected ${META_SHAPE}`);
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

/** Checks a row range of the CSV file `path`; `metaPath` when the range is the description's (named there, where it is wrong). */
function checkRange(path: string, what: 'training' | 'test', r: RowRange, rows: number, metaPath?: string): void {
  const where = metaPath !== undefined ? `${metaPath}: ${what === 'training' ? 'training_rows' : 'test_rows'}` : `${path}: ${what} rows`;
  const range = `${where} ${r.start}:${r.end}`;
  if (r.start < 0) throw new DataError(`${range} start before the first data row (0)`);
  if (r.end <= r.start) throw new DataError(`${range} are empty`);
  if (r.end > rows)
    throw new DataError(`${range} exceed ${metaPath !== undefined ? `the ${rows} data rows of ${path}` : `the file's ${rows} data rows`}`);
}

/** The JSON beside a CSV (same name, .json), if there is one. */
export function metaPathFor(csvPath: string): string | undefined {
  const p = join(dirname(csvPath), `${basename(csvPath, extname(csvPath))}.json`);
  return p !== join(csvPath) && existsSync(p) ? p : undefined;
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
  if (target < 0) {
    const where = spec.target === undefined && meta.target !== undefined ? `${metaPath}: target: ${path} has` : `${path}:`;
    throw new DataError(`${where} no column named ${quoted(targetName)} (columns: ${listNames(table.header)})`);
  }
  const inputs = table.header.map((_, i) => i).filter((i) => i !== target);
  if (inputs.length === 0) throw new DataError(`${path}: no input columns besides the target ${quoted(targetName)}`);
  const train = spec.train ?? meta.train ?? { start: 0, end: table.rows };
  checkRange(path, 'training', train, table.rows, spec.train === undefined && meta.train ? metaPath : undefined);
  const test = spec.test ?? meta.test;
  if (test) checkRange(path, 'test', test, table.rows, spec.test === undefined ? metaPath : undefined);
  const trainSet = slice(table, inputs, target, train);
  checkTarget(trainSet.y, `${path}: target column ${quoted(targetName)} in training rows ${train.start}:${train.end}`);
  return {
    name: basename(path, extname(path)),
    train: trainSet,
    ...(test ? { test: slice(table, inputs, target, test) } : {}),
    split: { target: targetName, train: [train.start, train.end], ...(test ? { test: [test.start, test.end] as const } : {}) },
  };
}

/** Column names for a message: the first few, and how many there are. */
function listNames(names: readonly string[]): string {
  const shown = names
    .slice(0, 8)
    .map((n, i) => quoted(n, String(i + 1)))
    .join(', ');
  return names.length > 8 ? `${shown}, ... (${names.length} in all)` : shown;
}
