import { Rng } from '../src/core/rng.js';
import { makeDataset, type Dataset } from '../src/eval/dataset.js';
import type { RegressionTask } from '../src/eval/dataset.js';

/**
 * The standard GP regression benchmarks of DESIGN.md section 3, in the notation of McDermott et al.
 * (GECCO 2012, "Genetic programming needs better benchmarks"): U[a, b, n] is n points drawn
 * uniformly per variable; E[a, b, s] is the evenly spaced grid from a to b with step s (a full grid
 * over all variables). Random samples come from the run's seed.
 *
 * Where the benchmark specifies no test set (Koza-1, Nguyen-*, Pagie-1) we draw a fresh sample of the
 * training distribution (our choice, so every run reports a test error).
 */

type Sampler = (rng: Rng) => number[][];

const U =
  (a: number, b: number, n: number, vars: number): Sampler =>
  (rng) =>
    Array.from({ length: n }, () => Array.from({ length: vars }, () => rng.uniform(a, b)));

/** Grid points a, a+s, ... up to b (inclusive, robust to rounding). */
export function gridPoints(a: number, b: number, s: number): number[] {
  const n = Math.floor((b - a) / s + 1e-9) + 1;
  return Array.from({ length: n }, (_, i) => a + i * s);
}

const E =
  (a: number, b: number, s: number, vars: number): Sampler =>
  () => {
    const g = gridPoints(a, b, s);
    let rows: number[][] = [[]];
    for (let v = 0; v < vars; v++) rows = rows.flatMap((r) => g.map((x) => [...r, x]));
    return rows;
  };

interface Benchmark {
  readonly vars: number;
  readonly f: (x: readonly number[]) => number;
  readonly train: Sampler;
  readonly test: Sampler;
  readonly functions?: readonly string[];
}

const x0 = (x: readonly number[]) => x[0] as number;
const poly = (degree: number) => (x: readonly number[]) => {
  let s = 0;
  for (let k = 1; k <= degree; k++) s += x0(x) ** k;
  return s;
};

export const BENCHMARKS = {
  'koza-1': { vars: 1, f: poly(4), train: U(-1, 1, 20, 1), test: U(-1, 1, 20, 1) },
  'nguyen-1': { vars: 1, f: poly(3), train: U(-1, 1, 20, 1), test: U(-1, 1, 20, 1) },
  'nguyen-2': { vars: 1, f: poly(4), train: U(-1, 1, 20, 1), test: U(-1, 1, 20, 1) },
  'nguyen-3': { vars: 1, f: poly(5), train: U(-1, 1, 20, 1), test: U(-1, 1, 20, 1) },
  'nguyen-4': { vars: 1, f: poly(6), train: U(-1, 1, 20, 1), test: U(-1, 1, 20, 1) },
  'nguyen-5': { vars: 1, f: (x) => Math.sin(x0(x) ** 2) * Math.cos(x0(x)) - 1, train: U(-1, 1, 20, 1), test: U(-1, 1, 20, 1) },
  'nguyen-6': { vars: 1, f: (x) => Math.sin(x0(x)) + Math.sin(x0(x) + x0(x) ** 2), train: U(-1, 1, 20, 1), test: U(-1, 1, 20, 1) },
  'nguyen-7': { vars: 1, f: (x) => Math.log(x0(x) + 1) + Math.log(x0(x) ** 2 + 1), train: U(0, 2, 20, 1), test: U(0, 2, 20, 1) },
  'keijzer-6': {
    vars: 1,
    f: (x) => {
      let s = 0;
      for (let i = 1; i <= x0(x); i++) s += 1 / i;
      return s;
    },
    train: E(1, 50, 1, 1),
    test: E(1, 120, 1, 1),
  },
  'pagie-1': {
    vars: 2,
    f: (x) => 1 / (1 + (x[0] as number) ** -4) + 1 / (1 + (x[1] as number) ** -4),
    train: E(-5, 5, 0.4, 2),
    test: U(-5, 5, 1000, 2),
  },
  'korns-12': {
    vars: 5,
    f: (x) => 2 - 2.1 * Math.cos(9.8 * (x[0] as number)) * Math.sin(1.3 * (x[4] as number)),
    train: U(-50, 50, 10000, 5),
    test: U(-50, 50, 10000, 5),
  },
  'vladislavleva-4': {
    vars: 5,
    f: (x) => 10 / (5 + x.reduce((s, v) => s + (v - 3) ** 2, 0)),
    train: U(0.05, 6.05, 1024, 5),
    test: U(-0.25, 6.35, 5000, 5),
  },
} as const satisfies Record<string, Benchmark>;

export type BenchmarkName = keyof typeof BENCHMARKS;
export const BENCHMARK_NAMES = Object.keys(BENCHMARKS) as BenchmarkName[];

function toDataset(rows: number[][], vars: number, f: (x: readonly number[]) => number): Dataset {
  const names = vars === 1 ? ['x'] : Array.from({ length: vars }, (_, i) => `x${i}`);
  const columns = names.map((_, v) => Float64Array.from(rows, (r) => r[v] as number));
  return makeDataset(names, columns, Float64Array.from(rows, f));
}

/** Samples a benchmark with a stream derived from the run's seed (training first, then test). */
export function benchmarkTask(name: BenchmarkName, seed: number): RegressionTask {
  const b: Benchmark = BENCHMARKS[name];
  const rng = new Rng(`problem:${name}:${seed}`);
  return {
    name,
    train: toDataset(b.train(rng), b.vars, b.f),
    test: toDataset(b.test(rng), b.vars, b.f),
    ...(b.functions ? { functions: b.functions } : {}),
  };
}
