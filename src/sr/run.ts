import { evolve, type EvolutionHooks, type EvolutionResult, type EvolutionState, type GenerationStats } from '../core/evolve.js';
import { selectsOnCases } from '../core/options.js';
import type { Evaluator, Individual, StopReason } from '../core/types.js';
import { checkTarget, checkTaskData, makeDataset, type Dataset, type RegressionTask } from '../eval/dataset.js';
import { rmse, rSquared } from '../eval/reference.js';
import { semanticDistance } from '../eval/semantic.js';
import { WasmEvaluator } from '../eval/wasm-evaluator.js';
import { diversityFromOption } from '../diversity/index.js';
import { toLatex, toSympy } from '../tree/export.js';
import { toInfix } from '../tree/print.js';
import { treeRepresentation } from '../tree/representation.js';
import { simplify } from '../tree/simplify.js';
import { depth, type Tree } from '../tree/tree.js';
import { robustBounds } from './interval.js';
import { checkMemory } from './memory.js';
import { clampBounds, clampedText, clampPredictions, type Bounds } from './model.js';
import { resolveRegressionOptions, type RegressionOptions, type RegressionSettings } from './options.js';
import { improving, selectFromFront, updateFront, type FrontEntry } from './pareto.js';
import { engineOf, isPlainRmse, polishTree, scaledTree, scoreCandidate, ScoringEvaluator, type ScoreSettings } from './scoring.js';

export type { RegressionOptions, RegressionTask };

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
  /** Infix text of the model (with its bounds: `clamp(formula, lo, hi)`, or with min/max around lo and hi). */
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
  /** Training loss: the search's fitness, or after the polish (option `polishIterations`) the polished model's RMSE. */
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
  /** Why the search stopped (generations done, target reached, evaluation or time budget spent). */
  readonly stopReason: StopReason;
  readonly history: readonly GenerationStats[];
  readonly population: readonly Individual<Tree>[];
}

/**
 * Scores a tree on a data set in f64: RMSE and R^2 (of its predictions clamped to `bounds` when given),
 * and the R^2 of the unclamped predictions. The outputs come from the kernel (the same numbers as
 * evaluateTree's, a fraction of the time on a large test set).
 */
export function scoreTree(t: Tree, ds: Dataset, bounds?: Bounds): { rmse: number; r2: number; r2Unclamped: number } {
  const raw = engineOf(ds).treeOutputs(t);
  const r2Unclamped = rSquared(raw, ds.y);
  const pred = bounds ? clampPredictions(raw, bounds, ds.columns) : raw;
  return { rmse: rmse(pred, ds.y), r2: bounds ? rSquared(pred, ds.y) : r2Unclamped, r2Unclamped };
}

