/**
 * The options model of a symbolic-regression run, the one place where its settings, their defaults and
 * their checks live (piscina's Options / FilledOptions shape): {@link RegressionOptions} as given (every
 * field optional), {@link RegressionSettings} with every field filled and checked, the defaults of each
 * layer composed (the engine's, the tree layer's, the run's own {@link REGRESSION_DEFAULTS}), the named
 * {@link PRESETS}, and {@link resolveRegressionOptions}. runRegression, fit, the command line, the
 * summary, the GPU back end's sizing and study files all resolve through it.
 */
import { optionError } from '../core/errors.js';
import { CLAMP_TO, type ClampTo } from './model.js';
import {
  check,
  DEFAULT_ENGINE_CHOICES,
  DEFAULT_EVOLUTION_OPTIONS,
  MAX_SEED,
  RECORDED_EVOLUTION_OPTIONS,
  recordedEvolution,
  resolveEvolutionOptions,
  stripUndefined,
  type EvolutionOptions,
} from '../core/options.js';
import {
  FIRST_PARENT_MODES,
  MATE_RULES,
  OBJECTIVE_MODES,
  POOL_DRAWS,
  PREFERENCE_INHERITANCE,
  PREFERENCE_INITS,
  REPLACEMENTS,
  SELECTION_MODES,
} from '../core/types.js';
import { checkDiversitySetting, type DiversitySetting } from '../diversity/index.js';
import { DEFAULT_TREE_OPTIONS, resolveTreeOptions, type TreeOptions, type TreeSettings } from '../tree/options.js';
import { DATA_FUNCTIONS } from '../tree/primitives.js';
import { INIT_METHODS } from '../tree/init.js';
import { MODEL_SELECTIONS, type ModelSelection } from './pareto.js';

export type MateDistanceKind = 'structural' | 'semantic';
export const MATE_DISTANCES = ['structural', 'semantic'] as const satisfies readonly MateDistanceKind[];

export type OptimiserMethod = 'lm' | 'gradient';
export const OPTIMISER_METHODS = ['lm', 'gradient'] as const satisfies readonly OptimiserMethod[];

/** The run's own settings (beside the engine's and the tree layer's), as given. */
export interface RunOptions {
  /** Seed of every random choice, an integer in 0..{@link MAX_SEED} (2^53 - 1). Default 1. */
  seed?: number;
  /** PIMP distance: `structural` (top-down tree edit distance) or `semantic` (output RMSE). Default `structural`. */
  distance?: MateDistanceKind;
  /** A run succeeds when the best training RMSE is at or below this. Default 0.01. */
  successThreshold?: number;
  /** Per-generation diversity measures (src/diversity) in `GenerationStats.extra`. Default off. */
  diversity?: DiversitySetting;
  /** Fitness = RMSE after the optimal linear scaling (Keijzer 2003); the model includes offset and slope. Default false. */
  linearScaling?: boolean;
  /** Model evaluations per candidate for constant optimisation, 0 (off) to {@link MAX_OPTIMISE_ITERATIONS}. Default 0. */
  optimiseIterations?: number;
  /** The optimiser fits constants on at most this many training rows (evenly strided); the loss uses every row. Default: every row. */
  optimiseRows?: number;
  /**
   * Constant optimisation tunes only this share (0 < share <= 1) of each generation's new candidates that
   * have constants: the best by their loss before tuning (the others are scored as they are). Default 1.
   */
  optimiseShare?: number;
  /** `lm` (Levenberg-Marquardt) or `gradient` (the simpler baseline). Default `lm`. */
  optimiser?: OptimiserMethod;
  /** Write tuned constants back into the genomes (Lamarckian) instead of only scoring with them (Baldwinian). Default false. */
  lamarckian?: boolean;
  /** Reject (score +Infinity) models whose output leaves 10x the target range on the training box widened by 10% (interval arithmetic). Default false. */
  robust?: boolean;
  /**
   * Before the reported model is chosen: each front member's constants (scaling terms included) tuned by
   * Levenberg-Marquardt on every training row, within this many model evaluations, 0 (off) to
   * {@link MAX_OPTIMISE_ITERATIONS}. The search is unchanged. Default 0.
   */
  polishIterations?: number;
  /** How the reported model is chosen from the Pareto front. Default `best`. */
  selectModel?: ModelSelection;
  /**
   * Clamp the reported models' predictions to the training target's range (src/sr/model.ts Bounds):
   * never worse on a row whose target lies in that range (every training row), and bounded where a
   * formula runs away outside the training inputs. The search's fitness is unchanged. Default false.
   */
  clamp?: boolean;
  /**
   * What clamping bounds predictions by: `range`, the training target's range; `linear`, that range
   * widened row by row to a least-squares linear model's prediction, so that a formula may extrapolate
   * as far as a straight line would (src/sr/model.ts Bounds). Default `range`.
   */
  clampTo?: ClampTo;
}

