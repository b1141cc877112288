import { createHash } from 'node:crypto';
import { ConfigError, DataError, parseJson, readTextFile } from '../core/errors.js';
import { showValue } from '../core/options.js';
import type { Dataset } from '../eval/dataset.js';
import { evaluateTree } from '../eval/reference.js';
import { latexNumber, toLatex, toSympy, type SympyOptions } from '../tree/export.js';
import { Op } from '../tree/primitives.js';
import { toInfix } from '../tree/print.js';
import { simplify } from '../tree/simplify.js';
import { isValidTree, makeTree, type Tree } from '../tree/tree.js';
import { choleskySolve, rowStride, strideRows } from './optimise.js';

/**
 * Format name and version of model files (2 added prediction bounds, 3 their linear envelope); a reader
 * accepts 1 to 3. A file without an envelope is written as version 2, which older readers accept.
 */
export const MODEL_FORMAT = 'gpmate-model';
export const MODEL_VERSION = 3;
const READABLE_VERSIONS = [1, 2, 3];

/**
 * Bounds a model's predictions are clamped to: the training target's range. On every row whose true
 * value lies in [lo, hi] (every training row) clamping can only move a prediction closer to it, so it
 * never worsens training fit; it stops a formula that leaves its training input box from running away.
 *
 * With an `envelope` (option `clampTo: 'linear'`) the range is widened row by row to the prediction L(x)
 * of a least-squares linear model of the inputs: [min(lo, L(x)), max(hi, L(x))]. Where the data follow
 * a trend beyond the training range (a larger county, a longer pipe), a formula may follow it as far
 * as a straight line would; a formula that runs away is still stopped, at the linear model's value.
 * The bounds still contain [lo, hi], so the property above holds.
 */
export interface Bounds {
  readonly lo: number;
  readonly hi: number;
  readonly envelope?: LinearEnvelope;
}

/** A linear model of the inputs: L(x) = sum_j weights[j] x_j + intercept. */
export interface LinearEnvelope {
  readonly weights: readonly number[];
  readonly intercept: number;
}

/** What clamping bounds predictions by (option `clampTo`): the target's range, or that and the linear envelope. */
export type ClampTo = 'range' | 'linear';
export const CLAMP_TO = ['range', 'linear'] as const satisfies readonly ClampTo[];

/** The range of a target column. */
export function boundsOf(y: Float64Array): Bounds {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of y) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return { lo, hi };
}

/** Most inputs and rows the envelope's line is fitted on (more rows are strided): its cost is rows x inputs^2. */
export const ENVELOPE_MAX_INPUTS = 256;
export const ENVELOPE_MAX_ROWS = 10_000;

/**
 * The least-squares linear model of y on the columns (each standardised, with a ridge of 1e-8 per row
 * for columns that are constant or collinear), fitted on at most {@link ENVELOPE_MAX_ROWS} evenly strided
 * rows; undefined where the fit is not trustworthy or too costly: fewer than two rows per coefficient,
 * more than {@link ENVELOPE_MAX_INPUTS} inputs, or a solve that fails.
 */
export function linearEnvelope(allColumns: readonly Float64Array[], allY: Float64Array): LinearEnvelope | undefined {
  const d = allColumns.length;
  if (d > ENVELOPE_MAX_INPUTS) return undefined;
  const { columns, y } = strideRows(allColumns, allY, rowStride(allY.length, ENVELOPE_MAX_ROWS));
  const n = y.length;
  if (n < 2 * (d + 1)) return undefined;
  const mean = columns.map((c) => c.reduce((a, v) => a + v, 0) / n);
  const sd = columns.map((c, j) => Math.sqrt(c.reduce((a, v) => a + (v - (mean[j] as number)) ** 2, 0) / n) || 1);
  const ym = y.reduce((a, v) => a + v, 0) / n;
  const A = new Float64Array(d * d);
  const r = new Float64Array(d);
  const z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) z[j] = ((columns[j] as Float64Array)[i]! - mean[j]!) / sd[j]!;
    const yi = (y[i] as number) - ym;
    for (let j = 0; j < d; j++) {
      const zj = z[j] as number;
      r[j] = (r[j] as number) + zj * yi;
      for (let k = 0; k <= j; k++) A[j * d + k] = (A[j * d + k] as number) + zj * (z[k] as number);
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < j; k++) A[k * d + j] = A[j * d + k] as number;
    A[j * d + j] = (A[j * d + j] as number) + 1e-8 * n;
  }
  const solved = choleskySolve(A, r, d);
  if (!solved) return undefined;
  const weights = Array.from(solved, (v, j) => v / (sd[j] as number));
  const intercept = weights.reduce((a, w, j) => a - w * (mean[j] as number), ym);
  if (!weights.every(Number.isFinite) || !Number.isFinite(intercept)) return undefined;
  return { weights, intercept };
}

