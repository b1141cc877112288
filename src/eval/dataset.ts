import { ConfigError, DataError } from '../core/errors.js';

/**
 * A numeric data set stored column-wise (one Float64Array per input variable), the layout every
 * evaluator reads. `y` is the target.
 */
export interface Dataset {
  readonly names: readonly string[];
  readonly columns: readonly Float64Array[];
  readonly y: Float64Array;
  readonly rows: number;
}

export function makeDataset(names: readonly string[], columns: readonly Float64Array[], y: Float64Array): Dataset {
  if (columns.length !== names.length) throw new ConfigError('dataset: one column per name');
  for (const c of columns) if (c.length !== y.length) throw new ConfigError('dataset: columns of unequal length');
  return { names, columns, y, rows: y.length };
}

/** Where a task's rows come from in its data file: the target column and half-open row ranges [start, end). */
export interface TaskSplit {
  readonly target: string;
  readonly train: readonly [number, number];
  readonly test?: readonly [number, number];
}

/** A regression task: training data, optional test data, and defaults a benchmark may set (problems/ builds them; src/sr runs them). */
export interface RegressionTask {
  readonly name: string;
  readonly train: Dataset;
  readonly test?: Dataset;
  /** The benchmark's own function set, used unless the options name one. */
  readonly functions?: readonly string[];
  /** For a task read from a file: its target column and row ranges (recorded in summaries and model files). */
  readonly split?: TaskSplit;
}

/** Rows that the test range shares with the training range: errors on them are not out-of-sample. */
export function overlapRows(split: TaskSplit): number {
  if (!split.test) return 0;
  return Math.max(0, Math.min(split.train[1], split.test[1]) - Math.max(split.train[0], split.test[0]));
}

/**
 * Refuses a task whose data sets do not hold together (the library takes them as plain objects): a column or
 * target whose length is not `rows`, a value that is not a finite number, or test columns other than the
 * training columns (a variable would read another column, or none, and the test figures be wrong).
 */
export function checkTaskData(task: RegressionTask): void {
  const check = (ds: Dataset, what: string): void => {
    if (!Number.isInteger(ds.rows) || ds.y.length !== ds.rows || ds.columns.length !== ds.names.length)
      throw new DataError(
        `${task.name}: the ${what} data: ${ds.names.length} names, ${ds.columns.length} columns, ${ds.y.length} targets, rows ${ds.rows}`,
      );
    for (const [c, col] of [...ds.columns.map((x, i) => [ds.names[i], x] as const), ['target', ds.y] as const]) {
      if (col.length !== ds.rows)
        throw new DataError(`${task.name}: the ${what} data: column ${c} has ${col.length} values, not ${ds.rows}`);
      const bad = col.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new DataError(`${task.name}: the ${what} data: column ${c}, row ${bad} is not a finite number (${col[bad]})`);
    }
  };
  check(task.train, 'training');
  if (!task.test) return;
  check(task.test, 'test');
  if (task.test.names.join('\0') !== task.train.names.join('\0'))
    throw new DataError(
      `${task.name}: the test data's columns (${task.test.names.join(', ')}) are not the training data's (${task.train.names.join(', ')})`,
    );
}

/**
 * Refuses a target nothing can be fitted to: a constant one (R^2 is undefined and any model that
 * outputs the constant is exact), one whose squared deviations from its mean overflow (then every
 * model's error, and R^2, is infinite or NaN), or one whose squared deviations underflow (their sum
 * below the smallest normal double, 2^-1022: then every model's error rounds to 0 and R^2 is undefined).
 * `what` names the target in the message.
 */
export function checkTarget(y: Float64Array, what: string): void {
  let mean = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    mean += (v - mean) / (i + 1); // a running mean: the plain sum of large values overflows first
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (y.length > 0 && lo === hi) throw new DataError(`${what} is constant (every value is ${lo}): there is nothing to fit`);
  let sst = 0;
  for (const v of y) sst += (v - mean) * (v - mean);
  if (!Number.isFinite(sst))
    throw new DataError(
      `${what} spans ${lo} to ${hi}: its squared errors overflow double precision; rescale the column (divide it by a power of 10)`,
    );
  if (y.length > 0 && sst < 2 ** -1022)
    throw new DataError(
      `${what} spans ${lo} to ${hi}: its squared errors underflow double precision; rescale the column (multiply it by a power of 10)`,
    );
}
