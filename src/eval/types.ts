import type { Evaluator } from '../core/types.js';
import type { Tree } from '../tree/tree.js';
import type { FitnessKind } from './loss.js';

/** Rows [start, end) of a data set. */
export interface RowRange {
  readonly start: number;
  readonly end: number;
}

/** A tree evaluator of the fast back end (in-process or pooled): fitness and raw outputs in batches. */
export interface TreeEvaluator extends Evaluator<Tree> {
  /** Threads evaluating (1 = in-process). */
  readonly threads: number;
  readonly fitnessKind: FitnessKind;
  /** One loss per tree (non-finite outputs give +Infinity), bit-identical to the reference functions. */
  evaluate(trees: readonly Tree[]): Promise<Float64Array>;
  /**
   * Outputs of each tree on the training rows [start, end) (default: all), bit-identical to
   * evaluateTree: for semantic distances and behavioural diversity.
   */
  outputs(trees: readonly Tree[], rows?: RowRange): Promise<Float64Array[]>;
  close(): Promise<void>;
}
