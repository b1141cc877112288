import { Op, PROTECT_DIV, PROTECT_LOG } from './primitives.js';
import { SYMPY_RESERVED } from './sympy-reserved.js';
import { toNodes, type ExprNode } from './simplify.js';
import type { Tree } from './tree.js';

/*
 * LaTeX and SymPy printers. Both print the mathematical form of the protected operators
 * (primitives.ts): a/b, ln|a|, sqrt|a|. They agree with gpmate's evaluation wherever the protection
 * does not act (|b| > 0.001, |a| > 0.001); `toSympy(t, names, { protected: true })` prints the exact
 * protected semantics with Piecewise instead.
 */

type Printed = { s: string; prec: number };
const ATOM = 9;
/** A function application such as \\sin(x): binds tighter than products, but a power of it needs parentheses. */
const FN = 6;
const POW = 5;
const NEG = 4;
const MUL = 3;
const ADD = 1;

function number(v: number, latex: boolean): Printed {
  let s = String(v);
  if (latex && /e/.test(s)) {
    const [m, e] = s.split('e') as [string, string];
    s = `${m} \\cdot 10^{${Number(e)}}`;
  }
  return { s, prec: v < 0 || Object.is(v, -0) ? NEG : latex && /cdot/.test(s) ? MUL : ATOM };
}

/** A number as the LaTeX export prints a constant (1e-7 as 1 \\cdot 10^{-7}). */
export function latexNumber(v: number): string {
  return number(v, true).s;
}

const isNegConst = (n: ExprNode): boolean => n.op === Op.Const && n.arg < 0 && Number.isFinite(n.arg);

function wrap(p: Printed, min: number, open: string, close: string): string {
  return p.prec < min ? `${open}${p.s}${close}` : p.s;
}

/** Math-mode forms of the characters that LaTeX would otherwise read as markup inside \mathrm{}. */
const LATEX_CHAR: Readonly<Record<string, string>> = { '\\': '\\backslash{}', '^': '\\hat{}', '~': '\\sim{}', ' ': '\\ ' };

function latexName(name: string): string {
  const m = /^([A-Za-z]+)_?(\d+)$/.exec(name);
  if (m) return m[1]!.length === 1 ? `${m[1]}_{${m[2]}}` : `\\mathrm{${m[1]}}_{${m[2]}}`;
  if (/^[A-Za-z]$/.test(name)) return name;
  return `\\mathrm{${name.replace(/[_{}$&#%^\\~ ]/g, (c) => LATEX_CHAR[c] ?? `\\${c}`)}}`;
}

/** LaTeX for a tree (math mode content, no delimiters). */
export function toLatex(t: Tree, names: readonly string[]): string {
  const L = '\\left(';
  const R = '\\right)';
  const go = (n: ExprNode): Printed => {
    if (n.op === Op.Const) return number(n.arg, true);
    if (n.op === Op.Var) return { s: latexName(names[n.arg] ?? `x${n.arg}`), prec: ATOM };
    const k = n.kids.map(go);
    const [a, b] = k as [Printed, Printed];
    const negC = n.op === Op.Add && isNegConst(n.kids[1] as ExprNode) ? number(-(n.kids[1] as ExprNode).arg, true) : undefined;
    switch (n.op) {
      case Op.Add:
        if (negC) return { s: `${a.s} - ${wrap(negC, ADD + 1, L, R)}`, prec: ADD };
        return { s: `${a.s} + ${wrap(b, ADD + 1, L, R)}`, prec: ADD };
      case Op.Sub:
        return { s: `${a.s} - ${wrap(b, ADD + 1, L, R)}`, prec: ADD };
      case Op.Mul:
        return { s: `${wrap(a, MUL, L, R)} \\cdot ${wrap(b, MUL + 1, L, R)}`, prec: MUL };
      case Op.Div:
        return { s: `\\frac{${a.s}}{${b.s}}`, prec: ATOM };
      case Op.Sin:
        return { s: `\\sin${L}${a.s}${R}`, prec: FN };
      case Op.Cos:
        return { s: `\\cos${L}${a.s}${R}`, prec: FN };
      case Op.Exp:
        return { s: `e^{${a.s}}`, prec: POW };
      case Op.Log:
        return { s: `\\log\\left|${a.s}\\right|`, prec: FN };
      case Op.Sqrt:
        return { s: `\\sqrt{\\left|${a.s}\\right|}`, prec: ATOM };
      case Op.Neg:
        return { s: `-${wrap(a, MUL, L, R)}`, prec: NEG };
      case Op.Square:
        return { s: `${wrap(a, ATOM, L, R)}^{2}`, prec: POW };
      default:
        throw new Error(`toLatex: unknown opcode ${n.op}`);
    }
  };
  return go(toNodes(t)).s;
}

