// The public surface of gpmate: re-exports only (DESIGN.md principle 10), grouped by layer from the
// bottom up. Worker-protocol types and optimiser internals are not part of it. src/README.md is the map.

// core: the genome-agnostic engine (options, selection, the generational loop).
export { Rng, type RngState } from './core/rng.js';
export { ConfigError, DataError, WorkerError } from './core/errors.js';
export {
  SELECTION_MODES,
  OBJECTIVE_MODES,
  FIRST_PARENT_MODES,
  POOL_DRAWS,
  MATE_RULES,
  PREFERENCE_INITS,
  REPLACEMENTS,
  type Individual,
  type Representation,
  type Evaluator,
  type Evaluation,
  type EvaluationRequest,
  type SelectionMode,
  type ObjectiveMode,
  type PreferenceInheritance,
  type MateDistance,
  type FirstParentMode,
  type PoolDraw,
  type MateRule,
  type PreferenceInit,
  type Replacement,
  type StopReason,
} from './core/types.js';
export { resolveEvolutionOptions, DEFAULT_EVOLUTION_OPTIONS, DEFAULT_ENGINE_CHOICES, type EvolutionOptions } from './core/options.js';
export {
  tournament,
  candidatePool,
  tournamentPool,
  mateChooser,
  firstParentSelector,
  epsilonLexicase,
  paretoOverCases,
  type MateChooser,
  type MateChoice,
  type FirstParentSelector,
  type ParentPicker,
} from './core/selection.js';
export { evolve, type EvolutionHooks, type EvolutionResult, type EvolutionState, type GenerationStats } from './core/evolve.js';
export { dominates, nonDominatedSort, crowdingDistance, crowdedOrder } from './core/nsga2.js';
export { writeFileAtomic } from './core/atomic.js';

// tree: expression trees, their operators, printing and parsing.
export { Op, FUNCTIONS, FUNCTION_NAMES, DEFAULT_FUNCTIONS, primitiveSet, type PrimitiveSet, type FunctionName } from './tree/primitives.js';
export { makeTree, depth, stackDepth, subtreeSizes, isValidTree, treeKey, treesEqual, type Tree } from './tree/tree.js';
export { DEFAULT_TREE_OPTIONS, resolveTreeOptions, type TreeOptions, type TreeSettings } from './tree/options.js';
export { randomTree, rampedHalfAndHalf } from './tree/init.js';
export {
  subtreeCrossover,
  subtreeMutation,
  pointMutation,
  changeVariableMutation,
  changeFunctionMutation,
  insertMutation,
  removeMutation,
  constantMutation,
  parseMutation,
  MUTATION_TYPES,
  type MutationType,
  type MutationSpec,
  type TreeLimits,
} from './tree/variation.js';
export { balancedTree, ptc2Tree, INIT_METHODS, type InitMethod } from './tree/init.js';
export { topDownDistance } from './tree/distance.js';
export { treeRepresentation, type TreeRepresentation } from './tree/representation.js';
export { toInfix } from './tree/print.js';
export { parseInfix } from './tree/parse.js';
export { simplify } from './tree/simplify.js';
export { toLatex, toSympy, type SympyOptions } from './tree/export.js';

// stats: the tests and effect sizes of study reports.
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

// eval: where fitness is computed (reference interpreter, WebAssembly kernel in-process or on a pool, GPU).
export { makeDataset, type Dataset, type RegressionTask } from './eval/dataset.js';
export { evaluateTree, rmse, rSquared, treeRmse, ReferenceEvaluator } from './eval/reference.js';
export { linearScaling, scaledRmse, type FitnessKind } from './eval/loss.js';
export { createEvaluator, WasmEvaluator, type EvaluatorOptions } from './eval/wasm-evaluator.js';
export { PoolEvaluator, type PoolOptions } from './eval/pool.js';
export { semanticDistance } from './eval/semantic.js';
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

// diversity: per-generation measures.
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

// sr: symbolic regression (options model, run, scoring, models, checkpoints, fit()).
export {
  resolveRegressionOptions,
  givenOptions,
  REGRESSION_DEFAULTS,
  PRESETS,
  type RegressionOptions,
  type RegressionSettings,
  type PresetName,
} from './sr/options.js';
export {
  runRegression,
  scoreTree,
  type RegressionResult,
  type RegressionHooks,
  type RegressionSnapshot,
  type FrontMember,
} from './sr/run.js';
export { fit, type FitOptions, type FittedModel, type Model, type Inputs } from './sr/fit.js';
export { scoreCandidate, scoreCandidateCases, ScoringEvaluator, scaledTree, type ScoreSettings, type Scored } from './sr/scoring.js';
export { scoringEvaluator } from './sr/scoring-pool.js';
export { optimiseConstants, type OptimiserSettings, type OptimiserResult } from './sr/optimise.js';
export { treeInterval, robustBounds, isRobust, type Interval, type RobustBounds } from './sr/interval.js';
export { updateFront, selectFromFront, MODEL_SELECTIONS, type FrontEntry, type ModelSelection } from './sr/pareto.js';
export { modelJson, parseModel, readModel, predictColumns, MODEL_VERSION, type LoadedModel } from './sr/model.js';
export { writeCheckpoint, readCheckpoint, type Checkpoint } from './sr/checkpoint.js';

// judge: LLM-judge prompts as one more genome and evaluator.
export {
  resolveJudgeOptions,
  resolveReading,
  JUDGE_DEFAULTS,
  DEFAULT_WEIGHTS,
  type JudgeOptions,
  type JudgeSettings,
  type ReadingSettings,
} from './judge/options.js';
export { parseVerdict, stripThinking, PROTOCOLS, DEFAULT_MIN_LETTER_MASS, type Protocol } from './judge/verdict.js';
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
  type JudgeMetrics,
  type LossWeights,
  type ItemResult,
} from './judge/fitness.js';
export { JudgeCache, JudgeService, BudgetExhaustedError, type CallStats } from './judge/cache.js';
export { HttpBackend, type HttpOptions } from './judge/http.js';
export { LlamaBackend, type LlamaOptions } from './judge/llama.js';
export type { JudgeBackend, Judgement } from './judge/backend.js';
export { evolveJudge, type JudgeEvolveOptions, type JudgeEvolveResult } from './judge/run.js';

// study: grids of runs over seeds, their store, reports.
export { readStudyFile, parseStudy, type StudySpec, type StudyProblem, type StudyOptions } from './study/schema.js';
export { expandGrid, expandRuns, configHash, canonicalJson, studyHash, type Cell, type RunKey } from './study/grid.js';
export { runStudy, defaultDbPath, type StudyRunOptions, type StudyRunSummary, type StudyProgress } from './study/runner.js';
export { StudyStore } from './study/store.js';
export { coordinateStudy, type CoordinatorOptions, type QueueRunSummary } from './study/coordinator.js';
export { startQueueWorker, type QueueWorker, type QueueWorkerOptions } from './study/queue-worker.js';
export { queueStatus, type QueueStatus } from './study/queue-status.js';
export { writeReport, renderSvg } from './study/report.js';
export { exportCsv } from './study/export.js';
