import { optionError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { MAX_TREE_SIZE } from './limits.js';
import { Op, type PrimitiveSet } from './primitives.js';
import { makeTree, type Tree } from './tree.js';

class Builder {
  readonly op: number[] = [];
  readonly arg: number[] = [];
  push(op: number, arg = 0): void {
    this.op.push(op);
    this.arg.push(arg);
  }
  tree(): Tree {
    return makeTree(this.op, this.arg);
  }
}

/** A random terminal: an ephemeral constant with probability `constantProbability`, else a variable. */
export function randomTerminal(rng: Rng, ps: PrimitiveSet): { op: number; arg: number } {
  if (rng.chance(ps.constantProbability)) {
    return { op: Op.Const, arg: rng.uniform(ps.constantRange[0], ps.constantRange[1]) };
  }
  return { op: Op.Var, arg: rng.int(ps.variables.length) };
}

/** False as soon as the tree holds more than `maxNodes` nodes (the build stops there). */
function build(rng: Rng, ps: PrimitiveSet, b: Builder, remaining: number, full: boolean, maxNodes: number): boolean {
  const nTerm = ps.variables.length + (ps.constantProbability > 0 ? 1 : 0);
  const leaf = remaining <= 0 || (!full && rng.chance(nTerm / (nTerm + ps.functions.length)));
  if (leaf) {
    const t = randomTerminal(rng, ps);
    b.push(t.op, t.arg);
    return b.op.length <= maxNodes;
  }
  const f = rng.pick(ps.functions);
  for (let k = 0; k < f.arity; k++) if (!build(rng, ps, b, remaining - 1, full, maxNodes)) return false;
  b.push(f.op);
  return b.op.length <= maxNodes;
}

/**
 * Koza's `grow` (full = false: a node is a terminal with probability terminals / (terminals +
 * functions) until the depth is reached) or `full` (functions until the depth, then terminals);
 * undefined as soon as the tree exceeds `maxNodes` nodes. A full binary tree of depth d has
 * 2^(d+1) - 1 nodes and grow trees can be as large, so the build stops there instead of running
 * out of memory. Up to that point it draws exactly what an unbounded build draws, so a bound no tree
 * reaches changes no result.
 */
export function boundedRandomTree(rng: Rng, ps: PrimitiveSet, maxDepth: number, full: boolean, maxNodes: number): Tree | undefined {
  const b = new Builder();
  return build(rng, ps, b, maxDepth, full, maxNodes) ? b.tree() : undefined;
}

/** A `grow` or `full` tree (see {@link boundedRandomTree}) of at most {@link MAX_TREE_SIZE} nodes; an error beyond. */
export function randomTree(rng: Rng, ps: PrimitiveSet, maxDepth: number, full: boolean): Tree {
  const t = boundedRandomTree(rng, ps, maxDepth, full, MAX_TREE_SIZE);
  if (!t) throw optionError('maxDepth', `a ${full ? 'full' : 'grow'} tree of depth ${maxDepth} exceeded ${MAX_TREE_SIZE} nodes`);
  return t;
}

/**
 * Ramped half-and-half: slot i of n gets depth minDepth + (i mod number of depths), and alternates
 * full and grow across successive rounds of depths, so the population is spread evenly.
 */
export function rampedHalfAndHalf(rng: Rng, ps: PrimitiveSet, minDepth: number, maxDepth: number, slot: number): Tree {
  const t = boundedRampedHalfAndHalf(rng, ps, minDepth, maxDepth, slot, MAX_TREE_SIZE);
  if (!t) throw optionError('initDepth', `a tree of depth up to ${maxDepth} exceeded ${MAX_TREE_SIZE} nodes`);
  return t;
}

/** {@link rampedHalfAndHalf}, undefined as soon as the tree exceeds `maxNodes` nodes. */
export function boundedRampedHalfAndHalf(
  rng: Rng,
  ps: PrimitiveSet,
  minDepth: number,
  maxDepth: number,
  slot: number,
  maxNodes: number,
): Tree | undefined {
  const nd = maxDepth - minDepth + 1;
  const d = minDepth + (slot % nd);
  const full = Math.floor(slot / nd) % 2 === 0;
  return boundedRandomTree(rng, ps, d, full, maxNodes);
}
