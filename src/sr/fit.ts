import { ConfigError } from '../core/errors.js';
import { makeDataset, type Dataset } from '../eval/dataset.js';
import { evaluateTree } from '../eval/reference.js';
import { toLatex, toSympy, type SympyOptions } from '../tree/export.js';
import { toInfix } from '../tree/print.js';
import { simplify } from '../tree/simplify.js';
import type { Tree } from '../tree/tree.js';
import { clampedText, clampPredictions, modelJson, type Bounds } from './model.js';
import { givenOptions, type RegressionOptions } from './options.js';
import { runRegression, type FrontMember, type RegressionResult } from './run.js';

/** Options of {@link fit}: every run option (the `data` preset's defaults), and input names (default x0, x1, ...). */
export interface FitOptions extends RegressionOptions {
  /** Names of the input columns (used in expressions and exports). */
  names?: readonly string[];
  /** Held-out data for reporting test errors (not used by the search). */
  test?: { X: readonly (readonly number[])[]; y: readonly number[] };
}

/** Inputs to predict on: rows of numbers (one per sample) or columns by input name. */
export type Inputs = readonly (readonly number[])[] | Readonly<Record<string, ArrayLike<number>>>;

/** A fitted formula: applies to new data and exports itself. */
export interface Model {
  /** Infix text of the model (offset and slope included; `clamp(formula, lo, hi)` with bounds, see Bounds). */
  readonly expression: string;
  readonly tree: Tree;
  /** Predictions are clamped to these (option `clamp`, on by default here). */
  readonly bounds?: Bounds;
  readonly inputs: readonly string[];
  readonly size: number;
  readonly trainRmse: number;
  readonly trainR2: number;
  readonly testR2?: number;
  predict(x: Inputs): Float64Array;
  /**
   * Simplified infix, LaTeX and SymPy strings; with bounds `clamp(f, lo, hi)` (which parseInfix does
   * not read), `\min(\max(f, lo), hi)` with \left and \right, and `Min(Max(f, lo), hi)`.
   */
  toInfix(): string;
  toLatex(): string;
  toSympy(o?: SympyOptions): string;
  /** A model file (the format `gpmate predict` reads). */
  toJSON(): string;
}

/** The chosen model with the whole Pareto front (ascending size) and the run's result. */
export interface FittedModel extends Model {
  readonly front: readonly Model[];
  readonly result: RegressionResult;
}

function columnsOf(X: readonly (readonly number[])[], width: number, what: string): Float64Array[] {
  const cols = Array.from({ length: width }, () => new Float64Array(X.length));
  X.forEach((row, r) => {
    if (row.length !== width) throw new ConfigError(`${what}: row ${r} has ${row.length} values, expected ${width}`);
    row.forEach((v, c) => {
      if (!Number.isFinite(v)) throw new ConfigError(`${what}: row ${r}, column ${c} is not a finite number (${v})`);
      (cols[c] as Float64Array)[r] = v;
    });
  });
  return cols;
}

/** A list of numbers as fit() takes one (an array or a typed array); its values are checked later. */
const isList = (v: unknown): boolean => Array.isArray(v) || ArrayBuffer.isView(v);
/** Rows as fit() takes them: an array of lists. */
const isRows = (v: unknown): boolean => Array.isArray(v) && v.every(isList);

/** The values as a Float64Array; a ConfigError naming the first one that is not a finite number. */
function finiteValues(y: ArrayLike<number>, what: string): Float64Array {
  const bad = Array.prototype.findIndex.call(y, (v: unknown) => !Number.isFinite(v));
  if (bad >= 0) throw new ConfigError(`${what}: value ${bad} is not a finite number (${y[bad]})`);
  return Float64Array.from(y);
}

