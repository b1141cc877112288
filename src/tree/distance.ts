import { Op } from './primitives.js';
import { children, subtreeSizes, type Tree } from './tree.js';

function relabelCost(a: Tree, i: number, b: Tree, j: number): number {
  const oa = a.op[i] as number;
  if (oa !== b.op[j]) return 1;
  if (oa === Op.Var) return a.arg[i] === b.arg[j] ? 0 : 1;
  if (oa === Op.Const) return Math.min(1, Math.abs((a.arg[i] as number) - (b.arg[j] as number)));
  return 0;
}

/**
 * Top-down tree edit distance (Selkow 1977): the cheapest script of relabelling nodes and inserting
 * or deleting whole subtrees (cost = their size) that turns one tree into the other, where edits
 * respect the root-to-leaf structure. It is an exact metric on trees and costs O(|a| |b|) time,
 * versus O(n^4) worst case for the unrestricted Zhang-Shasha distance, which keeps PIMP's
 * per-mating distance computations cheap.
 *
 * Relabel costs: 1 between different symbols, 0 for the same operator or variable, and
 * min(1, |c1 - c2|) between two constants.
 */
export function topDownDistance(a: Tree, b: Tree): number {
  const sa = subtreeSizes(a);
  const sb = subtreeSizes(b);
  const d = (i: number, j: number): number => {
    const ca = children(a, i, sa);
    const cb = children(b, j, sb);
    const p = ca.length;
    const q = cb.length;
    // Sequence alignment of the children (at most 2 x 2 here).
    const D: number[][] = Array.from({ length: p + 1 }, () => new Array<number>(q + 1).fill(0));
    for (let x = 1; x <= p; x++) D[x]![0] = D[x - 1]![0]! + sa[ca[x - 1]!]!;
    for (let y = 1; y <= q; y++) D[0]![y] = D[0]![y - 1]! + sb[cb[y - 1]!]!;
    for (let x = 1; x <= p; x++) {
      for (let y = 1; y <= q; y++) {
        D[x]![y] = Math.min(
          D[x - 1]![y]! + sa[ca[x - 1]!]!,
          D[x]![y - 1]! + sb[cb[y - 1]!]!,
          D[x - 1]![y - 1]! + d(ca[x - 1]!, cb[y - 1]!),
        );
      }
    }
    return relabelCost(a, i, b, j) + D[p]![q]!;
  };
  return d(a.op.length - 1, b.op.length - 1);
}
