import { apply1, apply2, ARITY, Op } from '../tree/primitives.js';
import type { Tree } from '../tree/tree.js';
import type { Evaluator } from '../core/types.js';
import type { Dataset } from './dataset.js';

/**
 * Reference evaluator: the outputs of a tree on every row, column-wise over the whole data set.
 * Written for clarity, not speed (one fresh column per node); it defines the semantics the fast
 * evaluators must reproduce bit for bit. `round`, when given, is applied to every input, constant and
 * node result (Math.fround emulates an f32 evaluator); `visit` sees each node's column once computed.
 */
export function evaluateTree(
  t: Tree,
  columns: readonly Float64Array[],
  rows: number,
  round?: (x: number) => number,
  visit?: (column: Float64Array) => void,
): Float64Array {
  const stack: Float64Array[] = [];
  for (let i = 0; i < t.op.length; i++) {
    const op = t.op[i] as number;
    let a: Float64Array;
    if (op === Op.Const) a = new Float64Array(rows).fill(t.arg[i] as number);
    else if (op === Op.Var) a = Float64Array.from((columns[t.arg[i] as number] as Float64Array).subarray(0, rows));
    else if (ARITY[op] === 1) {
      a = stack.pop() as Float64Array;
      for (let r = 0; r < rows; r++) a[r] = apply1(op, a[r] as number);
    } else {
      const b = stack.pop() as Float64Array;
      a = stack.pop() as Float64Array;
      for (let r = 0; r < rows; r++) a[r] = apply2(op, a[r] as number, b[r] as number);
    }
    if (round) for (let r = 0; r < rows; r++) a[r] = round(a[r] as number);
    visit?.(a);
    stack.push(a);
  }
  return stack.pop() as Float64Array;
}

/** Root mean squared error; +Infinity when any prediction (or the error sum) is not finite. */
export function rmse(pred: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let r = 0; r < y.length; r++) {
    const e = (pred[r] as number) - (y[r] as number);
    s += e * e;
  }
  const v = Math.sqrt(s / y.length);
  return Number.isFinite(v) ? v : Infinity;
}

/** Coefficient of determination 1 - SSE/SST (-Infinity for non-finite predictions; NaN, undefined, for a constant target). */
export function rSquared(pred: ArrayLike<number>, y: ArrayLike<number>): number {
  let mean = 0;
  for (let r = 0; r < y.length; r++) mean += y[r] as number;
  mean /= y.length;
  let sse = 0;
  let sst = 0;
  for (let r = 0; r < y.length; r++) {
    const e = (pred[r] as number) - (y[r] as number);
    const d = (y[r] as number) - mean;
    sse += e * e;
    sst += d * d;
  }
  if (!Number.isFinite(sse)) return -Infinity;
  return sst === 0 ? NaN : 1 - sse / sst;
}

/** Training RMSE of a tree on a data set (the fitness gpmate minimises for regression). */
export function treeRmse(t: Tree, ds: Dataset): number {
  return rmse(evaluateTree(t, ds.columns, ds.rows), ds.y);
}

/** In-process evaluator on the reference interpreter (JavaScript, f64): RMSE of each tree on the training data (non-finite -> +Infinity). */
export class ReferenceEvaluator implements Evaluator<Tree> {
  constructor(private readonly data: Dataset) {}

  async evaluate(trees: readonly Tree[]): Promise<Float64Array> {
    const out = new Float64Array(trees.length);
    for (let i = 0; i < trees.length; i++) out[i] = treeRmse(trees[i] as Tree, this.data);
    return out;
  }
}
