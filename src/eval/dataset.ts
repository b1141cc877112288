import { ConfigError } from '../core/errors.js';

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

/** A regression task: training data, optional test data, and defaults a benchmark may set (problems/ builds them; src/sr runs them). */
export interface RegressionTask {
  readonly name: string;
  readonly train: Dataset;
  readonly test?: Dataset;
  /** The benchmark's own function set, used unless the options name one. */
  readonly functions?: readonly string[];
}
