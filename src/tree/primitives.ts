import { ConfigError, optionError } from '../core/errors.js';
import { check, stripUndefined } from '../core/options.js';
import { cos, exp, ln, sin } from './elementary.js';

/**
 * Opcodes of the flat postfix encoding. Terminals first; the numbering is part of the encoding that
 * the CPU interpreters, the worker messages and the GPU kernel share, so it only ever grows.
 */
export const Op = {
  Const: 0,
  Var: 1,
  Add: 2,
  Sub: 3,
  Mul: 4,
  Div: 5,
  Sin: 6,
  Cos: 7,
  Exp: 8,
  Log: 9,
  Sqrt: 10,
  Neg: 11,
  Square: 12,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

export type FunctionName = 'add' | 'sub' | 'mul' | 'div' | 'sin' | 'cos' | 'exp' | 'log' | 'sqrt' | 'neg' | 'square';

export interface Primitive {
  readonly name: string;
  readonly op: Op;
  readonly arity: 0 | 1 | 2;
  /** Infix symbol for binary operators; function name otherwise. */
  readonly symbol: string;
}

/**
 * The function table. Protected operators follow gplearn's widely used definitions, so results are
 * comparable across tools:
 * - `div(a, b)` = a / b when |b| > 0.001, else 1
 * - `log(a)` = ln|a| when |a| > 0.001, else 0
 * - `sqrt(a)` = sqrt(|a|)
 * `exp` is unprotected: overflow gives Infinity, which makes the tree's fitness the worst.
 * sin, cos, exp and ln are gpmate's own definitions (src/tree/elementary.ts: fdlibm's algorithms as
 * fixed sequences of IEEE-754 basic operations, within 1 ulp of the exact values), not V8's Math
 * functions, so that the SIMD evaluator reproduces them bit for bit.
 */
export const FUNCTIONS = {
  add: { name: 'add', op: Op.Add, arity: 2, symbol: '+' },
  sub: { name: 'sub', op: Op.Sub, arity: 2, symbol: '-' },
  mul: { name: 'mul', op: Op.Mul, arity: 2, symbol: '*' },
  div: { name: 'div', op: Op.Div, arity: 2, symbol: '/' },
  sin: { name: 'sin', op: Op.Sin, arity: 1, symbol: 'sin' },
  cos: { name: 'cos', op: Op.Cos, arity: 1, symbol: 'cos' },
  exp: { name: 'exp', op: Op.Exp, arity: 1, symbol: 'exp' },
  log: { name: 'log', op: Op.Log, arity: 1, symbol: 'log' },
  sqrt: { name: 'sqrt', op: Op.Sqrt, arity: 1, symbol: 'sqrt' },
  neg: { name: 'neg', op: Op.Neg, arity: 1, symbol: 'neg' },
  square: { name: 'square', op: Op.Square, arity: 1, symbol: 'square' },
} as const satisfies Record<FunctionName, Primitive>;

export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];

/** Arity of each opcode, indexed by opcode. */
export const ARITY: readonly number[] = (() => {
  const a = [0, 0];
  for (const f of Object.values(FUNCTIONS)) a[f.op] = f.arity;
  return a;
})();

export const OP_NAME: readonly string[] = (() => {
  const a = ['const', 'var'];
  for (const f of Object.values(FUNCTIONS)) a[f.op] = f.name;
  return a;
})();

/** The default function set (Koza's): + - * / sin cos exp log. */
export const DEFAULT_FUNCTIONS: readonly FunctionName[] = ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log'];
/**
 * The default for measured data (`gpmate run --data`, `fit`): no sin or cos. On an input that takes
 * few distinct values (a pipe's roughness in Nikuradse's data: 5 values in training) a periodic
 * function can pass through every training value and mean nothing between them; at the issue's
 * budget Koza's set gave median test R^2 0.883 on Nikuradse_1 against 0.941 without trigonometry
 * (bench/RESULTS-realworld.md).
 */
