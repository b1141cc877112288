// The public surface of gpmate: re-exports only (DESIGN.md principle 10).
export { Rng, type RngState } from './core/rng.js';
export { ConfigError, DataError, WorkerError } from './core/errors.js';
export type { Individual, Representation, Evaluator, SelectionMode, PreferenceInheritance, MateDistance } from './core/types.js';
export { SELECTION_MODES } from './core/types.js';
export { resolveEvolutionOptions, DEFAULT_EVOLUTION_OPTIONS, type EvolutionOptions } from './core/options.js';
export { tournament, candidatePool, mateChooser, type MateChooser, type MateChoice } from './core/selection.js';
export { evolve, type EvolutionHooks, type EvolutionResult, type EvolutionState, type GenerationStats } from './core/evolve.js';
export { writeFileAtomic } from './core/atomic.js';

export { Op, FUNCTIONS, FUNCTION_NAMES, DEFAULT_FUNCTIONS, primitiveSet, type PrimitiveSet, type FunctionName } from './tree/primitives.js';
export { makeTree, depth, stackDepth, subtreeSizes, isValidTree, treeKey, treesEqual, type Tree } from './tree/tree.js';
export { randomTree, rampedHalfAndHalf } from './tree/init.js';
export { subtreeCrossover, subtreeMutation, pointMutation, MUTATION_TYPES, type MutationType, type TreeLimits } from './tree/variation.js';
export { topDownDistance } from './tree/distance.js';
export { toInfix } from './tree/print.js';
export { parseInfix } from './tree/parse.js';
export { treeRepresentation, type TreeOptions, type TreeRepresentation } from './tree/representation.js';

export { makeDataset, type Dataset } from './eval/dataset.js';
export { evaluateTree, rmse, rSquared, treeRmse } from './eval/reference.js';
export { linearScaling, scaledRmse, type FitnessKind } from './eval/loss.js';
export { ReferenceEvaluator } from './eval/reference.js';
export { semanticDistance } from './eval/semantic.js';

export { runRegression, scoreTree, type RegressionTask, type RegressionOptions, type RegressionResult } from './sr/run.js';

export {
  treeDiversity,
  treeOutputs,
  diversityFromOption,
  depthBalance,
  DIVERSITY_KEYS,
  type DiversitySetting,
  type DiversityKey,
  type DiversityMeasures,
  type TreeDiversityOptions,
  type TreeOutputs,
} from './diversity/index.js';
export {
  mannWhitneyU,
  kruskalWallis,
  holm,
  varghaDelaneyA12,
  wilson,
  median,
  quantile,
  iqr,
  summarize,
  pairwiseComparisons,
  type PairwiseRow,
  type Summary,
  type Alternative,
  type MannWhitneyResult,
  type KruskalWallisResult,
  type RateInterval,
} from './stats/index.js';
export { readStudyFile, parseStudy, type StudySpec, type StudyProblem, type StudyOptions } from './study/schema.js';
export { expandGrid, expandRuns, configHash, canonicalJson, studyHash, type Cell, type RunKey } from './study/grid.js';
export { runStudy, defaultDbPath, type StudyRunOptions, type StudyRunSummary, type StudyProgress } from './study/runner.js';
export { StudyStore } from './study/store.js';
export { writeReport, renderSvg } from './study/report.js';
export { exportCsv } from './study/export.js';
export {
  promptRepresentation,
  baselineGenome,
  structuralDistance as promptDistance,
  PROMPT_MUTATIONS,
  type PromptGenome,
  type PromptOptions,
} from './judge/genome.js';
export { loadLibrary, defaultLibrary, type FragmentLibrary } from './judge/library.js';
export {
  loadItems,
  loadPairs,
  splitItems,
  DATA_FORMATS,
  type JudgeItem,
  type DataFormat,
  type Example,
  type LoadOptions,
} from './judge/data.js';
export { renderTemplate, fillTemplate, templateText, type ChatPrompt, type PromptTemplate, type Order } from './judge/render.js';
export {
  JudgeEvaluator,
  scoreTemplate,
  metricsOf,
  judgeLoss,
  itemLosses,
  DEFAULT_WEIGHTS,
  type JudgeMetrics,
  type LossWeights,
  type ItemResult,
} from './judge/fitness.js';
export { JudgeCache, JudgeService, BudgetExhaustedError, type CallStats } from './judge/cache.js';
export { HttpBackend, type HttpOptions } from './judge/http.js';
export { LlamaBackend, type LlamaOptions } from './judge/llama.js';
export type { JudgeBackend, Judgement } from './judge/backend.js';
export { evolveJudge, type JudgeEvolveResult } from './judge/run.js';
export { resolveJudgeSettings, type JudgeSettings, type JudgeEvolveOptions } from './judge/options.js';
export { parseVerdict, stripThinking, PROTOCOLS, DEFAULT_MIN_LETTER_MASS, type Protocol } from './judge/verdict.js';
export { createEvaluator, WasmEvaluator, type EvaluatorOptions } from './eval/wasm-evaluator.js';
export { PoolEvaluator, type PoolOptions } from './eval/pool.js';
export type { TreeEvaluator, RowRange } from './eval/types.js';
export {
  GpuEvaluator,
  acquireGpu,
  describeAdapter,
  GpuUnavailableError,
  GPU_APIS,
  GPU_VALUE_BOUND,
  type GpuEvaluatorOptions,
  type GpuEvaluatorStats,
  type GpuAdapterInfo,
  type GpuApi,
  type GpuDeviceOptions,
} from './eval/gpu/index.js';

// Symbolic regression layer (issue 7): scoring, constant optimisation, Pareto front, exports, models, checkpoints.
export { fit, type FitOptions, type FittedModel, type Model, type Inputs } from './sr/fit.js';
export { scoreCandidate, ScoringEvaluator, scaledTree, type ScoreSettings, type Scored } from './sr/scoring.js';
export { optimiseConstants, forwardColumns, reverseAdjoints, type OptimiserSettings, type OptimiserResult } from './sr/optimise.js';
export { treeInterval, robustBounds, isRobust, type Interval, type RobustBounds } from './sr/interval.js';
export { updateFront, selectFromFront, MODEL_SELECTIONS, type FrontEntry, type ModelSelection } from './sr/pareto.js';
export { modelJson, parseModel, readModel, predictColumns, MODEL_VERSION, type LoadedModel } from './sr/model.js';
export { writeCheckpoint, readCheckpoint, type Checkpoint } from './sr/checkpoint.js';
export type { FrontMember, RegressionSnapshot, RegressionHooks } from './sr/run.js';
export { dominates, nonDominatedSort, crowdingDistance, crowdedOrder } from './core/nsga2.js';
export { OBJECTIVE_MODES, type ObjectiveMode, type Evaluation } from './core/types.js';
export { simplify } from './tree/simplify.js';
export { toLatex, toSympy, type SympyOptions } from './tree/export.js';
export { PoolScoringEvaluator, scoringEvaluator } from './sr/scoring-pool.js';
