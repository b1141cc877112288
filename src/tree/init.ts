import { optionError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { MAX_TREE_SIZE } from './limits.js';
import { ARITY, Op, type Primitive, type PrimitiveSet } from './primitives.js';
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

/** How initial trees are made: see {@link TreeOptions.init} (src/tree/options.ts). */
export type InitMethod = 'ramped' | 'btc' | 'ptc2';
export const INIT_METHODS = ['ramped', 'btc', 'ptc2'] as const satisfies readonly InitMethod[];

/**
 * Largest target size of the size-aiming creators: min(maxSize, 2^(maxInitDepth + 1) - 1), the size of
 * a full binary tree of the largest initial depth (127 for the default 2..6), within the size limit.
 */
export function initialSizeBound(maxInitDepth: number, maxSize: number): number {
  return Math.min(maxSize, 2 ** (Math.min(maxInitDepth, 30) + 1) - 1);
}

/** A tree under construction: nodes in creation order, each with its children's indices. */
interface Draft {
  readonly op: number[];
  readonly arg: number[];
  readonly kids: number[][];
  readonly depth: number[];
}

function addNode(d: Draft, op: number, arg: number, depth: number): number {
  d.op.push(op);
  d.arg.push(arg);
  d.kids.push([]);
  d.depth.push(depth);
  return d.op.length - 1;
}

/** The draft's tree in postfix order (children left to right, then the node), from node 0 as the root. */
function postfix(d: Draft): Tree {
  const op: number[] = [];
  const arg: number[] = [];
  const stack: [number, boolean][] = [[0, false]];
  while (stack.length > 0) {
    const [i, done] = stack.pop() as [number, boolean];
    if (done) {
      op.push(d.op[i] as number);
      arg.push(d.arg[i] as number);
      continue;
    }
    stack.push([i, true]);
    const kids = d.kids[i] as number[];
    for (let k = kids.length - 1; k >= 0; k--) stack.push([kids[k] as number, false]);
  }
  return makeTree(op, arg);
}

/** A function of arity at most `maxArity` (uniform among them), or undefined when none is that small. */
function functionUpTo(rng: Rng, ps: PrimitiveSet, maxArity: number): Primitive | undefined {
  if (maxArity >= 2) return rng.pick(ps.functions);
  if (maxArity === 1 && ps.unary.length > 0) return rng.pick(ps.unary);
  return undefined;
}

/** Fills node `i` of the draft with a terminal or, when `f` is given, a function with open child slots. */
function fill(rng: Rng, ps: PrimitiveSet, d: Draft, depth: number, f: Primitive | undefined): number {
  if (f) return addNode(d, f.op, 0, depth);
  const t = randomTerminal(rng, ps);
  return addNode(d, t.op, t.arg, depth);
}

/**
 * Operon's balanced tree creator (BTC, Burlacu et al.): the tree grows breadth first, every child slot
 * taking a function while the target size leaves room for one (its arity at most the target minus the
 * nodes made and the slots still open), and a terminal otherwise or at `maxDepth`. The result has at
 * most `targetSize` nodes (exactly that many when the function set allows) and depth at most `maxDepth`.
 */
export function balancedTree(rng: Rng, ps: PrimitiveSet, targetSize: number, maxDepth: number): Tree {
  const d: Draft = { op: [], arg: [], kids: [], depth: [] };
  fill(rng, ps, d, 0, maxDepth > 0 ? functionUpTo(rng, ps, targetSize - 1) : undefined);
  let open = ARITY[d.op[0] as number] as number;
  for (let i = 0; i < d.op.length; i++) {
    const childDepth = (d.depth[i] as number) + 1;
    const arity = ARITY[d.op[i] as number] as number;
    for (let k = 0; k < arity; k++) {
      // this slot is one of `open`: a function of arity a leaves at least made + open - 1 + a nodes in the end
      const room = targetSize - d.op.length - open;
      const f = childDepth < maxDepth ? functionUpTo(rng, ps, room) : undefined;
      (d.kids[i] as number[]).push(fill(rng, ps, d, childDepth, f));
      open += (f ? f.arity : 0) - 1;
    }
  }
  return postfix(d);
}

/**
 * Luke's PTC2 (2000): the root is a function (a terminal for a target of 1); while the nodes made plus the
 * open slots fall short of the target size, a uniformly chosen open slot takes a function (of arity at most
 * what the target leaves room for; a terminal at `maxDepth`), then every slot left takes a terminal.
 * The result has at most `targetSize` nodes and depth at most `maxDepth`.
 */
export function ptc2Tree(rng: Rng, ps: PrimitiveSet, targetSize: number, maxDepth: number): Tree {
  const d: Draft = { op: [], arg: [], kids: [], depth: [] };
  fill(rng, ps, d, 0, maxDepth > 0 ? functionUpTo(rng, ps, targetSize - 1) : undefined);
  const slots: number[] = []; // parents of the open slots, one entry per slot
  for (let k = 0; k < (ARITY[d.op[0] as number] as number); k++) slots.push(0);
  while (slots.length > 0 && d.op.length + slots.length < targetSize) {
    const s = rng.int(slots.length);
    const parent = slots[s] as number;
    slots[s] = slots[slots.length - 1] as number;
    slots.pop();
    const childDepth = (d.depth[parent] as number) + 1;
    const f = childDepth < maxDepth ? functionUpTo(rng, ps, targetSize - d.op.length - slots.length - 1) : undefined;
    const node = fill(rng, ps, d, childDepth, f);
    (d.kids[parent] as number[]).push(node);
    for (let k = 0; k < (f ? f.arity : 0); k++) slots.push(node);
  }
  for (const parent of slots) (d.kids[parent] as number[]).push(fill(rng, ps, d, (d.depth[parent] as number) + 1, undefined));
  return postfix(d);
}
