import type { Individual } from '../core/types.js';
import type { Tree } from '../tree/tree.js';
import { constantsOf } from './optimise.js';

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
 *   in error, on many rows the lowest error wins.
 */
export type ModelSelection = 'best' | 'score' | 'validation' | 'aic' | 'bic';
export const MODEL_SELECTIONS = ['best', 'score', 'validation', 'aic', 'bic'] as const satisfies readonly ModelSelection[];

/**
 * Index of the chosen front member (front sorted by size, loss decreasing; the loss an RMSE). `rows`, the
 * number of training rows the losses were measured on, is needed by `aic` and `bic`.
 */
export function selectFromFront(
  front: readonly FrontEntry[],
  mode: ModelSelection,
  validationLoss?: (e: FrontEntry) => number,
  rows?: number,
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