/** The bounds of option `clampTo` for a training set. */
export function clampBounds(train: Dataset, to: ClampTo): Bounds {
  const range = boundsOf(train.y);
  const envelope = to === 'linear' ? linearEnvelope(train.columns, train.y) : undefined;
  return envelope ? { ...range, envelope } : range;
}

/** The envelope as a tree (terms with a weight of 0 left out): what is printed, and what is evaluated. */
export function envelopeTree(e: LinearEnvelope): Tree {
  const op: number[] = [];
  const arg: number[] = [];
  let terms = 0;
  e.weights.forEach((w, j) => {
    if (w === 0) return;
    op.push(Op.Var, Op.Const, Op.Mul);
    arg.push(j, w, 0);
    if (terms++ > 0) {
      op.push(Op.Add);
      arg.push(0);
    }
  });
  op.push(Op.Const);
  arg.push(e.intercept);
  if (terms > 0) {
    op.push(Op.Add);
    arg.push(0);
  }
  return makeTree(op, arg);
}

/**
 * Clamps predictions into the bounds, in place (NaN stays NaN); returns them. Bounds with an envelope
 * need the input columns the predictions were made on.
 */
export function clampPredictions(pred: Float64Array, b: Bounds | undefined, columns?: readonly Float64Array[]): Float64Array {
  if (!b) return pred;
  if (!b.envelope) return clampRows(pred, b.lo, b.hi);
  if (!columns) throw new Error('clampPredictions: bounds with an envelope need the input columns');
  return clampRows(pred, b.lo, b.hi, evaluateTree(envelopeTree(b.envelope), columns, pred.length));
}

/**
 * Clamps predictions into [lo, hi], in place, widened on each row to the line's value there when a line
 * is given (a line value that is not finite, from inputs near the double range, widens nothing); NaN
 * stays NaN. Returns them.
 */
export function clampRows(pred: Float64Array, lo: number, hi: number, line?: ArrayLike<number>): Float64Array {
  for (let i = 0; i < pred.length; i++) {
    const v = pred[i] as number;
    const l = line && Number.isFinite(line[i]) ? (line[i] as number) : NaN; // NaN widens nothing
    const low = l < lo ? l : lo;
    const high = l > hi ? l : hi;
    if (v < low) pred[i] = low;
    else if (v > high) pred[i] = high;
  }
  return pred;
}

/**
 * A model's text in each notation, given its formula's text `e` there: with bounds, the clamp around it
 * (with an envelope: `clamp(e, min(lo, L), max(hi, L))`, L the linear model over `names`).
 */
export const clampedText = {
  infix: (e: string, b: Bounds | undefined, names: readonly string[]): string => {
    if (!b) return e;
    if (!b.envelope) return `clamp(${e}, ${b.lo}, ${b.hi})`;
    const l = toInfix(envelopeTree(b.envelope), names);
    return `clamp(${e}, min(${b.lo}, ${l}), max(${b.hi}, ${l}))`;
  },
  latex: (e: string, b: Bounds | undefined, names: readonly string[]): string => {
    if (!b) return e;
    const lo = latexNumber(b.lo);
    const hi = latexNumber(b.hi);
    const l = b.envelope && toLatex(envelopeTree(b.envelope), names);
    const [low, high] = l ? [`\\min\\left(${lo}, ${l}\\right)`, `\\max\\left(${hi}, ${l}\\right)`] : [lo, hi];
    return `\\min\\left(\\max\\left(${e}, ${low}\\right), ${high}\\right)`;
  },
  sympy: (e: string, b: Bounds | undefined, names: readonly string[], o?: SympyOptions): string => {
    if (!b) return e;
    if (!b.envelope) return `Min(Max(${e}, ${b.lo}), ${b.hi})`;
    const l = toSympy(envelopeTree(b.envelope), names, o);
    return `Min(Max(${e}, Min(${b.lo}, ${l})), Max(${b.hi}, ${l}))`;
  },
};

/**
 * A clamped model's printed text taken apart (the inverse of clampedText.infix): the formula's text, the
 * bounds, and with an envelope the text of its line L; undefined for text without a clamp.
 */
