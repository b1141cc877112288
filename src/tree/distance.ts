import { ARITY, Op } from './primitives.js';
import { shapeOf, type Tree } from './tree.js';

function relabel(a: Tree, i: number, b: Tree, j: number): number {
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
 *
 * Recursion: d(i, j) = relabel(i, j) + the optimal alignment of the children sequences, where
 * deleting (inserting) a child costs its subtree size and matching two children costs d of them.
 * With arity <= 2 the alignment table (at most 3 x 3) is unrolled into scalar minima, and subtree
 * sizes come from each tree's cached shape (a tree is compared with many).
 */
export function topDownDistance(ta: Tree, tb: Tree): number {
  const sa = shapeOf(ta).sizes;
  const sb = shapeOf(tb).sizes;
  const d = (i: number, j: number): number => {
    const r = relabel(ta, i, tb, j);
    const p = ARITY[ta.op[i] as number] as number;
    const q = ARITY[tb.op[j] as number] as number;
    if (p === 0 && q === 0) return r;
    // children in order: unary -> [i-1]; binary -> [left, right] = [i-1-size(i-1), i-1]
    const a1 = i - 1;
    const b1 = j - 1;
    if (p === 0) return r + (sb[j] as number) - 1;
    if (q === 0) return r + (sa[i] as number) - 1;
    if (p === 1 && q === 1) return r + Math.min(d(a1, b1), (sa[a1] as number) + (sb[b1] as number));
    if (p === 1) {
      // a has one child x; b has children (y0, y1)
      const y0 = b1 - (sb[b1] as number);
      const x = sa[a1] as number;
      const n0 = sb[y0] as number;
      const n1 = sb[b1] as number;
      return r + Math.min(d(a1, y0) + n1, d(a1, b1) + n0, x + n0 + n1);
    }
    if (q === 1) {
      const x0 = a1 - (sa[a1] as number);
      const y = sb[b1] as number;
      const m0 = sa[x0] as number;
      const m1 = sa[a1] as number;
      return r + Math.min(d(x0, b1) + m1, d(a1, b1) + m0, y + m0 + m1);
    }
    // both binary: the 3 x 3 alignment table of topDownDistance, unrolled
    const x0 = a1 - (sa[a1] as number);
    const y0 = b1 - (sb[b1] as number);
    const m0 = sa[x0] as number;
    const m1 = sa[a1] as number;
    const n0 = sb[y0] as number;
    const n1 = sb[b1] as number;
    const D11 = Math.min(m0 + n0, d(x0, y0));
    const D12 = Math.min(n0 + n1 + m0, D11 + n1, n0 + d(x0, b1));
    const D21 = Math.min(D11 + m1, m0 + m1 + n0, m0 + d(a1, y0));
    return r + Math.min(D12 + m1, D21 + n1, D11 + d(a1, b1));
  };
  return d(ta.op.length - 1, tb.op.length - 1);
}
