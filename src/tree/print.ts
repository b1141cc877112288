import { ARITY, FUNCTIONS, Op, OP_NAME } from './primitives.js';
import { isIdentifier } from './parse.js';
import type { Tree } from './tree.js';

const SYMBOL: Record<number, string> = Object.fromEntries(Object.values(FUNCTIONS).map((f) => [f.op, f.symbol]));

/** A variable's name in infix text: as it is when it is an identifier, else between backticks (a backtick in it doubled). */
export function infixName(name: string): string {
  return isIdentifier(name) ? name : `\`${name.replace(/`/g, '``')}\``;
}

/**
 * Infix text of a tree: binary operators fully parenthesised (except at the top), unary operators
 * as calls (`sin(x)`, `neg(x)`, `square(x)`), constants with full round-trip precision, names that are
 * not identifiers between backticks ({@link infixName}). The output parses back to the identical tree
 * with {@link parseInfix}.
 */
export function toInfix(t: Tree, names: readonly string[]): string {
  const stack: string[] = [];
  for (let i = 0; i < t.op.length; i++) {
    const op = t.op[i] as number;
    const arity = ARITY[op];
    if (op === Op.Const) stack.push(formatNumber(t.arg[i] as number));
    else if (op === Op.Var) stack.push(infixName(names[t.arg[i] as number] ?? `x${t.arg[i]}`));
    else if (arity === 1) stack.push(`${OP_NAME[op]}(${stack.pop()})`);
    else {
      const r = stack.pop();
      const l = stack.pop();
      stack.push(`(${l} ${SYMBOL[op]} ${r})`);
    }
  }
  const s = stack.pop() as string;
  return s.startsWith('(') && t.op.length > 1 && ARITY[t.op[t.op.length - 1] as number] === 2 ? s.slice(1, -1) : s;
}

/** Shortest text that parses back to exactly the same double. */
export function formatNumber(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}
