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

export function makeTree(op: ArrayLike<number>, arg: ArrayLike<number>): Tree {
  return { op: Uint8Array.from(op), arg: Float64Array.from(arg) };
}

export const constant = (v: number): Tree => makeTree([Op.Const], [v]);
export const variable = (i: number): Tree => makeTree([Op.Var], [i]);

/** Subtree sizes of every node, in one postfix pass. */
export function subtreeSizes(t: Tree): Int32Array {
  const n = t.op.length;
  const size = new Int32Array(n);
  const stack = new Int32Array(n);
  let sp = 0;
  for (let i = 0; i < n; i++) {
    const a = ARITY[t.op[i] as number] as number;
    let s = 1;
    for (let k = 0; k < a; k++) s += size[stack[--sp] as number] as number;
    size[i] = s;
    stack[sp++] = i;
  }
  return size;
}

/** Height of every node's subtree (a leaf has height 0), in one postfix pass. */
export function subtreeHeights(t: Tree): Int32Array {
  const n = t.op.length;
  const h = new Int32Array(n);
  const stack = new Int32Array(n);
  let sp = 0;
  for (let i = 0; i < n; i++) {
    const a = ARITY[t.op[i] as number] as number;
    let m = -1;
    for (let k = 0; k < a; k++) m = Math.max(m, h[stack[--sp] as number] as number);
    h[i] = m + 1;
    stack[sp++] = i;
  }
  return h;
}

/** Depth of the tree: edges on the longest root-to-leaf path (a single node has depth 0, as in DEAP). */
export function depth(t: Tree): number {
  const h = subtreeHeights(t);
  return h[h.length - 1] as number;
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
export function subtree(t: Tree, i: number, sizes = subtreeSizes(t)): Tree {
  const start = i - (sizes[i] as number) + 1;
  return { op: t.op.slice(start, i + 1), arg: t.arg.slice(start, i + 1) };
}

/** `t` with the subtree rooted at node i replaced by `by`. */
export function replaceSubtree(t: Tree, i: number, by: Tree, sizes = subtreeSizes(t)): Tree {
  const start = i - (sizes[i] as number) + 1;
  const n = t.op.length - (i + 1 - start) + by.op.length;
  const op = new Uint8Array(n);
  const arg = new Float64Array(n);
  op.set(t.op.subarray(0, start));
  arg.set(t.arg.subarray(0, start));
  op.set(by.op, start);
  arg.set(by.arg, start);
  op.set(t.op.subarray(i + 1), start + by.op.length);
  arg.set(t.arg.subarray(i + 1), start + by.op.length);
  return { op, arg };
}

/** Child node indices of node i (left to right). */
export function children(t: Tree, i: number, sizes: Int32Array): number[] {
  const a = ARITY[t.op[i] as number] as number;
  if (a === 0) return [];
  if (a === 1) return [i - 1];
  const right = i - 1;
  return [right - (sizes[right] as number), right];
}

/** Canonical key: equal keys iff equal trees (opcodes and exact arguments). */
export function treeKey(t: Tree): string {
  let s = '';
  for (let i = 0; i < t.op.length; i++) {
    const op = t.op[i] as number;
    s += op === Op.Const ? `c${t.arg[i]} ` : op === Op.Var ? `v${t.arg[i]} ` : `${op} `;
  }
  return s;
}

export function treesEqual(a: Tree, b: Tree): boolean {
  if (a.op.length !== b.op.length) return false;
  for (let i = 0; i < a.op.length; i++) {
    if (a.op[i] !== b.op[i] || !Object.is(a.arg[i], b.arg[i])) return false;
  }
  return true;
}