export function clampedParts(expression: string): { formula: string; lo: number; hi: number; line?: string } | undefined {
  const e = /^clamp\((.*), min\((\S+), (.*)\), max\((\S+), \3\)\)$/s.exec(expression);
  if (e) return { formula: e[1] as string, lo: Number(e[2]), hi: Number(e[4]), line: e[3] as string };
  const m = /^clamp\((.*), (\S+), (\S+)\)$/s.exec(expression);
  return m ? { formula: m[1] as string, lo: Number(m[2]), hi: Number(m[3]) } : undefined;
}

/** The body of a model file (everything but the checksum), in the order it is written. */
export interface ModelBody {
  readonly format: typeof MODEL_FORMAT;
  readonly version: number;
  /** gpmate package version that wrote the file (informative). */
  readonly gpmate: string;
  /** Input column names, in the order variable indices refer to them. */
  readonly inputs: readonly string[];
  readonly target?: string;
  /** The data file's row ranges [start, end) the model was trained and tested on (informative). */
  readonly rows?: { readonly train: readonly [number, number]; readonly test?: readonly [number, number] };
  /** The model in the flat postfix encoding (scale and offset included): opcodes and arguments. */
  readonly tree: { readonly op: readonly number[]; readonly arg: readonly number[] };
  /** Predictions are clamped to [lo, hi] (absent: not clamped). */
  readonly bounds?: readonly [number, number];
  /** Version 3: [lo, hi] widened row by row to this linear model's value (see Bounds). */
  readonly envelope?: LinearEnvelope;
  readonly expression: string;
  readonly latex: string;
  readonly sympy: string;
  /** Training and test figures at save time (informative). */
  readonly metrics?: Readonly<Record<string, number | null>>;
}

