import { createHash } from 'node:crypto';
import { ConfigError, DataError, parseJson, readTextFile } from '../core/errors.js';
import { showValue } from '../core/options.js';
import type { Dataset } from '../eval/dataset.js';
import { evaluateTree } from '../eval/reference.js';
import { latexNumber, toLatex, toSympy } from '../tree/export.js';
import { toInfix } from '../tree/print.js';
import { simplify } from '../tree/simplify.js';
import { isValidTree, makeTree, type Tree } from '../tree/tree.js';

/** Format name and version of model files (2 added prediction bounds); a reader accepts 1 and 2. */
export const MODEL_FORMAT = 'gpmate-model';
export const MODEL_VERSION = 2;
const READABLE_VERSIONS = [1, 2];

/**
 * Bounds a model's predictions are clamped to: the training target's range. On every row whose true
 * value lies in [lo, hi] (every training row) clamping can only move a prediction closer to it, so it
 * never worsens training fit; it stops a formula that leaves its training input box from running away.
 */
export interface Bounds {
  readonly lo: number;
  readonly hi: number;
}

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

/** Clamps predictions into the bounds, in place (NaN stays NaN); returns them. */
export function clampPredictions(pred: Float64Array, b: Bounds | undefined): Float64Array {
  if (!b) return pred;
  for (let i = 0; i < pred.length; i++) {
    const v = pred[i] as number;
    if (v < b.lo) pred[i] = b.lo;
    else if (v > b.hi) pred[i] = b.hi;
  }
  return pred;
}

/** A model's text in each notation, given its formula's text `e` there: with bounds, the clamp around it. */
export const clampedText = {
  infix: (e: string, b: Bounds | undefined): string => (b ? `clamp(${e}, ${b.lo}, ${b.hi})` : e),
  latex: (e: string, b: Bounds | undefined): string =>
    b ? `\\min\\left(\\max\\left(${e}, ${latexNumber(b.lo)}\\right), ${latexNumber(b.hi)}\\right)` : e,
  sympy: (e: string, b: Bounds | undefined): string => (b ? `Min(Max(${e}, ${b.lo}), ${b.hi})` : e),
};

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
  const s = simplify(tree);

  const body: ModelBody = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    gpmate,
    inputs,
    ...(extra.target !== undefined ? { target: extra.target } : {}),
    ...(extra.rows !== undefined ? { rows: extra.rows } : {}),
    tree: { op: Array.from(tree.op), arg: Array.from(tree.arg, (v) => (Object.is(v, -0) ? 0 : v)) },
    ...(b ? { bounds: [b.lo, b.hi] as const } : {}),
    expression: clampedText.infix(toInfix(tree, inputs), b),
    latex: clampedText.latex(toLatex(s, inputs), b),
    sympy: clampedText.sympy(toSympy(s, inputs), b),
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
  if (typeof version !== 'number') throw new DataError(`${where}: "version" must be a number (1 or 2), got ${showValue(version)}`);
  if (!READABLE_VERSIONS.includes(version)) {
    throw new DataError(
      `${where}: model format version ${version} (written by gpmate ${String(json['gpmate'])}); this gpmate reads versions ${READABLE_VERSIONS.join(' and ')}`,
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
  const op = b.tree?.op;
  const arg = b.tree?.arg;
  if (!Array.isArray(op) || !Array.isArray(arg) || op.length !== arg.length || !arg.every((v) => typeof v === 'number')) {
    throw new DataError(`${where}: "tree" must hold "op" and "arg" lists of equal length`);
  }
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
  return {
    tree,
    inputs,
    expression: String(b.expression),
    ...(b.target !== undefined ? { target: b.target } : {}),
    ...(bounds ? { bounds } : {}),
  };
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
  const pred = clampPredictions(evaluateTree(m.tree, cols, rows), m.bounds);
  const bad = pred.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new DataError(`${where}: the model gives a non-finite value (${pred[bad]}) on data row ${bad + 1}`);
  return pred;
}

/** Predictions of a model on a Dataset whose names match the model's inputs. */
export function predictDataset(m: LoadedModel, ds: Dataset): Float64Array {
  return predictColumns(m, ds.names, ds.columns, ds.rows, 'data');
}
