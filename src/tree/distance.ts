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
 * short. A mate chooser looking for the closest of several candidates passes the best distance so far,
 * after skipping candidates whose {@link sizeLowerBound} already exceeds it.
 */
export function topDownDistance(ta: Tree, tb: Tree, bound = Infinity): number {
  const a = shapeOf(ta);
  const b = shapeOf(tb);
  aOp = ta.op;
  aArg = ta.arg;
  aSize = a.sizes;
  bOp = tb.op;
  bArg = tb.arg;
  bSize = b.sizes;
  return dist(ta.op.length - 1, tb.op.length - 1, bound + SLACK);
}

/**
 * A lower bound of {@link topDownDistance} that costs O(1): the roots are always matched (their relabel
 * cost), and every node left unmatched is inserted or deleted at a cost of 1 each, so at least the
 * difference of the two sizes. It is the bound {@link inner} cuts subtrees short with. (A per-depth
 * bound, the sum over depths of the node counts' differences, is tighter, but computing it cost more
 * than the distances it saved: a plain Pagie-1 pimp run took 5-7% longer with it than with this one.)
 */
export function sizeLowerBound(ta: Tree, tb: Tree): number {
  const i = ta.op.length - 1;
  const j = tb.op.length - 1;
  const r = relabelCost(ta.op[i] as number, tb.op[j] as number, ta.arg[i] as number, tb.arg[j] as number);
  return r + (i > j ? i - j : j - i);
}

/**
 * Added to every bound passed down, so that rounding in the bound arithmetic can only make a
 * sub-distance exact where it need not be, never the reverse (distances are sums of integers and
 * relabel costs in [0, 1]).
 */
const SLACK = 1e-9;

// The two trees of the distance being computed: module state rather than arguments, so that the
// recursion's loads stay monomorphic typed-array reads (twice as fast as passing the trees along).
let aOp: Uint8Array = new Uint8Array(0);
let aArg: Float64Array = new Float64Array(0);
let aSize: Int32Array = new Int32Array(0);
let bOp: Uint8Array = new Uint8Array(0);
let bArg: Float64Array = new Float64Array(0);
let bSize: Int32Array = new Int32Array(0);
const ARITY8 = Uint8Array.from(ARITY);

/** The relabel cost of two nodes: opcodes `oa` and `ob`, arguments `x` and `y`. */
function relabelCost(oa: number, ob: number, x: number, y: number): number {
  return oa !== ob ? 1 : oa === Op.Var ? (x === y ? 0 : 1) : oa === Op.Const ? Math.min(1, Math.abs(x - y)) : 0;
}

/**
 * d(i, j) of subtree i of a and subtree j of b when it is at most `bound`, else some value above
 * `bound`. A pair with a leaf has a closed form (most pairs); two inner nodes go to {@link inner}.
 */
function dist(i: number, j: number, bound: number): number {
  const p = ARITY8[aOp[i] as number] as number;
  const q = ARITY8[bOp[j] as number] as number;
  if (p !== 0 && q !== 0) return inner(i, j, bound, p, q);
  // relabelCost, written out: V8 did not inline the call in this recursion (5-10% of a distance)
  const oa = aOp[i] as number;
  const r =
    oa !== bOp[j]
      ? 1
      : oa === Op.Var
        ? aArg[i] === bArg[j]
          ? 0
          : 1
        : oa === Op.Const
          ? Math.min(1, Math.abs((aArg[i] as number) - (bArg[j] as number)))
          : 0;
  if (p === 0 && q === 0) return r;
  if (p === 0) return r + (bSize[j] as number) - 1;
  return r + (aSize[i] as number) - 1;
}

/**
 * d(i, j) for two inner nodes of arities p and q, bounded as {@link dist}. Every term of the recursion
 * is computed with the bound under which it can still decide a minimum, so subtrees that cannot
 * matter are cut short by the lower bound r + |size(i) - size(j)| (every node inserted or deleted
 * costs 1). Where a value is exact it is computed with the same operations in the same order as the
 * plain recursion, so it is the same number.
 */
function inner(i: number, j: number, bound: number, p: number, q: number): number {
  const sa = aSize;
  const sb = bSize;
  // two inner nodes: only their operators can differ
  const r = aOp[i] !== bOp[j] ? 1 : 0;
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
    return r + Math.min(dist(a1, b1, Math.min(c, B)), c);
  }
  if (p === 1) {
    // a has one child x; b has children (y0, y1)
    const y0 = b1 - (sb[b1] as number);
    const x = sa[a1] as number;
    const n0 = sb[y0] as number;
    const n1 = sb[b1] as number;
    const all = x + n0 + n1;
    const t0 = dist(a1, y0, Math.min(B, all) - n1 + SLACK) + n1;
    return r + Math.min(t0, dist(a1, b1, Math.min(B, all, t0) - n0 + SLACK) + n0, all);
  }
  if (q === 1) {
    const x0 = a1 - (sa[a1] as number);
    const y = sb[b1] as number;
    const m0 = sa[x0] as number;
    const m1 = sa[a1] as number;
    const all = y + m0 + m1;
    const t0 = dist(x0, b1, Math.min(B, all) - m1 + SLACK) + m1;
    return r + Math.min(t0, dist(a1, b1, Math.min(B, all, t0) - m0 + SLACK) + m0, all);
  }
  // both binary: the 3 x 3 alignment table of the children sequences, unrolled
  const x0 = a1 - (sa[a1] as number);
  const y0 = b1 - (sb[b1] as number);
  const m0 = sa[x0] as number;
  const m1 = sa[a1] as number;
  const n0 = sb[y0] as number;
  const n1 = sb[b1] as number;
  const D11 = Math.min(m0 + n0, dist(x0, y0, Math.min(m0 + n0, B)));
  const D12 = Math.min(n0 + n1 + m0, D11 + n1, n0 + dist(x0, b1, Math.min(B, n0 + n1 + m0, D11 + n1) - n0 + SLACK));
  const D21 = Math.min(D11 + m1, m0 + m1 + n0, m0 + dist(a1, y0, Math.min(B, D11 + m1, m0 + m1 + n0) - m0 + SLACK));
  return r + Math.min(D12 + m1, D21 + n1, D11 + dist(a1, b1, Math.min(B, D12 + m1, D21 + n1) - D11 + SLACK));
}