export interface ModelFile extends ModelBody {
  /** sha256 (hex) of the JSON text of the body. */
  readonly checksum: string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A model file's JSON text for a tree over `inputs`. */
export function modelJson(
  tree: Tree,
  inputs: readonly string[],
  gpmate: string,
  extra: { target?: string; rows?: ModelBody['rows']; metrics?: Record<string, number | null>; bounds?: Bounds } = {},
): string {
  for (let i = 0; i < tree.arg.length; i++) {
    if (!Number.isFinite(tree.arg[i] as number)) throw new ConfigError(`model: constant at node ${i} is not finite (${tree.arg[i]})`);
  }
  const b = extra.bounds;
  if (b && !(Number.isFinite(b.lo) && Number.isFinite(b.hi) && b.lo <= b.hi))
    throw new ConfigError(`model: bounds [${b.lo}, ${b.hi}] are not a finite range`);
  if (b?.envelope && !validEnvelope(b.envelope, inputs.length))
    throw new ConfigError(`model: the envelope needs ${inputs.length} finite weights and a finite intercept`);
  const s = simplify(tree);

  const body: ModelBody = {
    format: MODEL_FORMAT,
    version: b?.envelope ? MODEL_VERSION : 2,
    gpmate,
    inputs,
    ...(extra.target !== undefined ? { target: extra.target } : {}),
    ...(extra.rows !== undefined ? { rows: extra.rows } : {}),
    tree: { op: Array.from(tree.op), arg: Array.from(tree.arg, (v) => (Object.is(v, -0) ? 0 : v)) },
    ...(b ? { bounds: [b.lo, b.hi] as const } : {}),
    ...(b?.envelope ? { envelope: { weights: [...b.envelope.weights], intercept: b.envelope.intercept } } : {}),
    expression: clampedText.infix(toInfix(tree, inputs), b, inputs),
    latex: clampedText.latex(toLatex(s, inputs), b, inputs),
    sympy: clampedText.sympy(toSympy(s, inputs), b, inputs),
    ...(extra.metrics ? { metrics: extra.metrics } : {}),
  };
  const json = JSON.stringify(body);
  return JSON.stringify({ ...body, checksum: sha256(json) }, null, 2) + '\n';
}

/** A loaded model: the tree and its input names. */
export interface LoadedModel {
  readonly tree: Tree;
  readonly bounds?: Bounds;
  readonly inputs: readonly string[];
  readonly target?: string;
  readonly expression: string;
}

/** Parses and verifies a model file's text: format, version, checksum, tree encoding, finite constants. */
export function parseModel(text: string, where: string): LoadedModel {
  const json = parseJson(text, where) as Record<string, unknown>;
  if (typeof json !== 'object' || json === null || json['format'] !== MODEL_FORMAT)
    throw new DataError(`${where}: not a gpmate model file`);
  const version = json['version'];
  if (typeof version !== 'number') throw new DataError(`${where}: "version" must be a number (1 to 3), got ${showValue(version)}`);
  if (!READABLE_VERSIONS.includes(version)) {
    throw new DataError(
      `${where}: model format version ${version} (written by gpmate ${String(json['gpmate'])}); this gpmate reads versions ${READABLE_VERSIONS.join(', ')}`,
    );
  }
  const { checksum, ...body } = json;
  if (typeof checksum !== 'string' || sha256(JSON.stringify(body)) !== checksum) {
    throw new DataError(`${where}: checksum mismatch: the model file was modified or is corrupt`);
  }
  const b = body as unknown as ModelBody;
  const inputs = b.inputs;
  if (!Array.isArray(inputs) || !inputs.every((n) => typeof n === 'string'))
    throw new DataError(`${where}: "inputs" must be a list of column names`);
  const seen = new Set<string>(); // not indexOf per name: quadratic on a long list
  const twice = inputs.find((n) => seen.has(n) || (seen.add(n), false));
  if (twice !== undefined) throw new DataError(`${where}: "inputs" names column "${twice}" twice`);
  const op = b.tree?.op;
  const arg = b.tree?.arg;
  if (!Array.isArray(op) || !Array.isArray(arg) || op.length !== arg.length || !arg.every((v) => typeof v === 'number')) {
    throw new DataError(`${where}: "tree" must hold "op" and "arg" lists of equal length`);
  }
  // opcodes are stored in bytes: a fraction or a number past 255 would be read as another opcode
  if (!op.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) throw new DataError(`${where}: the tree encoding is invalid`);
  const tree = makeTree(op, arg);
  if (!isValidTree(tree, inputs.length)) throw new DataError(`${where}: the tree encoding is invalid`);
  let bounds: Bounds | undefined;
  if (b.bounds !== undefined) {
    if (b.version === 1) throw new DataError(`${where}: "bounds" in a version 1 model file (bounds came with version 2)`);
    const [lo, hi] = Array.isArray(b.bounds) && b.bounds.length === 2 ? b.bounds : [NaN, NaN];
    if (!(typeof lo === 'number' && typeof hi === 'number' && Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) {
      throw new DataError(`${where}: "bounds" must be two finite numbers [lo, hi] with lo <= hi`);
    }
    bounds = { lo, hi };
  }
  if (b.envelope !== undefined) {
    if (b.version < 3) throw new DataError(`${where}: "envelope" in a version ${b.version} model file (envelopes came with version 3)`);
    if (!bounds) throw new DataError(`${where}: "envelope" without "bounds"`);
    if (!validEnvelope(b.envelope, inputs.length)) {
      throw new DataError(
        `${where}: "envelope" must hold "weights" (${inputs.length} finite numbers, one per input) and a finite "intercept"`,
      );
    }
    bounds = { ...bounds, envelope: { weights: b.envelope.weights, intercept: b.envelope.intercept } };
  }
  return {
    tree,
    inputs,
    expression: String(b.expression),
    ...(b.target !== undefined ? { target: b.target } : {}),
    ...(bounds ? { bounds } : {}),
  };
}

function validEnvelope(e: unknown, inputs: number): e is LinearEnvelope {
  if (typeof e !== 'object' || e === null) return false;
  const { weights, intercept } = e as Record<string, unknown>;
  return (
    Array.isArray(weights) &&
    weights.length === inputs &&
    weights.every((w) => typeof w === 'number' && Number.isFinite(w)) &&
    typeof intercept === 'number' &&
    Number.isFinite(intercept)
  );
}

export function readModel(path: string): LoadedModel {
  const text = readTextFile(path);
  return parseModel(text, path);
}

/**
 * Applies a model to a table with named columns: every model input must be a column (by name; order
 * and extra columns do not matter); predictions are clamped to the model's bounds (an infinite value
 * becomes the bound). A NaN prediction, or an infinite one of a model without bounds, is an error
 * naming the first such row.
 */
export function predictColumns(
  m: LoadedModel,
  header: readonly string[],
  columns: readonly Float64Array[],
  rows: number,
  where: string,
): Float64Array {
  const missing = m.inputs.filter((n) => !header.includes(n));
  if (missing.length)
    throw new DataError(
      `${where}: missing column${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')} that the model needs`,
    );
  const cols = m.inputs.map((n) => columns[header.indexOf(n)] as Float64Array);
  const pred = clampPredictions(evaluateTree(m.tree, cols, rows), m.bounds, cols);
  const bad = pred.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new DataError(`${where}: the model gives a non-finite value (${pred[bad]}) on data row ${bad + 1}`);
  return pred;
}

/** Predictions of a model on a Dataset whose names match the model's inputs. */
export function predictDataset(m: LoadedModel, ds: Dataset): Float64Array {
  return predictColumns(m, ds.names, ds.columns, ds.rows, 'data');
}
