import { ARITY, Op } from './primitives.js';

/**
 * An expression tree as flat postfix data (DESIGN.md principle 4): `op[i]` is the opcode of node i,
 * `arg[i]` its constant value (Const) or variable index (Var), 0 otherwise. The root is the last
 * node; the subtree rooted at i occupies [i - size(i) + 1, i]. Trees are immutable values: every
 * operator returns a new tree.
 */
export interface Tree {
  readonly op: Uint8Array;
  readonly arg: Float64Array;
}

/**
 * A tree made by the tree layer: its arrays, and its shape (see {@link shapeOf}), computed on first use
 * and kept in a private field (invisible to equality checks and serialisation).
 */
class ShapedTree implements Tree {
  #shape: TreeShape | undefined = undefined;
  /** {@link treeHash} by constants' bits, and by constants as numbers (kept once computed: trees are hashed every generation). */
  #hash: number | undefined = undefined;
  #numericHash: number | undefined = undefined;

  constructor(
    readonly op: Uint8Array,
    readonly arg: Float64Array,
  ) {}

  get shape(): TreeShape {
    return (this.#shape ??= computeShape(this.op));
  }

  hash(numeric: boolean): number {
    if (this.#hash === undefined) {
      const exact = hashOf(this, false);
      // the two differ only where a constant is -0 or NaN
      this.#numericHash = hashSawSpecial ? hashOf(this, true) : exact;
      this.#hash = exact;
    }
    return numeric ? (this.#numericHash as number) : this.#hash;
  }

  /** The shape if it has been computed, without computing it. */
  get knownShape(): TreeShape | undefined {
    return this.#shape;
  }
}

/** The tree over these arrays (not copied), with its shape cached once computed. */
export function treeOf(op: Uint8Array, arg: Float64Array): Tree {
  return new ShapedTree(op, arg);
}

/*
 * New trees' arrays and shapes are views into shared slabs: a view costs about a tenth of a fresh
 * typed array (whose memory lives outside the JavaScript heap), and a run makes thousands of trees
 * per generation. A slab is freed once no tree uses it; a tree larger than a quarter slab gets arrays
 * of its own.
 */
const SLAB = 8192;
let opSlab = new Uint8Array(SLAB);
let argSlab = new Float64Array(SLAB);
let nodeAt = 0;
let intSlab = new Int32Array(2 * SLAB);
let intAt = 0;

/** A tree of `n` nodes, all zero (opcode Const, argument 0), to be filled in by its maker. */
export function blankTree(n: number): Tree {
  if (n > SLAB >> 2) return new ShapedTree(new Uint8Array(n), new Float64Array(n));
  if (nodeAt + n > SLAB) {
    opSlab = new Uint8Array(SLAB);
    argSlab = new Float64Array(SLAB);
    nodeAt = 0;
  }
  // views by constructor: subarray() looks up the species constructor on every call (a third slower)
  const t = new ShapedTree(new Uint8Array(opSlab.buffer, nodeAt, n), new Float64Array(argSlab.buffer, 8 * nodeAt, n));
  nodeAt += n;
  return t;
}

function ints(n: number): Int32Array {
  if (n > SLAB >> 1) return new Int32Array(n);
  if (intAt + n > intSlab.length) {
    intSlab = new Int32Array(2 * SLAB);
    intAt = 0;
  }
  const v = new Int32Array(intSlab.buffer, 4 * intAt, n);
  intAt += n;
  return v;
}

export function makeTree(op: ArrayLike<number>, arg: ArrayLike<number>): Tree {
  const t = blankTree(op.length);
  t.op.set(op);
  t.arg.set(arg);
  return t;
}

export const constant = (v: number): Tree => makeTree([Op.Const], [v]);
export const variable = (i: number): Tree => makeTree([Op.Var], [i]);

/**
 * Per-node facts of a tree's shape, computed in one postfix pass the first time they are asked for and
 * kept with the tree's opcode array (they depend on nothing else, and trees are immutable values): a
 * tree takes part in many crossovers, mate choices and statistics, and pays for its shape once.
 * The arrays are shared: never write into them.
 */
export interface TreeShape {
  /** Size of every node's subtree (the node included). */
  readonly sizes: Int32Array;
  /** Height of every node's subtree (a leaf has height 0). */
  readonly heights: Int32Array;
  /** Nodes that have children (functions). */
  readonly internal: number;
}

/** The {@link TreeShape} of a tree: cached with trees the tree layer made ({@link treeOf}), computed afresh for others. */
export function shapeOf(t: Tree): TreeShape {
  return t instanceof ShapedTree ? t.shape : computeShape(t.op);
}

let shapeStack = new Int32Array(256);

function computeShape(op: Uint8Array): TreeShape {
  const n = op.length;
  const size = ints(n);
  const h = ints(n);
  if (shapeStack.length < n) shapeStack = new Int32Array(2 * n);
  const stack = shapeStack;
  let sp = 0;
  let internal = 0;
  for (let i = 0; i < n; i++) {
    const a = ARITY[op[i] as number] as number;
    let s = 1;
    let m = -1;
    for (let k = 0; k < a; k++) {
      const c = stack[--sp] as number;
      s += size[c] as number;
      if ((h[c] as number) > m) m = h[c] as number;
    }
    if (a > 0) internal++;
    size[i] = s;
    h[i] = m + 1;
    stack[sp++] = i;
  }
  return { sizes: size, heights: h, internal };
}

/** Subtree sizes of every node (cached: see {@link shapeOf}). */
export function subtreeSizes(t: Tree): Int32Array {
  return shapeOf(t).sizes;
}

/** Height of every node's subtree, a leaf having height 0 (cached: see {@link shapeOf}). */
export function subtreeHeights(t: Tree): Int32Array {
  return shapeOf(t).heights;
}

/** Depth of the tree: edges on the longest root-to-leaf path (a single node has depth 0, as in DEAP). */
export function depth(t: Tree): number {
  const known = t instanceof ShapedTree ? t.knownShape : undefined;
  if (known) return known.heights[known.heights.length - 1] as number;
  // one pass over a scratch stack of heights, and no shape kept: statistics ask for the depth of
  // every tree of every generation, and many of them (never chosen as parents) need no shape at all
  const op = t.op;
  const n = op.length;
  if (shapeStack.length < n) shapeStack = new Int32Array(2 * n);
  const stack = shapeStack;
  let sp = 0;
  for (let i = 0; i < n; i++) {
    const a = ARITY[op[i] as number] as number;
    let m = -1;
    for (let k = 0; k < a; k++) {
      const c = stack[--sp] as number;
      if (c > m) m = c;
    }
    stack[sp++] = m + 1;
  }
  return stack[0] as number;
}

/** Largest evaluation-stack height the postfix program needs. */
export function stackDepth(t: Tree): number {
  let sp = 0;
  let max = 0;
  for (let i = 0; i < t.op.length; i++) {
    sp += 1 - (ARITY[t.op[i] as number] as number);
    if (sp > max) max = sp;
  }
  return max;
}

/** Checks the encoding: known opcodes, one value left on the stack, integer variable indices in range. */
export function isValidTree(t: Tree, nVariables: number): boolean {
  if (t.op.length === 0 || t.op.length !== t.arg.length) return false;
  let sp = 0;
  for (let i = 0; i < t.op.length; i++) {
    const op = t.op[i] as number;
    const a = ARITY[op];
    if (a === undefined) return false;
    if (op === Op.Var) {
      const v = t.arg[i] as number;
      if (!Number.isInteger(v) || v < 0 || v >= nVariables) return false;
    }
    if (op === Op.Const && !Number.isFinite(t.arg[i] as number)) return false;
    if (sp < a) return false;
    sp += 1 - a;
  }
  return sp === 1;
}

/** Copy of the subtree rooted at node i. */
export function subtree(t: Tree, i: number): Tree {
  const start = i - (shapeOf(t).sizes[i] as number) + 1;
  return makeTree(t.op.subarray(start, i + 1), t.arg.subarray(start, i + 1));
}

/** `t` with the subtree rooted at node i replaced by a copy of the subtree of `by` rooted at node j (default: all of `by`). */
export function replaceSubtree(t: Tree, i: number, by: Tree, j = by.op.length - 1): Tree {
  const start = i - (shapeOf(t).sizes[i] as number) + 1;
  const bEnd = j + 1;
  // all of `by` (a mutation's new subtree) needs no shape
  const bStart = j === by.op.length - 1 ? 0 : bEnd - (shapeOf(by).sizes[j] as number);
  const len = bEnd - bStart;
  const n = t.op.length - (i + 1 - start) + len;
  const child = blankTree(n);
  // element loops: trees are small, and views for set() would cost more than the copying
  const { op, arg } = child;
  const top = t.op;
  const targ = t.arg;
  for (let k = 0; k < start; k++) {
    op[k] = top[k] as number;
    arg[k] = targ[k] as number;
  }
  for (let k = 0; k < len; k++) {
    op[start + k] = by.op[bStart + k] as number;
    arg[start + k] = by.arg[bStart + k] as number;
  }
  for (let k = i + 1, at = start + len; k < top.length; k++, at++) {
    op[at] = top[k] as number;
    arg[at] = targ[k] as number;
  }
  return child;
}

/**
 * Depth of `t` with the subtree at node i replaced by a subtree of height `height`, without building
 * it: the nodes outside the subtree keep their depths, so it is the larger of i's depth plus `height`
 * and the deepest sibling subtree along the path from the root to i.
 */
export function replacementDepth(t: Tree, i: number, height: number): number {
  const { sizes, heights } = shapeOf(t);
  let node = t.op.length - 1;
  let d = 0;
  let deepest = 0;
  while (node !== i) {
    const right = node - 1;
    if ((ARITY[t.op[node] as number] as number) === 1) node = right;
    else {
      const left = right - (sizes[right] as number);
      // i lies in the right subtree when it comes after the left child in postfix order
      const sibling = i > left ? left : right;
      node = i > left ? right : left;
      if (d + 1 + (heights[sibling] as number) > deepest) deepest = d + 1 + (heights[sibling] as number);
    }
    d++;
  }
  return Math.max(deepest, d + height);
}

/** Child node indices of node i (left to right). */
export function children(t: Tree, i: number, sizes: Int32Array): number[] {
  const a = ARITY[t.op[i] as number] as number;
  if (a === 0) return [];
  if (a === 1) return [i - 1];
  const right = i - 1;
  return [right - (sizes[right] as number), right];
}

let keyUnits = new Uint16Array(1024);
const keyF64 = new Float64Array(1);
const keyU16 = new Uint16Array(keyF64.buffer);
const keyU32 = new Uint32Array(keyF64.buffer);

/**
 * Canonical key: equal keys iff equal trees (opcodes and arguments; constants compare as numbers, so
 * 0 and -0 are one constant, and so are all NaNs). A string of UTF-16 code units, not text: the
 * opcode, then a variable's index in two units or a constant's 64 bits in four.
 */
export function treeKey(t: Tree): string {
  const n = t.op.length;
  if (keyUnits.length < 5 * n) keyUnits = new Uint16Array(10 * n);
  const u = keyUnits;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const op = t.op[i] as number;
    u[k++] = op;
    if (op === Op.Var) {
      const v = t.arg[i] as number;
      u[k++] = v & 0xffff;
      u[k++] = v >>> 16;
    } else if (op === Op.Const) {
      const v = t.arg[i] as number;
      keyF64[0] = v === 0 ? 0 : v !== v ? NaN : v;
      u[k++] = keyU16[0] as number;
      u[k++] = keyU16[1] as number;
      u[k++] = keyU16[2] as number;
      u[k++] = keyU16[3] as number;
    }
  }
  let s = '';
  // fromCharCode takes its units as arguments: a few thousand at a time
  for (let a = 0; a < k; a += 4096) s += String.fromCharCode.apply(null, u.subarray(a, Math.min(k, a + 4096)) as unknown as number[]);
  return s;
}

/**
 * A 32-bit hash of a tree (FNV-1a over opcodes, variable indices and constants' bits), for finding
 * equal trees without comparing every pair. With `numeric`, constants are hashed as numbers: 0 and -0
 * alike, and every NaN alike ({@link treeKey}'s equality); without, by their exact bits.
 */
export function treeHash(t: Tree, numeric = false): number {
  return t instanceof ShapedTree ? t.hash(numeric) : hashOf(t, numeric);
}

/** {@link treeHash} computed; sets {@link hashSawSpecial} when a constant is -0 or NaN (where the two hashes can differ). */
function hashOf(t: Tree, numeric: boolean): number {
  const op = t.op;
  const arg = t.arg;
  let h = 0x811c9dc5 ^ op.length;
  let special = false;
  for (let k = 0; k < op.length; k++) {
    const o = op[k] as number;
    h = Math.imul(h ^ o, 0x01000193);
    if (o === Op.Var) h = Math.imul(h ^ (arg[k] as number), 0x01000193);
    else if (o === Op.Const) {
      const v = arg[k] as number;
      if (v !== v || (v === 0 && 1 / v < 0)) special = true;
      keyF64[0] = numeric ? (v === 0 ? 0 : v !== v ? NaN : v) : v;
      h = Math.imul(h ^ (keyU32[0] as number) ^ Math.imul(keyU32[1] as number, 0x5bd1e995), 0x01000193);
    }
  }
  hashSawSpecial = special;
  return h;
}

let hashSawSpecial = false;

/**
 * How many distinct trees a list holds, with {@link treeKey}'s equality (constants compare as numbers:
 * 0 and -0 are one constant, and so are all NaNs), by hashing instead of building keys.
 */
export function distinctTrees(trees: readonly Tree[]): number {
  return groupTrees(trees, true).count;
}

/**
 * Groups equal trees: `group[i]` numbers tree i's group, groups in order of their first tree. With
 * `numeric`, {@link treeKey}'s equality; without, opcodes equal and arguments equal by `Object.is`
 * with equal {@link treeHash} bits. One open-addressing table of hashes and first members, kept between
 * calls (a population is grouped every generation), so grouping allocates only its result.
 */
export function groupTrees(trees: readonly Tree[], numeric: boolean): { group: Int32Array; count: number } {
  const n = trees.length;
  let bits = 4;
  while (1 << bits < 2 * n) bits++;
  const cap = 1 << bits;
  if (groupFirst.length < cap) {
    groupFirst = new Int32Array(cap);
    groupHash = new Int32Array(cap);
  }
  const first = groupFirst;
  const hashes = groupHash;
  first.fill(-1, 0, cap);
  const mask = cap - 1;
  const group = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const t = trees[i] as Tree;
    const h = treeHash(t, numeric);
    let at = Math.imul(h, 0x9e3779b1) >>> (32 - bits); // the product's high bits (Fibonacci hashing)
    for (;;) {
      const f = first[at] as number;
      if (f < 0) {
        first[at] = i;
        hashes[at] = h;
        group[i] = count++;
        break;
      }
      if (hashes[at] === h && (numeric ? sameKey(trees[f] as Tree, t) : sameTree(trees[f] as Tree, t))) {
        group[i] = group[f] as number;
        break;
      }
      at = (at + 1) & mask;
    }
  }
  return { group, count };
}

let groupFirst = new Int32Array(0);
let groupHash = new Int32Array(0);

/** Equal opcodes, and arguments equal by `Object.is` (0 and -0 differ; every NaN is one). */
function sameTree(a: Tree, b: Tree): boolean {
  if (a.op.length !== b.op.length) return false;
  for (let i = 0; i < a.op.length; i++) {
    if (a.op[i] !== b.op[i] || !Object.is(a.arg[i], b.arg[i])) return false;
  }
  return true;
}

/** Equal keys ({@link treeKey}): same opcodes and variables, constants equal as numbers (or both NaN). */
function sameKey(a: Tree, b: Tree): boolean {
  if (a.op.length !== b.op.length) return false;
  for (let i = 0; i < a.op.length; i++) {
    if (a.op[i] !== b.op[i]) return false;
    const x = a.arg[i] as number;
    const y = b.arg[i] as number;
    if (x !== y && !(x !== x && y !== y)) return false;
  }
  return true;
}

export function treesEqual(a: Tree, b: Tree): boolean {
  if (a.op.length !== b.op.length) return false;
  for (let i = 0; i < a.op.length; i++) {
    if (a.op[i] !== b.op[i] || !Object.is(a.arg[i], b.arg[i])) return false;
  }
  return true;
}
