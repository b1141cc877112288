import { ConfigError } from '../core/errors.js';
import { FUNCTIONS, Op, type Primitive } from './primitives.js';
import { makeTree, type Tree } from './tree.js';

interface Token {
  /** `name`: a name between backticks (any characters; a backtick in it written twice). */
  readonly kind: 'num' | 'id' | 'name' | 'op';
  readonly text: string;
  readonly pos: number;
}

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_.]*/;

/** True when `name` reads back as one name token (else infix text writes it between backticks). */
export function isIdentifier(name: string): boolean {
  return IDENT.exec(name)?.[0] === name;
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = src.slice(i);
    const num = NUMBER.exec(rest);
    if (num) {
      out.push({ kind: 'num', text: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    if (c === '`') {
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new ConfigError(`expression: the name quoted at position ${i} has no closing backtick`);
        if (src[j] === '`') {
          if (src[j + 1] !== '`') break;
          j++;
        }
        text += src[j];
        j++;
      }
      out.push({ kind: 'name', text, pos: i });
      i = j + 1;
      continue;
    }
    const id = IDENT.exec(rest);
    if (id) {
      out.push({ kind: 'id', text: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    if ('+-*/^(),'.includes(c)) {
      out.push({ kind: 'op', text: c, pos: i });
      i++;
      continue;
    }
    throw new ConfigError(`expression: unexpected character "${c}" at position ${i}`);
  }
  return out;
}

const BINARY: Record<string, number> = { '+': Op.Add, '-': Op.Sub, '*': Op.Mul, '/': Op.Div };
const CALLS: Record<string, Primitive> = Object.fromEntries(
  Object.values(FUNCTIONS)
    .filter((f) => f.arity === 1)
    .map((f) => [f.name, f]),
);
const BINARY_CALLS: Record<string, Primitive> = Object.fromEntries(
  Object.values(FUNCTIONS)
    .filter((f) => f.arity === 2)
    .map((f) => [f.name, f]),
);

/**
 * Parses infix text into a tree, by recursive descent (never by evaluating the string).
 * Grammar: `expr = term (('+'|'-') term)*`, `term = unary (('*'|'/') unary)*`,
 * `unary = '-' unary | power`, `power = primary ('^' 2)?`, `primary = number | name | quoted |
 * f(expr) | f(expr, expr) | (expr)`. Names are the given variable names; `x0`, `x1`, ... also address
 * variables by index. `quoted` is a name between backticks, for one that is not an identifier (a
 * backtick in it written twice), as toInfix (print.ts) prints it. `-` before a literal makes a negative
 * constant; before anything else, `neg`. `e^2` is `square(e)`; `add/sub/mul/div(a, b)` are accepted as
 * calls.
 */
export function parseInfix(src: string, names: readonly string[]): Tree {
  const toks = tokenize(src);
  let p = 0;
  const op: number[] = [];
  const arg: number[] = [];
  const fail = (msg: string): never => {
    const at = p < toks.length ? `at position ${(toks[p] as Token).pos}` : 'at the end';
    throw new ConfigError(`expression "${src}": ${msg} ${at}`);
  };
  const peek = (): Token | undefined => toks[p];
  const eat = (text: string): boolean => {
    const t = peek();
    if (t && t.kind === 'op' && t.text === text) {
      p++;
      return true;
    }
    return false;
  };
  const expect = (text: string): void => {
    if (!eat(text)) fail(`expected "${text}"`);
  };

  const expr = (): void => {
    term();
    for (;;) {
      const t = peek();
      if (t?.kind === 'op' && (t.text === '+' || t.text === '-')) {
        p++;
        term();
        op.push(BINARY[t.text] as number);
        arg.push(0);
      } else return;
    }
  };
  const term = (): void => {
    unary();
    for (;;) {
      const t = peek();
      if (t?.kind === 'op' && (t.text === '*' || t.text === '/')) {
        p++;
        unary();
        op.push(BINARY[t.text] as number);
        arg.push(0);
      } else return;
    }
  };
  const unary = (): void => {
    if (eat('-')) {
      const start = op.length;
      unary();
      if (op.length === start + 1 && op[start] === Op.Const) arg[start] = -(arg[start] as number);
      else {
        op.push(Op.Neg);
        arg.push(0);
      }
      return;
    }
    power();
  };
  const power = (): void => {
    primary();
    if (eat('^')) {
      const t = peek();
      if (!t || t.kind !== 'num' || Number(t.text) !== 2) fail('only ^2 is supported (as square)');
      p++;
      op.push(Op.Square);
      arg.push(0);
    }
  };
  const primary = (): void => {
    const t = peek();
    if (!t) return fail('unexpected end of expression');
    if (t.kind === 'num') {
      p++;
      op.push(Op.Const);
      arg.push(Number(t.text));
      return;
    }
    if (t.kind === 'id') {
      p++;
      const f = CALLS[t.text] ?? BINARY_CALLS[t.text];
      if (f && peek()?.text === '(') {
        p++;
        expr();
        if (f.arity === 2) {
          expect(',');
          expr();
        }
        expect(')');
        op.push(f.op);
        arg.push(0);
        return;
      }
      let v = names.indexOf(t.text);
      if (v < 0) {
        const m = /^x(\d+)$/.exec(t.text);
        if (m && Number(m[1]) < names.length) v = Number(m[1]);
      }
      if (v < 0) {
        p--;
        return fail(`unknown name "${t.text}"`);
      }
      op.push(Op.Var);
      arg.push(v);
      return;
    }
    if (t.kind === 'name') {
      const v = names.indexOf(t.text);
      if (v < 0) return fail(`unknown name "${t.text}"`);
      p++;
      op.push(Op.Var);
      arg.push(v);
      return;
    }
    if (eat('(')) {
      expr();
      expect(')');
      return;
    }
    return fail(`unexpected "${t.text}"`);
  };

  expr();
  if (p < toks.length) fail('unexpected trailing input');
  return makeTree(op, arg);
}
