import type { Individual } from '../core/types.js';
import { Op } from '../tree/primitives.js';
import type { Tree } from '../tree/tree.js';
import { constantIndices, constantsOf, forwardColumns, reverseAdjoints } from './optimise.js';

/** One member of a run's Pareto front of training loss against size. */
export interface FrontEntry {
  readonly tree: Tree;
  readonly loss: number;
  readonly size: number;
}

/**
 * Adds a population to a Pareto archive of (loss, size): keeps, for each size, the lowest loss
 * seen, and only entries that no smaller-or-equal entry matches or beats (best error per size,
 * non-dominated). Ties on loss keep the entry seen first, so the archive is deterministic.
 * Returns the new archive sorted by size.
 */
export function updateFront(front: readonly FrontEntry[], pop: readonly Individual<Tree>[]): FrontEntry[] {
  const bySize = new Map<number, FrontEntry>();
  for (const e of front) bySize.set(e.size, e);
  for (const p of pop) {
    const loss = p.fitness;
    if (loss === undefined || !Number.isFinite(loss)) continue;
    const size = p.genome.op.length;
    const cur = bySize.get(size);
    if (!cur || loss < cur.loss) bySize.set(size, { tree: p.genome, loss, size });
  }
  return improving([...bySize.values()].sort((a, b) => a.size - b.size));
}

/** Of entries in ascending size, those with a lower loss than every smaller one (a front stays a front). */
export function improving<T extends { readonly loss: number }>(bySize: readonly T[]): T[] {
  const out: T[] = [];
  let bestLoss = Infinity;
  for (const e of bySize) {
    if (e.loss < bestLoss) {
      out.push(e);
      bestLoss = e.loss;
    }
  }
  return out;
}

/**
 * How the reported model is chosen from the front:
 * - `best`: lowest training loss (the largest front member);
 * - `score`: PySR's rule (Cranmer 2023): among members with loss <= 1.5 x the lowest, the one with
 *   the highest score -d log(loss) / d size against the next smaller member (a knee of the front);
 * - `validation`: lowest error on held-out validation rows (every 4th training row is held out from
 *   evolution for this);
 * - `aic`, `bic`: the lowest information criterion n ln(MSE) + k p over the n training rows, p the
 *   model's fitted constants (the genome's constants; linear scaling adds the same two to every
 *   member) and k = 2 (Akaike) or ln n (Bayesian): on few rows another constant must buy a larger drop
 *   in error, on many rows the lowest error wins;
 * - `mdl`: the shortest description length (Bartlett, Desmond & Ferreira 2023, as Operon's
 *   `--model-selection mdl`): the structure's k ln q nats (k nodes over q distinct symbols), each
 *   constant's cost at the precision its Fisher information allows, and the Gaussian negative
 *   log-likelihood on the training rows ({@link descriptionLength}). Unlike `bic`, a larger structure
 *   costs by itself, not only through its constants.
 */
export type ModelSelection = 'best' | 'score' | 'validation' | 'aic' | 'bic' | 'mdl';
export const MODEL_SELECTIONS = ['best', 'score', 'validation', 'aic', 'bic', 'mdl'] as const satisfies readonly ModelSelection[];

/** Rows per block of {@link descriptionLength}'s passes: memory stays at nodes x this many numbers. */
const MDL_BLOCK = 4096;

/**
 * A model's description length in nats on training data (Bartlett, Desmond & Ferreira 2023,
 * arXiv:2304.06333, Sec. 2.2, Eq. 5, as Operon's MinimumDescriptionLength computes it): k ln q for the
 * structure (k nodes, q distinct symbols: each operator, each input column, and constants as one), then
 * for each constant c with Fisher information f (its squared derivative summed over the rows, over
 * sigma^2) whose value is at least one precision step sqrt(12 / f), ln|c| + ln(f) / 2; minus ln(3) / 2
 * per constant; plus the negative log-likelihood n ln(2 pi sigma^2) / 2 + SSE / (2 sigma^2) at sigma^2
 * the mean squared error (at least `rmseFloor`^2). The tree is the reported model (scaling terms
 * included), evaluated as the kernel does; +Infinity where it is not finite.
 */
