import { evolve, type EvolutionHooks, type EvolutionState, type GenerationStats } from '../core/evolve.js';
import { ConfigError } from '../core/errors.js';
import type { EvolutionOptions } from '../core/options.js';
import type { Evaluator, Individual } from '../core/types.js';
import { makeDataset, type Dataset, type RegressionTask } from '../eval/dataset.js';

export type { RegressionTask };
import { WasmEvaluator } from '../eval/wasm-evaluator.js';
import { evaluateTree, rmse, rSquared } from '../eval/reference.js';
import { semanticDistance } from '../eval/semantic.js';
import { diversityFromOption, type DiversitySetting } from '../diversity/index.js';
import { toLatex, toSympy } from '../tree/export.js';
import { toInfix } from '../tree/print.js';
import { simplify } from '../tree/simplify.js';
import { treeRepresentation, type TreeOptions } from '../tree/representation.js';
import { depth, type Tree } from '../tree/tree.js';
import { coreScoreData, isPlainRmse, scaledTree, scoreCandidate, ScoringEvaluator, type ScoreSettings } from './scoring.js';
import { WasmEngine } from '../eval/wasm-engine.js';
import { robustBounds } from './interval.js';
import { boundsOf, clampedText, clampPredictions, type Bounds } from './model.js';
import { MODEL_SELECTIONS, selectFromFront, updateFront, type FrontEntry, type ModelSelection } from './pareto.js';

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
  /** Fitness = RMSE after the optimal linear scaling (Keijzer 2003); the model includes offset and slope. Default false (the CLI and `fit` turn it on for CSV data). */
  linearScaling?: boolean;
  /** Model evaluations per candidate for constant optimisation; 0 = off (default). */
  optimiseIterations?: number;
  /** The optimiser fits constants on at most this many training rows (evenly strided); the loss uses every row. Default: every row. */
  optimiseRows?: number;
  /** `lm` (Levenberg-Marquardt, default) or `gradient` (the simpler baseline). */
  optimiser?: 'lm' | 'gradient';
  /** Write tuned constants back into the genomes. Default false (Baldwinian: only the score uses them). */
  lamarckian?: boolean;
  /** Reject (score +Infinity) models whose output leaves 10x the target range on the training box widened by 10% (interval arithmetic). Default false. */
  robust?: boolean;
  /** How the reported model is chosen from the Pareto front. Default `best`. */
  selectModel?: ModelSelection;
  /**
   * Clamp the reported models' predictions to the training target's range (src/sr/model.ts Bounds):
   * never worse on a row whose target lies in that range (every training row), and bounded where a
   * formula runs away outside the training inputs. The search's fitness is unchanged. Default false
   * (the CLI and `fit` turn it on for CSV data).
   */
  clamp?: boolean;
}

/** Builds the fitness evaluator of a run for its training rows and score settings. */
export type EvaluatorFactory = (train: Dataset, settings: ScoreSettings) => Evaluator<Tree>;

/** What a run needs to continue: the engine state and the Pareto archive. */
export interface RegressionSnapshot {
  readonly state: EvolutionState<Tree>;
  readonly front: readonly FrontEntry[];
}

export interface RegressionHooks extends Pick<EvolutionHooks<Tree>, 'onGeneration'> {
  /** Called after every generation (after onGeneration) with everything needed to resume. */
  onSnapshot?: (snapshot: RegressionSnapshot) => void | Promise<void>;
  /** Continue from a snapshot instead of starting afresh (same task and options). */
  resumeFrom?: RegressionSnapshot;
}

export interface ModelReport {
  /** Infix text of the model (with its bounds: `clamp(formula, lo, hi)`). */
  readonly expression: string;
  readonly size: number;
  readonly depth: number;
  readonly trainRmse: number;
  readonly trainR2: number;
  readonly testRmse?: number;
  readonly testR2?: number;
  /** With bounds: the test R^2 of the formula without clamping (for comparison). */
  readonly testR2Unclamped?: number;
}

/** A front member as reported: the model (scaling included), its exports and its errors. */
export interface FrontMember extends ModelReport {
  readonly tree: Tree;
  /** Training loss the search saw (the fitness). */
  readonly loss: number;
  /** Size of the evolved genome (the front's second objective); `size` is the model's, scaling included. */
  readonly genomeSize: number;
  /** Simplified forms: infix, LaTeX, SymPy. */
  readonly simplified: string;
  readonly latex: string;
  readonly sympy: string;
}

export interface RegressionResult {
  readonly best: ModelReport & { readonly tree: Tree; readonly preference?: string; readonly latex?: string; readonly sympy?: string };
  /** The bounds every reported model's predictions are clamped to (option `clamp`). */
  readonly bounds?: Bounds;
  /** The Pareto front of training loss against genome size (ascending size), and the chosen member. */
  readonly front: readonly FrontMember[];
  readonly selected: number;
  readonly success: boolean;
  readonly generations: number;
  readonly evaluations: number;
  readonly history: readonly GenerationStats[];
  readonly population: readonly Individual<Tree>[];
}