/**
 * A name for each variable in SymPy strings: the name itself when it is a Python identifier that SymPy's
 * parser reads as a plain symbol (not a keyword, nor one of SymPy's own names such as `pi`, `exp` or
 * `gamma`: {@link SYMPY_RESERVED}); otherwise x0, x1, ... by its column, with `_` appended until it
 * clashes with no other variable's name.
 */
export function sympyNames(names: readonly string[]): string[] {
  const plain = (n: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n) && !SYMPY_RESERVED.has(n);
  const used = new Set(names.filter(plain));
  return names.map((n, i) => {
    if (plain(n)) return n;
    let id = `x${i}`;
    while (used.has(id) || SYMPY_RESERVED.has(id)) id += '_';
    used.add(id);
    return id;
  });
}

export interface SympyOptions {
  /** Print the protected operators exactly (Piecewise); default false (plain a/b, log(Abs(a)), sqrt(Abs(a))). */
  readonly protected?: boolean;
}

/** A SymPy expression string (`sympy.sympify` parses it); variables as given by {@link sympyNames}. */
export function toSympy(t: Tree, names: readonly string[], o: SympyOptions = {}): string {
  const ids = sympyNames(names);
  const go = (n: ExprNode): Printed => {
    if (n.op === Op.Const) return number(n.arg, false);
    if (n.op === Op.Var) return { s: ids[n.arg] ?? `x${n.arg}`, prec: ATOM };
    const k = n.kids.map(go);
    const [a, b] = k as [Printed, Printed];
    const negC = n.op === Op.Add && isNegConst(n.kids[1] as ExprNode) ? number(-(n.kids[1] as ExprNode).arg, false) : undefined;
    switch (n.op) {
      case Op.Add:
        if (negC) return { s: `${a.s} - ${wrap(negC, ADD + 1, '(', ')')}`, prec: ADD };
        return { s: `${a.s} + ${wrap(b, ADD + 1, '(', ')')}`, prec: ADD };
      case Op.Sub:
        return { s: `${a.s} - ${wrap(b, ADD + 1, '(', ')')}`, prec: ADD };
      case Op.Mul:
        return { s: `${wrap(a, MUL, '(', ')')}*${wrap(b, MUL + 1, '(', ')')}`, prec: MUL };
      case Op.Div:
        if (o.protected) return { s: `Piecewise((${a.s}/(${b.s}), Abs(${b.s}) > ${PROTECT_DIV}), (1, True))`, prec: ATOM };
        return { s: `${wrap(a, MUL, '(', ')')}/${wrap(b, MUL + 1, '(', ')')}`, prec: MUL };
      case Op.Sin:
        return { s: `sin(${a.s})`, prec: ATOM };
      case Op.Cos:
        return { s: `cos(${a.s})`, prec: ATOM };
      case Op.Exp:
        return { s: `exp(${a.s})`, prec: ATOM };
      case Op.Log:
        if (o.protected) return { s: `Piecewise((log(Abs(${a.s})), Abs(${a.s}) > ${PROTECT_LOG}), (0, True))`, prec: ATOM };
        return { s: `log(Abs(${a.s}))`, prec: ATOM };
      case Op.Sqrt:
        return { s: `sqrt(Abs(${a.s}))`, prec: ATOM };
      case Op.Neg:
        return { s: `-${wrap(a, MUL, '(', ')')}`, prec: NEG };
      case Op.Square:
        return { s: `${wrap(a, ATOM, '(', ')')}**2`, prec: POW };
      default:
        throw new Error(`toSympy: unknown opcode ${n.op}`);
    }
  };
  return go(toNodes(t)).s;
}