export function descriptionLength(t: Tree, columns: readonly Float64Array[], y: Float64Array, rmseFloor = 0): number {
  const n = y.length;
  if (n === 0) return Infinity;
  const nodes = t.op.length;
  const symbols = new Set<number>();
  for (let i = 0; i < nodes; i++) {
    const op = t.op[i] as number;
    // an input is a symbol of its own per column; every constant is the one symbol `constant`
    symbols.add(op === Op.Var ? -1 - (t.arg[i] as number) : op);
  }
  const consts = constantIndices(t);
  const p = consts.length;
  // per constant (in consts' order): the sum over rows of its squared derivative; the model's SSE
  const grad = new Float64Array(p);
  let sse = 0;
  for (let a = 0; a < n; a += MDL_BLOCK) {
    const b = Math.min(n, a + MDL_BLOCK);
    const values = forwardColumns(
      t,
      columns.map((c) => c.subarray(a, b)),
      b - a,
    );
    const f = values[nodes - 1] as Float64Array;
    for (let r = a; r < b; r++) {
      const e = (y[r] as number) - (f[r - a] as number);
      sse += e * e;
    }
    if (!Number.isFinite(sse)) return Infinity;
    if (p === 0) continue;
    const adj = reverseAdjoints(t, values, b - a);
    consts.forEach((c, k) => {
      const col = adj[c] as Float64Array;
      let g = 0;
      for (let r = 0; r < b - a; r++) g += (col[r] as number) * (col[r] as number);
      grad[k]! += g;
    });
  }
  const s2 = Math.max(sse / n, rmseFloor * rmseFloor, Number.MIN_VALUE);
  const nll = 0.5 * n * Math.log(2 * Math.PI * s2) + sse / (2 * s2);
  const q = symbols.size;
  let cost = q > 1 ? nodes * Math.log(q) : 0;
  for (let k = 0; k < p; k++) {
    const fi = (grad[k] as number) / s2;
    if (!Number.isFinite(fi)) return Infinity;
    const c = Math.abs(t.arg[consts[k] as number] as number);
    // a constant within one precision step of 0 costs nothing (it could as well be 0)
    if (fi > 0 && c >= Math.sqrt(12 / fi)) cost += 0.5 * Math.log(fi) + Math.log(c);
  }
  cost -= (p / 2) * Math.log(3);
  const dl = cost + nll;
  return Number.isFinite(dl) ? dl : Infinity;
}

/**
 * Index of the chosen front member (front sorted by size, loss decreasing; the loss an RMSE). `rows`, the
 * number of training rows the losses were measured on, is needed by `aic` and `bic`; `train`, the
 * training rows themselves, by `mdl` (each member's tree is then the reported model, scaling included).
 */
export function selectFromFront(
  front: readonly FrontEntry[],
  mode: ModelSelection,
  validationLoss?: (e: FrontEntry) => number,
  rows?: number,
  train?: { readonly columns: readonly Float64Array[]; readonly y: Float64Array },
): number {
  if (front.length === 0) return -1;
  if (mode === 'best') return front.length - 1;
  // An exact fit's loss is floored, so that ln(0) = -Infinity cannot decide alone. The floor is a share of
  // the front's largest loss (its smallest member's), not a fixed number: a choice by ln(loss) then does
  // not depend on the target's units (with a fixed 1e-12, a target of order 1e-12 had every loss floored).
  const floor = 1e-12 * (front[0] as FrontEntry).loss || Number.MIN_VALUE;
  if (mode === 'aic' || mode === 'bic') {
    if (!(rows !== undefined && rows >= 1)) throw new Error(`${mode} selection needs the number of training rows`);
    const k = mode === 'aic' ? 2 : Math.log(rows);
    let best = front.length - 1;
    let bestIc = Infinity;
    front.forEach((e, i) => {
      // 2n ln(RMSE) = n ln(MSE)
      const ic = 2 * rows * Math.log(Math.max(e.loss, floor)) + k * constantsOf(e.tree);
      if (ic < bestIc) {
        bestIc = ic;
        best = i;
      }
    });
    return best;
  }
  if (mode === 'mdl') {
    if (!train) throw new Error('mdl selection needs the training rows');
    let best = front.length - 1;
    let bestDl = Infinity;
    front.forEach((e, i) => {
      const dl = descriptionLength(e.tree, train.columns, train.y, floor);
      if (dl < bestDl) {
        bestDl = dl;
        best = i;
      }
    });
    return best;
  }
  if (mode === 'validation') {
    if (!validationLoss) throw new Error('validation selection needs validation losses');
    let best = front.length - 1;
    let bestV = Infinity;
    front.forEach((e, i) => {
      const v = validationLoss(e);
      if (v < bestV) {
        bestV = v;
        best = i;
      }
    });
    return best;
  }
  const minLoss = (front[front.length - 1] as FrontEntry).loss;
  let best = front.length - 1;
  let bestScore = -Infinity;
  front.forEach((e, i) => {
    if (e.loss > 1.5 * minLoss) return;
    const prev = front[i - 1];
    const score = prev ? -(Math.log(Math.max(e.loss, floor)) - Math.log(Math.max(prev.loss, floor))) / (e.size - prev.size) : 0;
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  });
  return best;
}