export const DATA_FUNCTIONS: readonly FunctionName[] = ['add', 'sub', 'mul', 'div', 'exp', 'log', 'sqrt', 'square'];

/** Thresholds of the protected operators (see {@link FUNCTIONS}). */
export const PROTECT_DIV = 0.001;
export const PROTECT_LOG = 0.001;

/** Applies a unary opcode to one value (the reference semantics every evaluator must match bitwise). */
export function apply1(op: number, a: number): number {
  switch (op) {
    case Op.Sin:
      return sin(a);
    case Op.Cos:
      return cos(a);
    case Op.Exp:
      return exp(a);
    case Op.Log:
      return Math.abs(a) > PROTECT_LOG ? ln(Math.abs(a)) : 0;
    case Op.Sqrt:
      return Math.sqrt(Math.abs(a));
    case Op.Neg:
      return -a;
    case Op.Square:
      return a * a;
    default:
      throw new Error(`opcode ${op} is not unary`);
  }
}

/** Applies a binary opcode to one pair of values. */
export function apply2(op: number, a: number, b: number): number {
  switch (op) {
    case Op.Add:
      return a + b;
    case Op.Sub:
      return a - b;
    case Op.Mul:
      return a * b;
    case Op.Div:
      return Math.abs(b) > PROTECT_DIV ? a / b : 1;
    default:
      throw new Error(`opcode ${op} is not binary`);
  }
}

/** A configured primitive set: the functions in use and the terminals (variables, constants). */
export interface PrimitiveSet {
  readonly functions: readonly Primitive[];
  readonly unary: readonly Primitive[];
  readonly binary: readonly Primitive[];
  readonly variables: readonly string[];
  /** Probability that a terminal is an ephemeral random constant rather than a variable. */
  readonly constantProbability: number;
  /** Ephemeral random constants are drawn uniformly from this range. */
  readonly constantRange: readonly [number, number];
}

export interface PrimitiveSetOptions {
  /** Function set by name (FUNCTIONS). */
  functions?: readonly string[];
  /** Probability that a terminal is a constant rather than an input variable. */
  constantProbability?: number;
  /** Range of random constants [lo, hi]. */
  constantRange?: readonly [number, number];
}

/** Defaults of the primitive set: Koza's functions, constants uniform in [-1, 1] for 20% of the terminals. */
export const DEFAULT_PRIMITIVE_OPTIONS: Readonly<Required<PrimitiveSetOptions>> = {
  functions: DEFAULT_FUNCTIONS,
  constantProbability: 0.2,
  constantRange: [-1, 1],
};

/** Fills the primitive set's defaults and checks them; each error names its option. */
export function resolvePrimitiveOptions(partial: PrimitiveSetOptions = {}): Required<PrimitiveSetOptions> {
  const o = { ...DEFAULT_PRIMITIVE_OPTIONS, ...stripUndefined(partial) };
  const names = o.functions;
  if (!Array.isArray(names) || names.length === 0) throw optionError('functions', 'the function set is empty');
  for (const n of names) {
    if (!Object.hasOwn(FUNCTIONS, n)) throw optionError('functions', `unknown function "${n}" (known: ${FUNCTION_NAMES.join(', ')})`);
  }
  if (new Set(names).size !== names.length) throw optionError('functions', 'a function is listed twice');
  const constantProbability = check.probability('constantProbability', o.constantProbability);
  const constantRange = check.pair('constantRange', o.constantRange);
  return { functions: names, constantProbability, constantRange };
}

export function primitiveSet(variables: readonly string[], partial: PrimitiveSetOptions = {}): PrimitiveSet {
  if (variables.length === 0) throw new ConfigError('the data set has no input variables');
  const { functions: names, constantProbability, constantRange } = resolvePrimitiveOptions(partial);
  const functions = names.map((n) => (FUNCTIONS as Record<string, Primitive>)[n] as Primitive);
  return {
    functions,
    unary: functions.filter((f) => f.arity === 1),
    binary: functions.filter((f) => f.arity === 2),
    variables,
    constantProbability,
    constantRange,
  };
}