/** All settings of a symbolic-regression run as given: the engine's, the trees', and the run's own. */
export interface RegressionOptions extends Partial<EvolutionOptions>, TreeOptions, RunOptions {}

/** Every setting of a run, filled with the defaults and checked. */
export interface RegressionSettings
  extends
    EvolutionOptions,
    TreeSettings,
    Required<Omit<RunOptions, 'diversity' | 'optimiseRows'>>,
    Pick<RunOptions, 'diversity' | 'optimiseRows'> {}

/** Most model evaluations per candidate for constant optimisation: each is a pass over the training rows. */
export const MAX_OPTIMISE_ITERATIONS = 1_000;

/** Defaults of the run's own settings (the engine's and the tree layer's are theirs). */
export const REGRESSION_DEFAULTS: Readonly<Required<Omit<RunOptions, 'diversity' | 'optimiseRows'>>> = {
  seed: 1,
  distance: 'structural',
  successThreshold: 0.01,
  linearScaling: false,
  optimiseIterations: 0,
  optimiseShare: 1,
  optimiser: 'lm',
  lamarckian: false,
  robust: false,
  polishIterations: 0,
  selectModel: 'best',
  clamp: false,
  clampTo: 'range',
};

/**
 * Named presets: what differs from the defaults for a kind of problem.
 * - `benchmark`: a standard benchmark (problems/): every default, and the benchmark's own function set.
 * - `data`: real data (a CSV file, fit()): linear scaling, Lamarckian Levenberg-Marquardt constant
 *   optimisation (5 evaluations on at most 256 strided rows), the interval robustness check, predictions
 *   clamped to the training target's range widened to a linear model's trend (`clampTo: 'linear'`,
 *   chosen on the suite like `bic`), trees of at most 64 nodes over + - * / exp log sqrt square
 *   (bench/RESULTS-realworld.md measures these choices), and the reported model chosen from the front by
 *   the Bayesian information criterion (`bic`, chosen on the 26-set suite by inner cross-validation,
 *   bench/SUITE.md).
 */
export const PRESETS = {
  benchmark: {},
  data: {
    maxSize: 64,
    functions: DATA_FUNCTIONS,
    linearScaling: true,
    robust: true,
    clamp: true,
    clampTo: 'linear',
    optimiseIterations: 5,
    optimiseRows: 256,
    lamarckian: true,
    selectModel: 'bic',
  },
} as const satisfies Record<string, RegressionOptions>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** How an option's value is written in JSON (study files) and parsed from a command-line string. */
export type OptionKind =
  | { readonly type: 'integer' | 'number' | 'boolean' | 'pair' | 'integer-pair' | 'string' | 'strings' | 'diversity' }
  | { readonly type: 'choice'; readonly choices: readonly string[] };

const integer = { type: 'integer' } as const;
const num = { type: 'number' } as const;
const bool = { type: 'boolean' } as const;
const choice = (choices: readonly string[]): OptionKind => ({ type: 'choice', choices });

