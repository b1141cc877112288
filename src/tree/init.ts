import type { Rng } from '../core/rng.js';
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

function build(rng: Rng, ps: PrimitiveSet, b: Builder, remaining: number, full: boolean): void {
  const nTerm = ps.variables.length + (ps.constantProbability > 0 ? 1 : 0);
  const leaf = remaining <= 0 || (!full && rng.chance(nTerm / (nTerm + ps.functions.length)));
  if (leaf) {
    const t = randomTerminal(rng, ps);
    b.push(t.op, t.arg);
    return;
  }
  const f = rng.pick(ps.functions);
  for (let k = 0; k < f.arity; k++) build(rng, ps, b, remaining - 1, full);
  b.push(f.op);
}

/**
 * Koza's `grow` (full = false: a node is a terminal with probability terminals / (terminals +
 * functions) until the depth is reached) or `full` (functions until the depth, then terminals).
 */
export function randomTree(rng: Rng, ps: PrimitiveSet, maxDepth: number, full: boolean): Tree {
  const b = new Builder();
  build(rng, ps, b, maxDepth, full);
  return b.tree();
}

/**
 * Ramped half-and-half: slot i of n gets depth minDepth + (i mod number of depths), and alternates
 * full and grow across successive rounds of depths, so the population is spread evenly.
 */
export function rampedHalfAndHalf(rng: Rng, ps: PrimitiveSet, minDepth: number, maxDepth: number, slot: number): Tree {
  const nd = maxDepth - minDepth + 1;
  const d = minDepth + (slot % nd);
  const full = Math.floor(slot / nd) % 2 === 0;
  return randomTree(rng, ps, d, full);
}
