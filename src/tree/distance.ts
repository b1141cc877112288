import { ARITY, Op } from './primitives.js';
import { shapeOf, type Tree } from './tree.js';

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
 *
 * With a `bound` the result is exact when the distance is at most `bound`, and otherwise only some
 * value above it: subtrees whose alignment can no longer bring the total within the bound are cut
 * short. A mate chooser looking for the closest of several candidates passes the best distance so far.
 */
export function topDownDistance(ta: Tree, tb: Tree, bound = Infinity): number {
  const a = shapeOf(ta);
  const b = shapeOf(tb);
  if (bound !== Infinity) {
    // an edit script maps nodes only to nodes at the same depth: every other node is inserted or deleted
    const la = a.levels;
    const lb = b.levels;
    let lower = 0;
    for (let d = 0; d < la.length || d < lb.length; d++) {
      const k = (d < la.length ? (la[d] as number) : 0) - (d < lb.length ? (lb[d] as number) : 0);
      lower += k > 0 ? k : -k;
    }
    if (lower > bound + SLACK) return lower;
  }
  return dist(ta, a.sizes, ta.op.length - 1, tb, b.sizes, tb.op.length - 1, bound + SLACK);
}

/**
 * Added to every bound passed down, so that rounding in the bound arithmetic can only make a
 * sub-distance exact where it need not be, never the reverse (distances are sums of integers and
 * relabel costs in [0, 1]).
 */
const SLACK = 1e-9;

/**
 * d(i, j) of subtree i of a and subtree j of b when it is at most `bound`, else some value above
 * `bound`. Every term of the recursion is computed with the bound under which it can still decide a
 * minimum, so subtrees that cannot matter are cut short by the lower bound r + |size(i) - size(j)|
 * (every node inserted or deleted costs 1). Where a value is exact it is computed with the same
 * operations in the same order as the plain recursion, so it is the same number.
 */
function dist(a: Tree, sa: Int32Array, i: number, b: Tree, sb: Int32Array, j: number, bound: number): number {
  const oa = a.op[i] as number;
  const ob = b.op[j] as number;
  const r =
    oa !== ob
      ? 1
      : oa === Op.Var
        ? a.arg[i] === b.arg[j]
          ? 0
          : 1
        : oa === Op.Const
          ? Math.min(1, Math.abs((a.arg[i] as number) - (b.arg[j] as number)))
          : 0;
  const p = ARITY[oa] as number;
  const q = ARITY[ob] as number;
  if (p === 0 && q === 0) return r;
  if (p === 0) return r + (sb[j] as number) - 1;
  if (q === 0) return r + (sa[i] as number) - 1;
  const si = sa[i] as number;
  const sj = sb[j] as number;
  const lower = r + (si > sj ? si - sj : sj - si);
  if (lower > bound) return lower;
  // what the children's alignment may cost for the result to stay within the bound
  const B = bound - r + SLACK;
  // children in order: unary -> [i-1]; binary -> [left, right] = [i-1-size(i-1), i-1]
  const a1 = i - 1;
  const b1 = j - 1;
  if (p === 1 && q === 1) {
    const c = (sa[a1] as number) + (sb[b1] as number);
    return r + Math.min(dist(a, sa, a1, b, sb, b1, Math.min(c, B)), c);
  }
  if (p === 1) {
    // a has one child x; b has children (y0, y1)
    const y0 = b1 - (sb[b1] as number);
    const x = sa[a1] as number;
    const n0 = sb[y0] as number;
    const n1 = sb[b1] as number;
    const all = x + n0 + n1;
    const t0 = dist(a, sa, a1, b, sb, y0, Math.min(B, all) - n1 + SLACK) + n1;
    return r + Math.min(t0, dist(a, sa, a1, b, sb, b1, Math.min(B, all, t0) - n0 + SLACK) + n0, all);
  }
  if (q === 1) {
    const x0 = a1 - (sa[a1] as number);
    const y = sb[b1] as number;
    const m0 = sa[x0] as number;
    const m1 = sa[a1] as number;
    const all = y + m0 + m1;
    const t0 = dist(a, sa, x0, b, sb, b1, Math.min(B, all) - m1 + SLACK) + m1;
    return r + Math.min(t0, dist(a, sa, a1, b, sb, b1, Math.min(B, all, t0) - m0 + SLACK) + m0, all);
  }
  // both binary: the 3 x 3 alignment table of the children sequences, unrolled
  const x0 = a1 - (sa[a1] as number);
  const y0 = b1 - (sb[b1] as number);
  const m0 = sa[x0] as number;
  const m1 = sa[a1] as number;
  const n0 = sb[y0] as number;
  const n1 = sb[b1] as number;
  const D11 = Math.min(m0 + n0, dist(a, sa, x0, b, sb, y0, Math.min(m0 + n0, B)));
  const D12 = Math.min(n0 + n1 + m0, D11 + n1, n0 + dist(a, sa, x0, b, sb, b1, Math.min(B, n0 + n1 + m0, D11 + n1) - n0 + SLACK));
  const D21 = Math.min(D11 + m1, m0 + m1 + n0, m0 + dist(a, sa, a1, b, sb, y0, Math.min(B, D11 + m1, m0 + m1 + n0) - m0 + SLACK));
  return r + Math.min(D12 + m1, D21 + n1, D11 + dist(a, sa, a1, b, sb, b1, Math.min(B, D12 + m1, D21 + n1) - D11 + SLACK));
}
