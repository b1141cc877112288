import { cpus, availableParallelism } from 'node:os';
import { Rng } from '../src/core/rng.js';
import { makeDataset, type Dataset } from '../src/eval/dataset.js';
import { FUNCTIONS, Op, type FunctionName } from '../src/tree/primitives.js';
import type { Tree } from '../src/tree/tree.js';

export const ARITH: readonly FunctionName[] = ['add', 'sub', 'mul', 'div'];
export const TRIG: readonly FunctionName[] = ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log'];
export const ROW_COUNTS = [10, 1_000, 10_000, 100_000] as const;

/** A benchmark's integer flag `--name` from its text, checked to lie in [min, max]. */
export function intFlag(name: string, text: string | undefined, min: number, max = Infinity): number {
  const n = Number(text);
  if (!(Number.isInteger(n) && n >= min && n <= max))
    throw new Error(`--${name}: expected an integer ${max === Infinity ? `>= ${min}` : `from ${min} to ${max}`}, got ${String(text)}`);
  return n;
}

/** The machine, for the header of every benchmark print-out. */
export function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores available, Node ${process.version}, ${process.platform}/${process.arch}`;
}

/**
 * A random tree of exactly n nodes (n odd when only binary functions are given): the Operon-style
 * workload draws lengths uniformly in [1, 64]. Leaves are variables (80%) or constants in [-1, 1].
 */
export function treeOfSize(rng: Rng, functions: readonly FunctionName[], vars: number, n: number): Tree {
  const binary = functions.filter((f) => FUNCTIONS[f].arity === 2);
  const unary = functions.filter((f) => FUNCTIONS[f].arity === 1);
  const op: number[] = [];
  const arg: number[] = [];
  const gen = (k: number): void => {
    if (k === 1) {
      if (rng.chance(0.2)) {
        op.push(Op.Const);
        arg.push(rng.uniform(-1, 1));
      } else {
        op.push(Op.Var);
        arg.push(rng.int(vars));
      }
      return;
    }
    const useUnary = unary.length > 0 && (k === 2 || rng.chance(unary.length / functions.length));
    if (useUnary) {
      gen(k - 1);
      op.push(FUNCTIONS[rng.pick(unary)].op);
    } else {
      // Sizes of the two children: left in [1, k - 2], odd when only binary functions exist.
      let left = 1 + rng.int(k - 2);
      if (unary.length === 0 && left % 2 === 0) left -= 1;
      gen(left);
      gen(k - 1 - left);
      op.push(FUNCTIONS[rng.pick(binary)].op);
    }
    arg.push(0);
  };
  gen(n);
  return { op: Uint8Array.from(op), arg: Float64Array.from(arg) };
}

/** `count` random trees with lengths uniform in [1, maxLength]. */
export function workload(seed: number, functions: readonly FunctionName[], vars: number, count = 1000, maxLength = 64): Tree[] {
  const rng = new Rng(seed);
  const onlyBinary = functions.every((f) => FUNCTIONS[f].arity === 2);
  return Array.from({ length: count }, () => {
    let n = 1 + rng.int(maxLength);
    if (onlyBinary && n % 2 === 0) n -= 1;
    return treeOfSize(rng, functions, vars, n);
  });
}

/** Inputs uniform in [-5, 5]; y = a smooth function of the first inputs. */
export function benchDataset(seed: number, rows: number, vars: number): Dataset {
  const rng = new Rng(seed);
  const names = Array.from({ length: vars }, (_, j) => `x${j}`);
  const cols = names.map(() => Float64Array.from({ length: rows }, () => rng.uniform(-5, 5)));
  const y = Float64Array.from({ length: rows }, (_, r) => Math.sin(cols[0]![r]!) * cols[1 % vars]![r]! + 0.5 * cols[2 % vars]![r]!);
  return makeDataset(names, cols, y);
}

export const nodesOf = (trees: readonly Tree[]): number => trees.reduce((s, t) => s + t.op.length, 0);

/** Runs `f` until at least `minSeconds` and `minReps` have passed (after one warm-up); median seconds. */
export async function timeIt(f: () => unknown | Promise<unknown>, minSeconds = 0.4, minReps = 3, maxReps = 50): Promise<number> {
  await f();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxReps && (times.length < minReps || performance.now() - start < minSeconds * 1000)) {
    const t0 = performance.now();
    await f();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

export const sci = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : String(x));