/** The kind of every option: a new option that is missing here fails to compile. */
export const OPTION_KINDS = {
  populationSize: integer,
  generations: integer,
  selection: choice(SELECTION_MODES),
  tournamentSize: integer,
  poolSize: integer,
  crossoverRate: num,
  mutationRate: num,
  elites: integer,
  preferenceInheritance: choice(PREFERENCE_INHERITANCE),
  stopFitness: num,
  objectives: choice(OBJECTIVE_MODES),
  firstParent: choice(FIRST_PARENT_MODES),
  poolDraw: choice(POOL_DRAWS),
  mateRule: choice(MATE_RULES),
  preferenceInit: choice(PREFERENCE_INITS),
  replacement: choice(REPLACEMENTS),
  maxEvaluations: integer,
  maxSeconds: num,
  functions: { type: 'strings' },
  constantProbability: num,
  constantRange: { type: 'pair' },
  initDepth: { type: 'integer-pair' },
  maxDepth: integer,
  maxSize: integer,
  /** One operator or a weighted list (`subtree:1,changevar:1,constant:2`), checked by the tree layer. */
  mutation: { type: 'string' },
  init: choice(INIT_METHODS),
  mutationDepth: integer,
  internalBias: num,
  seed: integer,
  distance: choice(MATE_DISTANCES),
  successThreshold: num,
  diversity: { type: 'diversity' },
  linearScaling: bool,
  optimiseIterations: integer,
  optimiseRows: integer,
  optimiseShare: num,
  optimiser: choice(OPTIMISER_METHODS),
  lamarckian: bool,
  robust: bool,
  polishIterations: integer,
  selectModel: choice(MODEL_SELECTIONS),
  clamp: bool,
  clampTo: choice(CLAMP_TO),
} as const satisfies Record<keyof RegressionOptions, OptionKind>;

export type OptionName = keyof typeof OPTION_KINDS;
export const OPTION_NAMES = Object.keys(OPTION_KINDS) as OptionName[];

/** The default of an option (under a preset): what a help text shows. */
export function defaultOf(name: OptionName, preset: PresetName = 'benchmark'): unknown {
  const p = PRESETS[preset] as RegressionOptions;
  if (p[name] !== undefined) return p[name];
  const layers: Record<string, unknown> = {
    ...DEFAULT_EVOLUTION_OPTIONS,
    ...DEFAULT_ENGINE_CHOICES,
    ...DEFAULT_TREE_OPTIONS,
    ...REGRESSION_DEFAULTS,
  };
  return layers[name];
}

/** The options a run was given: a preset's values under the caller's (undefined fields dropped). */
export function givenOptions(partial: RegressionOptions = {}, preset: PresetName = 'benchmark'): RegressionOptions {
  return { ...PRESETS[preset], ...stripUndefined(partial) };
}

/**
 * Fills every default (a preset's first, when named) and checks every field, each error naming its
 * option. `taskFunctions` is the benchmark's own function set, used when no function set is given.
 */
