import { evolve, type EvolutionHooks, type GenerationStats } from '../core/evolve.js';
import { ConfigError } from '../core/errors.js';
import type { EvolutionOptions } from '../core/options.js';
import type { Evaluator, Individual } from '../core/types.js';
import { FastEvaluator } from '../eval/fast.js';
import type { Dataset } from '../eval/dataset.js';
import { evaluateTree, rmse, rSquared } from '../eval/reference.js';
import { semanticDistance } from '../eval/semantic.js';
import { diversityFromOption, type DiversitySetting } from '../diversity/index.js';
import { toInfix } from '../tree/print.js';
import { treeRepresentation, type TreeOptions } from '../tree/representation.js';
import { depth, type Tree } from '../tree/tree.js';

/** A regression task: training data, optional test data, and defaults a benchmark may set. */
export interface RegressionTask {
  readonly name: string;
  readonly train: Dataset;
  readonly test?: Dataset;
  /** The benchmark's own function set, used unless the options name one. */
  readonly functions?: readonly string[];
}

export type MateDistanceKind = 'structural' | 'semantic';
export const MATE_DISTANCES = ['structural', 'semantic'] as const satisfies readonly MateDistanceKind[];

/** All settings of a symbolic-regression run: the engine's, the trees', and the run's own. */
export interface RegressionOptions extends Partial<EvolutionOptions>, TreeOptions {
  seed: number;
  /** PIMP distance: `structural` (top-down tree edit distance) or `semantic` (output RMSE). Default `structural`. */
  distance?: MateDistanceKind;
  /** A run succeeds when the best training RMSE is at or below this. Default 0.01. */
  successThreshold?: number;
  /** Per-generation diversity measures (src/diversity) in `GenerationStats.extra`. Default off. */
  diversity?: DiversitySetting;
}

export interface ModelReport {
  readonly expression: string;
  readonly size: number;
  readonly depth: number;
  readonly trainRmse: number;
  readonly trainR2: number;
  readonly testRmse?: number;
  readonly testR2?: number;
}

export interface RegressionResult {
  readonly best: ModelReport & { readonly tree: Tree; readonly preference?: string };
  readonly success: boolean;
  readonly generations: number;
  readonly evaluations: number;
  readonly history: readonly GenerationStats[];
  readonly population: readonly Individual<Tree>[];
}

/** Scores a tree on a data set in f64: RMSE and R^2. */
export function scoreTree(t: Tree, ds: Dataset): { rmse: number; r2: number } {
  const pred = evaluateTree(t, ds.columns, ds.rows);
  return { rmse: rmse(pred, ds.y), r2: rSquared(pred, ds.y) };
}

/**
 * Runs tree GP on a regression task with the chosen selection mode. The evaluator defaults to the
 * in-process fast evaluator (WebAssembly SIMD, src/eval/fast.ts; bit-identical to the reference); pass
 * another (a worker pool from createEvaluator, a GPU) to change where fitness is computed.
 */
export async function runRegression(
  task: RegressionTask,
  options: RegressionOptions,
  hooks: Pick<EvolutionHooks<Tree>, 'onGeneration'> = {},
  evaluator: Evaluator<Tree> = new FastEvaluator(task.train),
): Promise<RegressionResult> {
  const rep = treeRepresentation(task.train.names, { ...options, functions: options.functions ?? task.functions });
  const distance = options.distance ?? 'structural';
  if (!MATE_DISTANCES.includes(distance)) {
    throw new ConfigError(`option distance: expected one of ${MATE_DISTANCES.join(', ')}, got ${String(distance)}`);
  }
  const successThreshold = options.successThreshold ?? 0.01;
  if (!(successThreshold >= 0)) throw new ConfigError(`option successThreshold: expected a number >= 0, got ${successThreshold}`);
  const diversity = diversityFromOption(task.train, options.diversity, options.seed);
  const result = await evolve(rep, evaluator, options, {
    ...hooks,
    ...(distance === 'semantic' ? { mateDistance: semanticDistance(task.train) } : {}),
    measure: (pop, generation) => {
      const extra: Record<string, number> = { meanDepth: meanOf(pop, (p) => depth(p.genome)) };
      if (pop[0]?.preference) extra['preferenceMeanDepth'] = meanOf(pop, (p) => depth(p.preference as Tree));
      return diversity ? { ...extra, ...diversity(pop, generation) } : extra;
    },
  });
  const tree = result.best.genome;
  const train = scoreTree(tree, task.train);
  const test = task.test ? scoreTree(tree, task.test) : undefined;
  const names = task.train.names;
  return {
    best: {
      tree,
      expression: toInfix(tree, names),
      size: tree.op.length,
      depth: depth(tree),
      trainRmse: train.rmse,
      trainR2: train.r2,
      ...(test ? { testRmse: test.rmse, testR2: test.r2 } : {}),
      ...(result.best.preference ? { preference: toInfix(result.best.preference, names) } : {}),
    },
    success: train.rmse <= successThreshold,
    generations: result.generations,
    evaluations: result.evaluations,
    history: result.history,
    population: result.population,
  };
}

function meanOf<T>(xs: readonly T[], f: (x: T) => number): number {
  let s = 0;
  for (const x of xs) s += f(x);
  return s / xs.length;
}