/** The scoring settings of a run's (resolved) settings. */
export function scoreSettings(train: Dataset, s: RegressionSettings): ScoreSettings {
  const iterations = s.optimiseIterations;
  return {
    fitness: s.linearScaling ? 'scaled-rmse' : 'rmse',
    ...(iterations > 1
      ? {
          optimiser: {
            method: s.optimiser,
            iterations,
            ...(s.optimiseRows !== undefined ? { maxRows: s.optimiseRows } : {}),
            ...(s.optimiseShare < 1 ? { share: s.optimiseShare } : {}),
          },
        }
      : {}),
    ...(s.lamarckian ? { lamarckian: true } : {}),
    ...(s.robust ? { robust: robustBounds(train.columns, train.y) } : {}),
    // lexicase and pareto selection compare trees row by row (cases = training rows)
    ...(selectsOnCases(s) ? { cases: true } : {}),
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
 * in-process WebAssembly evaluator (src/eval/wasm-evaluator.ts; bit-identical to the reference) for
 * plain RMSE, else the in-process scorer (scaled RMSE, constant optimisation, robustness check as the
 * options say). Pass another evaluator (a worker pool from createEvaluator, a GPU), or a factory that
 * builds one for the training rows and score settings (the rows differ under validation selection),
 * to change where fitness is computed.
 *
 * Every generation updates a Pareto archive (best training loss per genome size); the reported
 * model is chosen from it (`selectModel`), with offset and slope included when scaling.
 *
 * ```
 * settings <- resolve(options)          (src/sr/options.ts: defaults, checks; src/sr/memory.ts: the worst case fits)
 * train, validation <- split(task)      (every 4th training row held out for validation selection)
 * population, front <- search(...)      (evolve, the Pareto archive updated every generation)
 * report(front)                         (exports, errors, the chosen model)
 * ```
 */
export async function runRegression(
  task: RegressionTask,
  options: RegressionOptions = {},
  hooks: RegressionHooks = {},
  evaluator?: Evaluator<Tree> | EvaluatorFactory,
): Promise<RegressionResult> {
  const s = resolveRegressionOptions(options, 'benchmark', task.functions);
  checkTaskData(task);
  checkTarget(task.train.y, `${task.name}: the target`);
  checkMemory(s, { rows: task.train.rows, testRows: task.test?.rows ?? 0, inputs: task.train.columns.length });
  const split = splitForSelection(task.train, s);
  const { train } = split;
  const scoring = scoreSettings(train, s);
  const fitness =
    typeof evaluator === 'function'
      ? evaluator(train, scoring)
      : (evaluator ?? (isPlainRmse(scoring) ? new WasmEvaluator(train) : new ScoringEvaluator(train, scoring)));
  const { result, front } = await search(task, train, s, fitness, hooks);
  return report(task, s, scoring, split, result, front);
}

/** The search rows and, under validation selection, the held-out rows. */
interface Split {
  readonly train: Dataset;
  readonly validation?: Dataset;
}

/** Under validation selection every 4th training row is held out of the search. */
function splitForSelection(data: Dataset, s: RegressionSettings): Split {
  if (s.selectModel !== 'validation') return { train: data };
  return { train: rowsOf(data, (r) => r % 4 !== 3), validation: rowsOf(data, (r) => r % 4 === 3) };
}

/** Evolves the population, keeping the Pareto archive of training loss against genome size. */
async function search(
  task: RegressionTask,
  train: Dataset,
  s: RegressionSettings,
  fitness: Evaluator<Tree>,
  hooks: RegressionHooks,
): Promise<{ result: EvolutionResult<Tree>; front: FrontEntry[] }> {
  const diversity = diversityFromOption(train, s.diversity, s.seed);
  let front: FrontEntry[] = [...(hooks.resumeFrom?.front ?? [])];
  const result = await evolve(
    treeRepresentation(task.train.names, s),
    fitness,
    s,
    {
      ...(s.distance === 'semantic' ? { mateDistance: semanticDistance(train) } : {}),
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
  return { result, front };
}

/** The run's result: every front member as a model (scaling included, exports, errors) and the chosen one. */
function report(
  task: RegressionTask,
  s: RegressionSettings,
  scoring: ScoreSettings,
  { train, validation }: Split,
  result: EvolutionResult<Tree>,
  front: readonly FrontEntry[],
): RegressionResult {
  const names = task.train.names;
  const bounds = s.clamp ? clampBounds(task.train, s.clampTo) : undefined;
  const plain = isPlainRmse(scoring);
  const members = frontMembers(task, s.polishIterations, scoring, train, result, front, bounds);
  // bic and aic count the model's constants: scaling adds the same two to every member
  const ranked = members.map((m) => ({ tree: m.tree, loss: m.loss, size: m.genomeSize }));
  const selected =
    front.length === 0
      ? 0
      : selectFromFront(
          ranked,
          s.selectModel,
          validation && ((e) => scoreTree((members[ranked.indexOf(e)] as FrontMember).tree, validation, bounds).rmse),
          train.rows,
          train,
        );
  const chosen = members[selected] as FrontMember;
  const bestTree = s.selectModel === 'best' && plain && s.polishIterations <= 1 ? result.best.genome : chosen.tree;
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
    success: best.trainRmse <= s.successThreshold,
    generations: result.generations,
    evaluations: result.evaluations,
    stopReason: result.stopReason,
    history: result.history,
    population: result.population,
  };
}

/**
 * Each front member as a reported model (polished with `polish` > 1 model evaluations: see polishTree);
 * the best genome alone when every candidate failed.
 */
function frontMembers(
  task: RegressionTask,
  polish: number,
  scoring: ScoreSettings,
  train: Dataset,
  result: EvolutionResult<Tree>,
  front: readonly FrontEntry[],
  bounds: Bounds | undefined,
): FrontMember[] {
  const names = task.train.names;
  // Lamarckian genomes carry their tuned constants already; re-tuning would move them on.
  const finalSettings: ScoreSettings = scoring.lamarckian
    ? { fitness: scoring.fitness }
    : { fitness: scoring.fitness, ...(scoring.optimiser ? { optimiser: scoring.optimiser } : {}) };
  const plain = isPlainRmse(scoring);
  const scaling = scoring.fitness === 'scaled-rmse';
  const models = front.map((e) => {
    const model = plain ? e.tree : scaledTree(scoreCandidate(e.tree, train, finalSettings), scaling);
    const { tree, rmse: loss } = polish > 1 ? polishTree(model, train, polish, scoring.robust) : { tree: model, rmse: e.loss };
    return { tree, loss, genomeSize: e.size };
  });
  // a polished member no better than a smaller one leaves the front
  const members: FrontMember[] = improving(models).map(({ tree, loss, genomeSize }) => ({
    ...reportOf(tree, task, names, bounds),
    loss,
    genomeSize,
    ...exportsOf(tree, names, bounds),
  }));
  if (front.length === 0) {
    // every candidate failed (non-finite): report the best genome as it is
    const tree = result.best.genome;
    members.push({
      ...reportOf(tree, task, names, bounds),
      loss: Infinity,
      genomeSize: tree.op.length,
      ...exportsOf(tree, names, bounds),
    });
  }
  return members;
}

function reportOf(tree: Tree, task: RegressionTask, names: readonly string[], bounds: Bounds | undefined): ModelReport & { tree: Tree } {
  const train = scoreTree(tree, task.train, bounds);
  const test = task.test ? scoreTree(tree, task.test, bounds) : undefined;
  return {
    tree,
    expression: clampedText.infix(toInfix(tree, names), bounds, names),
    size: tree.op.length,
    depth: depth(tree),
    trainRmse: train.rmse,
    trainR2: train.r2,
    ...(test ? { testRmse: test.rmse, testR2: test.r2 } : {}),
    ...(test && bounds ? { testR2Unclamped: test.r2Unclamped } : {}),
  };
}

function exportsOf(tree: Tree, names: readonly string[], bounds: Bounds | undefined): { simplified: string; latex: string; sympy: string } {
  const s = simplify(tree);
  return {
    simplified: clampedText.infix(toInfix(s, names), bounds, names),
    latex: clampedText.latex(toLatex(s, names), bounds, names),
    sympy: clampedText.sympy(toSympy(s, names), bounds, names),
  };
}

function meanOf<T>(xs: readonly T[], f: (x: T) => number): number {
  let s = 0;
  for (const x of xs) s += f(x);
  return s / xs.length;
}
