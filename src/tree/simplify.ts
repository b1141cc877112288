import { apply1, apply2, ARITY, Op } from './primitives.js';
import { makeTree, type Tree } from './tree.js';

/** A tree node with its children: the nested form the simplifier and the printers work on. */
export interface ExprNode {
  readonly op: number;
  readonly arg: number;
  readonly kids: readonly ExprNode[];
}

/** The nested form of a postfix tree. */
export function toNodes(t: Tree): ExprNode {
  const stack: ExprNode[] = [];
  for (let i = 0; i < t.op.length; i++) {
    const op = t.op[i] as number;
    const a = ARITY[op] as number;
    const kids = stack.splice(stack.length - a, a);
    stack.push({ op, arg: a === 0 ? (t.arg[i] as number) : 0, kids });
  }
  return stack.pop() as ExprNode;
}

/** Back to the flat postfix encoding. */
export function fromNodes(n: ExprNode): Tree {
  const op: number[] = [];
  const arg: number[] = [];
  const walk = (m: ExprNode): void => {
    for (const k of m.kids) walk(k);
    op.push(m.op);
    arg.push(m.arg);
  };
  walk(n);
  return makeTree(op, arg);
}

const C = (v: number): ExprNode => ({ op: Op.Const, arg: v, kids: [] });
const isC = (n: ExprNode, v?: number): boolean => n.op === Op.Const && (v === undefined || n.arg === v);

function same(a: ExprNode, b: ExprNode): boolean {
  if (a.op !== b.op || !Object.is(a.arg, b.arg) || a.kids.length !== b.kids.length) return false;
  return a.kids.every((k, i) => same(k, b.kids[i] as ExprNode));
}

/**
 * One bottom-up rewrite step at a node whose children are already simplified. Every rule keeps
 * the value of the expression wherever it is finite, under gpmate's protected semantics:
 * - constant folding with the reference operators (apply1 / apply2), so `div(1, 0)` folds to 1;
 * - identities: x+0, 0+x, x-0, x*1, 1*x, x/1 -> x; 0-x -> neg(x); neg(neg(x)) -> x;
 *   x*0, 0*x -> 0 (differs only where x is not finite: such trees already score as invalid);
 *   x-x -> 0 and x+x -> 2*x for identical subtrees;
 * - constants gathered: (x+c1)+c2 -> x+(c1+c2), (x*c1)*c2 -> x*(c1*c2), c*x -> x*c... reordered to
 *   keep the constant on the right so the gathering rules meet it.
 * A folded constant that is not finite is not folded (the tree keeps its shape).
 */
function rewrite(n: ExprNode): ExprNode {
  const [a, b] = n.kids as [ExprNode, ExprNode];
  if (n.kids.length === 1) {
    if (isC(a)) {
      const v = apply1(n.op, a.arg);
      if (Number.isFinite(v)) return C(v);
    }
    if (n.op === Op.Neg && a.op === Op.Neg) return a.kids[0] as ExprNode;
    return n;
  }
  if (n.kids.length === 2) {
    if (isC(a) && isC(b)) {
      const v = apply2(n.op, a.arg, b.arg);
      if (Number.isFinite(v)) return C(v);
    }
    switch (n.op) {
      case Op.Add:
        if (isC(b, 0)) return a;
        if (isC(a, 0)) return b;
        if (isC(a)) return rewrite({ op: Op.Add, arg: 0, kids: [b, a] });
        if (isC(b) && a.op === Op.Add && isC(a.kids[1] as ExprNode)) {
          return rewrite({ op: Op.Add, arg: 0, kids: [a.kids[0] as ExprNode, C((a.kids[1] as ExprNode).arg + b.arg)] });
        }
        if (same(a, b)) return { op: Op.Mul, arg: 0, kids: [a, C(2)] };
        return n;
      case Op.Sub:
        if (isC(b, 0)) return a;
        if (isC(a, 0)) return rewrite({ op: Op.Neg, arg: 0, kids: [b] });
        if (same(a, b)) return C(0);
        if (isC(b) && Number.isFinite(-b.arg)) return rewrite({ op: Op.Add, arg: 0, kids: [a, C(-b.arg)] });
        return n;
      case Op.Mul:
        if (isC(b, 1)) return a;
        if (isC(a, 1)) return b;
        if (isC(a, 0) || isC(b, 0)) return C(0);
        if (isC(a)) return rewrite({ op: Op.Mul, arg: 0, kids: [b, a] });
        if (isC(b) && a.op === Op.Mul && isC(a.kids[1] as ExprNode)) {
          return rewrite({ op: Op.Mul, arg: 0, kids: [a.kids[0] as ExprNode, C((a.kids[1] as ExprNode).arg * b.arg)] });
        }
        return n;
      case Op.Div:
        if (isC(b, 1)) return a;
        return n;
    }
  }
  return n;
}

/**
 * Constant folding and simple algebraic simplification of a tree (see the rules on `rewrite`).
 * The result computes the same function as the input at every point where the input is finite.
 */
export function simplify(t: Tree): Tree {
  const walk = (n: ExprNode): ExprNode => (n.kids.length ? rewrite({ ...n, kids: n.kids.map(walk) }) : n);
  return fromNodes(walk(toNodes(t)));
}
