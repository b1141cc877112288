import type { Rng } from '../core/rng.js';
import { boundedRandomTree, randomTerminal } from './init.js';
import { MAX_TREE_SIZE } from './limits.js';
import { ARITY, type PrimitiveSet } from './primitives.js';
import { depth, makeTree, replacementDepth, replaceSubtree, shapeOf, type Tree } from './tree.js';

/** Size and depth limits every variation operator respects (Koza's static limits). */
export interface TreeLimits {
  /** Maximum depth (a single node has depth 0). Default 17 (Koza). */
  readonly maxDepth: number;
  /** Maximum number of nodes. Default 256. */
  readonly maxSize: number;
}

/** Attempts before an operator gives up and returns its parent unchanged (DEAP's staticLimit does the same). */
export const ATTEMPTS = 5;

/** Whether `t` with the subtree at node i replaced by `size` nodes of height `height` stays within the limits (nothing is built). */
function replacementFits(t: Tree, i: number, size: number, height: number, lim: TreeLimits): boolean {
  const n = t.op.length - (shapeOf(t).sizes[i] as number) + size;
  return n <= lim.maxSize && replacementDepth(t, i, height) <= lim.maxDepth;
}

/**
 * Koza's node choice: an internal node with probability `internalBias` (when the tree has one),
 * else a leaf; uniform within the chosen kind.
 */
export function pickNode(rng: Rng, t: Tree, internalBias: number): number {
  const n = t.op.length;
  const internal = shapeOf(t).internal;
  const wantInternal = internal > 0 && rng.chance(internalBias);
  let k = rng.int(wantInternal ? internal : n - internal);
  for (let i = 0; i < n; i++) {
    if ((ARITY[t.op[i] as number] as number) > 0 === wantInternal && k-- === 0) return i;
  }
  return n - 1;
}

/**
 * Subtree crossover: the subtree at a node of `a` is replaced by a copy of a subtree of `b`.
 * Offspring over the limits are redrawn; after a few attempts the receiving parent is returned.
 * Only the offspring that is kept is built (the limits are checked on the parents' cached shapes).
 */
export function subtreeCrossover(rng: Rng, a: Tree, b: Tree, lim: TreeLimits, internalBias = 0.9): Tree {
  const sb = shapeOf(b);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const i = pickNode(rng, a, internalBias);
    const j = pickNode(rng, b, internalBias);
    if (replacementFits(a, i, sb.sizes[j] as number, sb.heights[j] as number, lim)) return replaceSubtree(a, i, b, j);
  }
  return a;
}

/**
 * Subtree mutation: a uniformly chosen node is replaced by a random `grow` tree of depth up to
 * `mutationDepth`. It can grow trees, which keeps preferences from collapsing (Simões et al. 2025).
 */
export function subtreeMutation(rng: Rng, ps: PrimitiveSet, t: Tree, lim: TreeLimits, mutationDepth: number): Tree {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const i = rng.int(t.op.length);
    // A subtree beyond MAX_TREE_SIZE nodes cannot fit any limit: its build stops there (a failed attempt).
    const sub = boundedRandomTree(rng, ps, rng.int(mutationDepth + 1), false, MAX_TREE_SIZE);
    if (sub && replacementFits(t, i, sub.op.length, depth(sub), lim)) return replaceSubtree(t, i, sub);
  }
  return t;
}

/**
 * Point mutation: one uniformly chosen node changes in place, keeping the shape. A function becomes
 * another function of the same arity; a terminal becomes a new random terminal (a fresh constant or
 * another variable). Never changes size or depth.
 */
export function pointMutation(rng: Rng, ps: PrimitiveSet, t: Tree): Tree {
  const i = rng.int(t.op.length);
  const copy = makeTree(t.op, t.arg);
  const { op, arg } = copy;
  const a = ARITY[op[i] as number] as number;
  if (a === 0) {
    const term = randomTerminal(rng, ps);
    op[i] = term.op;
    arg[i] = term.arg;
  } else {
    const same = (a === 1 ? ps.unary : ps.binary).filter((f) => f.op !== op[i]);
    if (same.length === 0) return t;
    op[i] = rng.pick(same).op;
  }
  return copy;
}

export type MutationType = 'subtree' | 'point';
export const MUTATION_TYPES = ['subtree', 'point'] as const satisfies readonly MutationType[];

/** Mutation operators by name: a missing handler fails to compile. */
export type Mutator = (rng: Rng, ps: PrimitiveSet, t: Tree, lim: TreeLimits, mutationDepth: number) => Tree;
export const MUTATORS = {
  subtree: subtreeMutation,
  point: (rng, ps, t) => pointMutation(rng, ps, t),
} satisfies Record<MutationType, Mutator>;