/** Scores a tree on a data set in f64: RMSE and R^2 (of its predictions clamped to `bounds` when given). */
export function scoreTree(t: Tree, ds: Dataset, bounds?: Bounds): { rmse: number; r2: number } {
  const pred = clampPredictions(evaluateTree(t, ds.columns, ds.rows), bounds);
  return { rmse: rmse(pred, ds.y), r2: rSquared(pred, ds.y) };
}

/** The scoring settings a run's options imply. */
export function scoreSettings(train: Dataset, options: RegressionOptions): ScoreSettings {
  const iterations = options.optimiseIterations ?? 0;
  if (!(Number.isInteger(iterations) && iterations >= 0))
    throw new ConfigError(`option optimiseIterations: expected an integer >= 0, got ${iterations}`);
  const optimiser = options.optimiser ?? 'lm';
  if (optimiser !== 'lm' && optimiser !== 'gradient')
    throw new ConfigError(`option optimiser: expected lm or gradient, got ${String(optimiser)}`);
  const maxRows = options.optimiseRows;
  if (maxRows !== undefined && !(Number.isInteger(maxRows) && maxRows >= 1))
    throw new ConfigError(`option optimiseRows: expected an integer >= 1, got ${maxRows}`);
  return {
    fitness: options.linearScaling ? 'scaled-rmse' : 'rmse',
    ...(iterations > 1 ? { optimiser: { method: optimiser, iterations, ...(maxRows !== undefined ? { maxRows } : {}) } } : {}),
    ...(options.lamarckian ? { lamarckian: true } : {}),
    ...(options.robust ? { robust: robustBounds(train.columns, train.y) } : {}),
  };
}

/** Rows of a data set (a copy). */
function rowsOf(ds: Dataset, keep: (r: number) => boolean): Dataset {
  const idx: number[] = [];
  for (let r = 0; r < ds.rows; r++) if (keep(r)) idx.push(r);
  const pick = (c: Float64Array) => Float64Array.from(idx, (r) => c[r] as number);
  return makeDataset(ds.names, ds.columns.map(pick), pick(ds.y));
}

/**
 * Runs tree GP on a regression task with the chosen selection mode. The evaluator defaults to the
 * in-process fast evaluator (WebAssembly SIMD, src/eval/wasm-evaluator.ts; bit-identical to the reference) for
 * plain RMSE, else the in-process scorer (scaled RMSE, constant optimisation, robustness check as the
 * options say). Pass another evaluator (a worker pool from createEvaluator, a GPU), or a factory that
 * builds one for the training rows and score settings (the rows differ under validation selection),
 * to change where fitness is computed.
 *
 * Every generation updates a Pareto archive (best training loss per genome size); the reported
 * model is chosen from it (`selectModel`), with offset and slope included when scaling.
 */
