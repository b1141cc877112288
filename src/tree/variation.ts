import { optionError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { boundedRandomTree, randomTerminal } from './init.js';
import { MAX_TREE_SIZE } from './limits.js';
import { ARITY, Op, type PrimitiveSet } from './primitives.js';
import { children, depth, makeTree, replacementDepth, replaceSubtree, shapeOf, type Tree } from './tree.js';

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

/**
 * Change-variable mutation: a uniformly chosen variable leaf becomes another input variable (uniform
 * among the others). Only that leaf's index changes; a tree without variables, or a problem with one
 * input, is returned unchanged.
 */
export function changeVariableMutation(rng: Rng, ps: PrimitiveSet, t: Tree): Tree {
  const nv = ps.variables.length;
  if (nv < 2) return t;
  const i = pickOfKind(rng, t, (o) => o === Op.Var);
  if (i < 0) return t;
  const copy = makeTree(t.op, t.arg);
  const v = rng.int(nv - 1);
  copy.arg[i] = v >= (t.arg[i] as number) ? v + 1 : v;
  return copy;
}

/**
 * Change-function mutation: a uniformly chosen function node becomes another function of the same
 * arity (uniform among them); shape, children and every other node are kept. A tree without
 * functions, or a function without another of its arity in the set, is returned unchanged.
 */
export function changeFunctionMutation(rng: Rng, ps: PrimitiveSet, t: Tree): Tree {
  const i = pickOfKind(rng, t, (o) => (ARITY[o] as number) > 0);
  if (i < 0) return t;
  const a = ARITY[t.op[i] as number] as number;
  const same = (a === 1 ? ps.unary : ps.binary).filter((f) => f.op !== t.op[i]);
  if (same.length === 0) return t;
  const copy = makeTree(t.op, t.arg);
  copy.op[i] = rng.pick(same).op;
  return copy;
}

/**
 * Insert mutation (Operon's InsertSubtree): a new function node is put above a uniformly chosen node:
 * the old subtree becomes one of its children (a uniformly chosen position), the other children are new
 * random terminals. The tree grows by the function's arity and keeps every old node; draws over the
 * limits are redrawn, and after a few attempts the tree is returned unchanged.
 */
export function insertMutation(rng: Rng, ps: PrimitiveSet, t: Tree, lim: TreeLimits): Tree {
  const { sizes, heights } = shapeOf(t);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const i = rng.int(t.op.length);
    const f = rng.pick(ps.functions);
    const subSize = sizes[i] as number;
    if (!replacementFits(t, i, subSize + f.arity, (heights[i] as number) + 1, lim)) continue;
    const start = i - subSize + 1;
    const op: number[] = [];
    const arg: number[] = [];
    const at = rng.int(f.arity);
    for (let k = 0; k < f.arity; k++) {
      if (k === at) {
        for (let j = start; j <= i; j++) {
          op.push(t.op[j] as number);
          arg.push(t.arg[j] as number);
        }
      } else {
        const term = randomTerminal(rng, ps);
        op.push(term.op);
        arg.push(term.arg);
      }
    }
    op.push(f.op);
    arg.push(0);
    return replaceSubtree(t, i, makeTree(op, arg));
  }
  return t;
}

/**
 * Remove mutation (Operon's RemoveSubtree, hoisting a child): a uniformly chosen function node is
 * replaced by one of its children (uniform); the other children's subtrees are dropped. The tree always
 * shrinks, so it always stays within the limits; a single leaf is returned unchanged.
 */
export function removeMutation(rng: Rng, t: Tree): Tree {
  const i = pickOfKind(rng, t, (o) => (ARITY[o] as number) > 0);
  if (i < 0) return t;
  const kids = children(t, i, shapeOf(t).sizes);
  return replaceSubtree(t, i, t, rng.pick(kids));
}

/** Relative spread of constant mutation: sigma = {@link CONSTANT_SIGMA} x max(|c|, 1). */
export const CONSTANT_SIGMA = 0.1;

/**
 * Constant mutation (Gaussian perturbation, Operon's OnePoint on a constant leaf): one uniformly chosen
 * constant c becomes c + N(0, sigma^2) with sigma = 0.1 x max(|c|, 1): about 10% of its magnitude, and
 * at least 0.1 so that constants near 0 move. Only that constant changes; a tree without constants is
 * returned unchanged (as is a constant whose perturbation would not be finite).
 */
export function constantMutation(rng: Rng, t: Tree): Tree {
  const i = pickOfKind(rng, t, (o) => o === Op.Const);
  if (i < 0) return t;
  const c = t.arg[i] as number;
  const next = c + CONSTANT_SIGMA * Math.max(Math.abs(c), 1) * rng.normal();
  if (!Number.isFinite(next)) return t;
  const copy = makeTree(t.op, t.arg);
  copy.arg[i] = next;
  return copy;
}