export function resolveRegressionOptions(
  partial: RegressionOptions = {},
  preset: PresetName = 'benchmark',
  taskFunctions?: readonly string[],
): RegressionSettings {
  const given = givenOptions(partial, preset);
  for (const k of Object.keys(given)) {
    if (!Object.hasOwn(OPTION_KINDS, k)) throw optionError(k, `unknown option (known: ${OPTION_NAMES.join(', ')})`);
  }
  const o = { ...REGRESSION_DEFAULTS, ...given };
  const optimiseRows = o.optimiseRows;
  if (optimiseRows !== undefined) check.int('optimiseRows', optimiseRows, 1);
  if (o.diversity !== undefined) checkDiversitySetting(o.diversity);
  const successThreshold = o.successThreshold;
  if (typeof successThreshold !== 'number' || !(successThreshold >= 0)) {
    throw optionError('successThreshold', `expected a number >= 0, got ${String(successThreshold)}`);
  }
  return {
    ...resolveEvolutionOptions(given),
    ...resolveTreeOptions({ ...given, functions: given.functions ?? taskFunctions }),
    seed: check.int('seed', o.seed, 0, MAX_SEED),
    distance: check.oneOf('distance', o.distance, MATE_DISTANCES),
    successThreshold,
    ...(o.diversity !== undefined ? { diversity: o.diversity } : {}),
    linearScaling: check.boolean('linearScaling', o.linearScaling),
    optimiseIterations: check.int('optimiseIterations', o.optimiseIterations, 0, MAX_OPTIMISE_ITERATIONS),
    ...(optimiseRows !== undefined ? { optimiseRows } : {}),
    optimiseShare: share(o.optimiseShare),
    optimiser: check.oneOf('optimiser', o.optimiser, OPTIMISER_METHODS),
    lamarckian: check.boolean('lamarckian', o.lamarckian),
    robust: check.boolean('robust', o.robust),
    polishIterations: check.int('polishIterations', o.polishIterations, 0, MAX_OPTIMISE_ITERATIONS),
    selectModel: check.oneOf('selectModel', o.selectModel, MODEL_SELECTIONS),
    clamp: check.boolean('clamp', o.clamp),
    clampTo: check.oneOf('clampTo', o.clampTo, CLAMP_TO),
  };
}

function share(v: unknown): number {
  if (typeof v !== 'number' || !(v > 0 && v <= 1)) throw optionError('optimiseShare', `expected a number in (0, 1], got ${String(v)}`);
  return v;
}

/** Stack registers a tree of these limits can need: depth + 1, and at most (size + 1) / 2 for binary trees. */
export function stackBound(s: Pick<RegressionSettings, 'maxDepth' | 'maxSize'>): number {
  return Math.min(s.maxDepth + 1, Math.ceil((s.maxSize + 1) / 2));
}

/** Tree settings a summary records when the run was given them. */
const RECORDED_TREE = ['mutationDepth', 'maxDepth', 'maxSize', 'initDepth', 'functions', 'constantProbability', 'constantRange'] as const;

/** Options recorded in their own place (or not at all: the seed is recorded beside the options). */
const RECORDED_APART = new Set<string>([
  ...RECORDED_EVOLUTION_OPTIONS,
  ...RECORDED_TREE,
  'distance',
  'mutation',
  'successThreshold',
  'linearScaling',
  'robust',
  'clamp',
  'optimiseIterations',
  'optimiser',
  'lamarckian',
  'optimiseRows',
  'selectModel',
  'seed',
  'diversity',
]);

/**
 * The settings a run's summary records: the engine's settings and the run's scoring choices always (in a
 * fixed order), and every other option only when the run was given it (by a preset or the caller), so
 * that a new option left at its default changes no summary.
 */
export function recordedOptions(given: RegressionOptions, s: RegressionSettings, extra: Record<string, unknown> = {}): object {
  const g = given as Record<string, unknown>;
  const whenGiven = (keys: readonly string[]) => Object.fromEntries(keys.filter((k) => g[k] !== undefined).map((k) => [k, g[k]]));
  return {
    ...recordedEvolution(s),
    distance: s.distance,
    mutation: s.mutation,
    ...extra,
    ...whenGiven(RECORDED_TREE),
    successThreshold: s.successThreshold,
    linearScaling: s.linearScaling,
    robust: s.robust,
    clamp: s.clamp,
    optimiseIterations: s.optimiseIterations,
    ...(s.optimiseIterations
      ? { optimiser: s.optimiser, lamarckian: s.lamarckian, ...(s.optimiseRows !== undefined ? { optimiseRows: s.optimiseRows } : {}) }
      : {}),
    selectModel: s.selectModel,
    // what predictions are clamped to means nothing when they are not clamped
    ...whenGiven(OPTION_NAMES.filter((k) => !RECORDED_APART.has(k) && (k !== 'clampTo' || s.clamp))),
  };
}