function modelOf(
  m: Pick<FrontMember, 'tree' | 'size' | 'trainRmse' | 'trainR2' | 'testR2' | 'expression'>,
  inputs: readonly string[],
  bounds: Bounds | undefined,
): Model {
  const s = simplify(m.tree);
  return {
    expression: m.expression,
    tree: m.tree,
    ...(bounds ? { bounds } : {}),
    inputs,
    size: m.size,
    trainRmse: m.trainRmse,
    trainR2: m.trainR2,
    ...(m.testR2 !== undefined ? { testR2: m.testR2 } : {}),
    predict(x: Inputs): Float64Array {
      let cols: Float64Array[];
      let rows: number;
      if (typeof x !== 'object' || x === null || (Array.isArray(x) && !isRows(x)))
        throw new ConfigError('predict: expected rows of numbers or {column: numbers}');
      if (Array.isArray(x)) {
        cols = columnsOf(x as number[][], inputs.length, 'predict');
        rows = x.length;
      } else {
        const rec = x as Record<string, ArrayLike<number>>;
        const missing = inputs.filter((n) => rec[n] === undefined);
        if (missing.length) throw new ConfigError(`predict: missing input column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
        rows = rec[inputs[0] as string]?.length ?? 0;
        cols = inputs.map((n) => {
          const c = rec[n] as ArrayLike<number>;
          if (!isList(c)) throw new ConfigError(`predict: input column ${n} must be a list of numbers`);
          if (c.length !== rows) throw new ConfigError(`predict: input column ${n} has ${c.length} values, ${inputs[0]} ${rows}`);
          return finiteValues(c, `predict: input column ${n}`);
        });
      }
      return clampPredictions(evaluateTree(m.tree, cols, rows), bounds, cols);
    },
    toInfix: () => clampedText.infix(toInfix(s, inputs), bounds, inputs),
    toLatex: () => clampedText.latex(toLatex(s, inputs), bounds, inputs),
    toSympy: (o?: SympyOptions) => clampedText.sympy(toSympy(s, inputs, o), bounds, inputs, o),
    toJSON: () => modelJson(m.tree, inputs, 'library', bounds ? { bounds } : {}),
  };
}

/**
 * Symbolic regression in one call: evolves formulas for y ~ X and returns the chosen model with
 * the Pareto front of error against size. Defaults suit real data: the `data` preset of src/sr/options.ts
 * (the same as `gpmate run --data`); every {@link RegressionOptions} field can be overridden.
 *
 * ```ts
 * import { fit } from 'gpmate';
 * const model = await fit(X, y, { populationSize: 300, generations: 30 });
 * model.predict([[1, 2]]); model.toLatex(); model.front.map((m) => m.toSympy());
 * ```
 */
export async function fit(X: readonly (readonly number[])[], y: readonly number[], options: FitOptions = {}): Promise<FittedModel> {
  // callers from JavaScript pass anything: said in one line, not a TypeError from deep inside
  if (!isRows(X)) throw new ConfigError('fit: X must be a list of rows, each a list of numbers');
  if (!isList(y)) throw new ConfigError('fit: y must be a list of numbers');
  if (typeof options !== 'object' || options === null) throw new ConfigError('fit: options must be an object');
  if (options.names !== undefined && !(Array.isArray(options.names) && options.names.every((n) => typeof n === 'string')))
    throw new ConfigError('option names: expected a list of column names');
  const t = options.test as { X?: unknown; y?: unknown } | undefined;
  if (t !== undefined && !(typeof t === 'object' && t !== null && isRows(t.X) && isList(t.y)))
    throw new ConfigError('option test: expected {X: rows of numbers, y: numbers}');
  if (X.length === 0 || X.length !== y.length)
    throw new ConfigError(`fit: X has ${X.length} rows and y ${y.length} values; expected equal, non-zero counts`);
  const width = (X[0] as number[]).length;
  const names = options.names ?? Array.from({ length: width }, (_, i) => `x${i}`);
  if (names.length !== width) throw new ConfigError(`option names: ${names.length} names for ${width} input columns`);
  const seen = new Set<string>(); // not indexOf per name: quadratic on a long list
  const twice = names.find((n) => seen.has(n) || (seen.add(n), false));
  if (twice !== undefined) throw new ConfigError(`option names: "${twice}" is given twice (a model file finds its inputs by name)`);
  const ys = finiteValues(y, 'fit y');
  const train: Dataset = makeDataset(names, columnsOf(X, width, 'fit X'), ys);
  const { names: _n, test, ...rest } = options;
  if (test && test.X.length !== test.y.length)
    throw new ConfigError(`option test: X has ${test.X.length} rows and y ${test.y.length} values; expected equal counts`);
  const testSet = test ? makeDataset(names, columnsOf(test.X, width, 'option test.X'), finiteValues(test.y, 'option test.y')) : undefined;
  const result = await runRegression({ name: 'fit', train, ...(testSet ? { test: testSet } : {}) }, givenOptions(rest, 'data'));
  const front = result.front.map((m) => modelOf(m, names, result.bounds));
  return { ...modelOf(result.best, names, result.bounds), front, result };
}