/** A uniformly chosen node whose opcode satisfies `is`, or -1 when there is none. */
function pickOfKind(rng: Rng, t: Tree, is: (op: number) => boolean): number {
  let count = 0;
  for (let i = 0; i < t.op.length; i++) if (is(t.op[i] as number)) count++;
  if (count === 0) return -1;
  let k = rng.int(count);
  for (let i = 0; i < t.op.length; i++) if (is(t.op[i] as number) && k-- === 0) return i;
  return -1;
}

export type MutationType = 'subtree' | 'point' | 'changevar' | 'changefunc' | 'insert' | 'remove' | 'constant';
export const MUTATION_TYPES = [
  'subtree',
  'point',
  'changevar',
  'changefunc',
  'insert',
  'remove',
  'constant',
] as const satisfies readonly MutationType[];

/** Mutation operators by name: a missing handler fails to compile. */
export type Mutator = (rng: Rng, ps: PrimitiveSet, t: Tree, lim: TreeLimits, mutationDepth: number) => Tree;
export const MUTATORS = {
  subtree: subtreeMutation,
  point: (rng, ps, t) => pointMutation(rng, ps, t),
  changevar: (rng, ps, t) => changeVariableMutation(rng, ps, t),
  changefunc: (rng, ps, t) => changeFunctionMutation(rng, ps, t),
  insert: (rng, ps, t, lim) => insertMutation(rng, ps, t, lim),
  remove: (rng, _ps, t) => removeMutation(rng, t),
  constant: (rng, _ps, t) => constantMutation(rng, t),
} satisfies Record<MutationType, Mutator>;

/**
 * A mutation setting: one operator's name (`subtree`), or a weighted list (`subtree:1,changevar:1,constant:2`;
 * a weight left out is 1), of which each mutation draws one operator with probability proportional to its weight.
 */
export type MutationSpec = string;

/** A parsed {@link MutationSpec}: the operators and their weights, in the order given. */
export interface MutationMix {
  readonly types: readonly MutationType[];
  readonly weights: readonly number[];
}

const MUTATION_EXAMPLE = 'e.g. subtree or subtree:1,changevar:1,constant:2';

/** Parses a {@link MutationSpec}; an error naming the option `mutation` when it is not one. */
export function parseMutation(spec: unknown): MutationMix {
  if (typeof spec !== 'string' || spec.trim() === '')
    throw optionError(
      'mutation',
      `expected an operator or a weighted list (${MUTATION_EXAMPLE}), got ${JSON.stringify(spec) ?? 'nothing'}`,
    );
  const types: MutationType[] = [];
  const weights: number[] = [];
  for (const item of spec.split(',')) {
    const [name = '', w, ...rest] = item.trim().split(':');
    if (name === '') throw optionError('mutation', `empty entry in "${spec}" (${MUTATION_EXAMPLE})`);
    if (!(MUTATION_TYPES as readonly string[]).includes(name))
      throw optionError('mutation', `unknown operator "${name}" (known: ${MUTATION_TYPES.join(', ')})`);
    if (types.includes(name as MutationType)) throw optionError('mutation', `"${name}" is listed twice`);
    const weight = w === undefined ? 1 : /^\s*[0-9.eE+-]+\s*$/.test(w) ? Number(w) : NaN;
    if (rest.length > 0 || !(Number.isFinite(weight) && weight > 0))
      throw optionError('mutation', `the weight of "${name}" must be a positive number, got "${item.trim().slice(name.length + 1)}"`);
    types.push(name as MutationType);
    weights.push(weight);
  }
  // a sum past the largest double is Infinity, and the draw by weight would always take the last operator
  if (!Number.isFinite(weights.reduce((a, b) => a + b, 0)))
    throw optionError(
      'mutation',
      `the weights in "${spec}" add up to more than the largest number (${Number.MAX_VALUE}); use smaller ones`,
    );
  return { types, weights };
}

/**
 * The mutation operator of a setting: the named operator itself for one name (no extra random draw, so
 * `subtree` and `point` behave exactly as before lists existed), else one operator drawn by weight per call.
 */
export function mutatorOf(spec: MutationSpec): Mutator {
  const { types, weights } = parseMutation(spec);
  const ops = types.map((ty) => MUTATORS[ty] as Mutator);
  if (ops.length === 1) return ops[0] as Mutator;
  const total = weights.reduce((a, b) => a + b, 0);
  return (rng, ps, t, lim, mutationDepth) => {
    let r = rng.next() * total;
    let k = 0;
    while (k < ops.length - 1 && r >= (weights[k] as number)) r -= weights[k++] as number;
    return (ops[k] as Mutator)(rng, ps, t, lim, mutationDepth);
  };
}