export async function runRegression(
  task: RegressionTask,
  options: RegressionOptions,
  hooks: RegressionHooks = {},
  evaluator?: Evaluator<Tree> | EvaluatorFactory,
): Promise<RegressionResult> {
  const rep = treeRepresentation(task.train.names, { ...options, functions: options.functions ?? task.functions });
  const distance = options.distance ?? 'structural';
  if (!MATE_DISTANCES.includes(distance)) {
    throw new ConfigError(`option distance: expected one of ${MATE_DISTANCES.join(', ')}, got ${String(distance)}`);
  }
  const successThreshold = options.successThreshold ?? 0.01;
  if (!(successThreshold >= 0)) throw new ConfigError(`option successThreshold: expected a number >= 0, got ${successThreshold}`);
  const selectModel = options.selectModel ?? 'best';
  if (!MODEL_SELECTIONS.includes(selectModel)) {
    throw new ConfigError(`option selectModel: expected one of ${MODEL_SELECTIONS.join(', ')}, got ${String(selectModel)}`);
  }
  // Validation selection holds every 4th training row out of the search.
  const validation = selectModel === 'validation' ? rowsOf(task.train, (r) => r % 4 === 3) : undefined;
  const train = validation ? rowsOf(task.train, (r) => r % 4 !== 3) : task.train;
  const settings = scoreSettings(train, options);
  const plain = isPlainRmse(settings);
  const fitnessEvaluator =
    typeof evaluator === 'function'
      ? evaluator(train, settings)
      : (evaluator ?? (plain ? new WasmEvaluator(train) : new ScoringEvaluator(train, settings)));
  const diversity = diversityFromOption(train, options.diversity, options.seed);
  let front: FrontEntry[] = [...(hooks.resumeFrom?.front ?? [])];
  const result = await evolve(
    rep,
    fitnessEvaluator,
    options,
    {
      ...(distance === 'semantic' ? { mateDistance: semanticDistance(train) } : {}),
      measure: (pop, generation) => {
        const extra: Record<string, number> = { meanDepth: meanOf(pop, (p) => depth(p.genome)) };
        if (pop[0]?.preference) extra['preferenceMeanDepth'] = meanOf(pop, (p) => depth(p.preference as Tree));
        return diversity ? { ...extra, ...diversity(pop, generation) } : extra;
      },
      onGeneration: async (stats, state) => {
        front = updateFront(front, state.population);
        await hooks.onGeneration?.(stats, state);
        await hooks.onSnapshot?.({ state, front });
      },
    },
    hooks.resumeFrom?.state,
  );
  const names = task.train.names;
  const bounds = options.clamp ? boundsOf(task.train.y) : undefined;
  const scaling = settings.fitness === 'scaled-rmse';
  // Lamarckian genomes carry their tuned constants already; re-tuning would move them on.
  const finalSettings: ScoreSettings = settings.lamarckian
    ? { fitness: settings.fitness }
    : { fitness: settings.fitness, ...(settings.optimiser ? { optimiser: settings.optimiser } : {}) };
  // re-tuning (Baldwinian) runs its passes in the kernel, as the search's scoring did
  const finalData = finalSettings.optimiser ? coreScoreData(new WasmEngine(train.columns, train.y), train.columns, train.y) : train;
  const members: FrontMember[] = front.map((e) => {
    const tree = plain ? e.tree : scaledTree(scoreCandidate(e.tree, finalData, finalSettings), scaling);
    return { ...reportOf(tree, task, names, bounds), loss: e.loss, genomeSize: e.size, ...exportsOf(tree, names, bounds) };
  });
  if (front.length === 0) {
    // every candidate failed (non-finite): report the best genome as it is
    const tree = result.best.genome;
    members.push({ ...reportOf(tree, task, names, bounds), loss: Infinity, genomeSize: tree.op.length, ...exportsOf(tree, names, bounds) });
  }
  const selected =
    front.length === 0
      ? 0
      : selectFromFront(
          front,
          selectModel,
          validation && ((e) => scoreTree((members[front.indexOf(e)] as FrontMember).tree, validation, bounds).rmse),
        );
  const chosen = members[selected] as FrontMember;
  const bestTree = selectModel === 'best' && plain ? result.best.genome : chosen.tree;
  const best = bestTree === chosen.tree ? chosen : { ...reportOf(bestTree, task, names, bounds), ...exportsOf(bestTree, names, bounds) };
  return {
    best: {
      tree: bestTree,
      expression: best.expression,
      size: best.size,
      depth: best.depth,
      trainRmse: best.trainRmse,
      trainR2: best.trainR2,
      ...(best.testRmse !== undefined ? { testRmse: best.testRmse, testR2: best.testR2 as number } : {}),
      ...(best.testR2Unclamped !== undefined ? { testR2Unclamped: best.testR2Unclamped } : {}),
      ...(result.best.preference && bestTree === result.best.genome ? { preference: toInfix(result.best.preference, names) } : {}),
      latex: best.latex,
      sympy: best.sympy,
    },
    ...(bounds ? { bounds } : {}),
    front: members,
    selected,
    success: best.trainRmse <= successThreshold,
    generations: result.generations,
    evaluations: result.evaluations,
    history: result.history,
    population: result.population,
  };
}

function reportOf(tree: Tree, task: RegressionTask, names: readonly string[], bounds: Bounds | undefined): ModelReport & { tree: Tree } {
  const train = scoreTree(tree, task.train, bounds);
  const test = task.test ? scoreTree(tree, task.test, bounds) : undefined;
  return {
    tree,
    expression: clampedText.infix(toInfix(tree, names), bounds),
    size: tree.op.length,
    depth: depth(tree),
    trainRmse: train.rmse,
    trainR2: train.r2,
    ...(test ? { testRmse: test.rmse, testR2: test.r2 } : {}),
    ...(test && bounds && task.test ? { testR2Unclamped: scoreTree(tree, task.test).r2 } : {}),
  };
}

function exportsOf(tree: Tree, names: readonly string[], bounds: Bounds | undefined): { simplified: string; latex: string; sympy: string } {
  const s = simplify(tree);
  return {
    simplified: clampedText.infix(toInfix(s, names), bounds),
    latex: clampedText.latex(toLatex(s, names), bounds),
    sympy: clampedText.sympy(toSympy(s, names), bounds),
  };
}

function meanOf<T>(xs: readonly T[], f: (x: T) => number): number {
  let s = 0;
  for (const x of xs) s += f(x);
  return s / xs.length;
}
