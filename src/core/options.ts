import { optionError } from './errors.js';
import {
  FIRST_PARENT_MODES,
  MATE_RULES,
  OBJECTIVE_MODES,
  POOL_DRAWS,
  PREFERENCE_INHERITANCE,
  PREFERENCE_INITS,
  REPLACEMENTS,
  SELECTION_MODES,
  type FirstParentMode,
  type MateRule,
  type ObjectiveMode,
  type PoolDraw,
  type PreferenceInheritance,
  type PreferenceInit,
  type Replacement,
  type SelectionMode,
} from './types.js';

/**
 * Search settings of the generational engine. Every choice the PIMP papers leave open is an option
 * here with a documented default (DESIGN.md section 1).
 */
export interface EvolutionOptions {
  /** Individuals per generation, 2 to {@link MAX_POPULATION_SIZE}. Default 500. */
  populationSize: number;
  /** Generations after the initial one, at most {@link MAX_GENERATIONS}. Default 50. */
  generations: number;
  /** `tournament` (both parents by tournament), `random-mate` (mate uniform from the pool), `pimp`. Default `pimp`. */
  selection: SelectionMode;
  /** Tournament size for the first parent (and both parents under `tournament`). Default 5 (our choice). */
  tournamentSize: number;
  /** Candidates a chooser looks at under `pimp` / `random-mate`. Default: the tournament size. */
  poolSize: number;
  /** Probability that an offspring is made by crossover (else a copy of the first parent). Default 0.9. */
  crossoverRate: number;
  /** Probability that an offspring (and, separately, its preference) is mutated. Default 0.1. */
  mutationRate: number;
  /** Best individuals copied unchanged into the next generation. Default 1. */
  elites: number;
  /** `crossover`: child preference = crossover of both parents' preferences; `chooser`: the chooser's. Default `crossover`. */
  preferenceInheritance: PreferenceInheritance;
  /** Stop early once the best fitness is at or below this value. Default: never. */
  stopFitness?: number;
  /**
   * `error` (default): single objective, generational with elites. `error-size`: NSGA-II (Deb et al.
   * 2002) on (loss, size): parents by crowded tournament, survivors by non-dominated rank and
   * crowding from parents + offspring; `elites` is then unused (NSGA-II's survival is elitist).
   */
  objectives: ObjectiveMode;
  /*
   * The choices below are absent from the resolved options while at their default, so that result
   * files and study cell hashes written before they existed stay byte-identical.
   */
  /**
   * How the first parent is chosen. `tournament` (default): fitness tournament of `tournamentSize`.
   * `lexicase`: semi-dynamic epsilon-lexicase on per-case losses (La Cava, Spector, Danai, GECCO 2016;
   * La Cava, Helmuth, Spector, Moore, Evolutionary Computation 27(3), 2019). `pareto`: GEPA-style
   * selection over cases (Agrawal et al. 2025). Both need an evaluator that returns per-case losses;
   * not with `objectives: 'error-size'`. The mate chooser (`selection`) still picks the second parent.
   */
  firstParent?: FirstParentMode;
  /**
   * How a chooser's candidate pool is drawn under `random-mate` and `pimp`: `uniform` (default) draws,
   * or `tournament`: each candidate the winner of a fitness tournament of `tournamentSize` (never the
   * chooser), which puts fitness pressure on the mate too.
   */
  poolDraw?: PoolDraw;
  /**
   * Which candidate a `pimp` chooser takes (the mate distance measures all three): `ideal` (default):
   * the closest to its preference (PIMP); `dissimilar`: the farthest from its own genome (dissimilar
   * mating); `assortative`: the closest to its own genome (assortative mating). The last two use no
   * preferences, so individuals carry none; only with `selection: 'pimp'`.
   */
  mateRule?: MateRule;
  /** How initial preferences are made: `random` genomes (default) or `self`, a copy of the individual's own genome. */
  preferenceInit?: PreferenceInit;
  /**
   * `generational` (default): offspring replace the population, `elites` best kept. `keep-best`:
   * every slot breeds one offspring (first parent by the first-parent selector), and an offspring
   * replaces its first parent's slot when its fitness is strictly lower; no slot ever gets worse, so
   * `elites` is unused. Not with `objectives: 'error-size'`, whose survival NSGA-II fixes.
   */
  replacement?: Replacement;
  /**
   * Evaluation budget (deterministic): a generation starts only if the evaluations so far plus the
   * most it can use (one per offspring, plus one per parent when the evaluator declares earlier
   * losses stale) stay within it; the run never exceeds it. At least `populationSize` (the initial
   * population). Default: none.
   */
  maxEvaluations?: number;
  /**
   * Wall-clock budget in seconds from the start of this `evolve` call (a resumed run gets it afresh),
   * checked between generations: a generation starts only if the time so far plus the duration of the
   * previous generation (generation 0 not counted) stays within it. Default: none.
   */
  maxSeconds?: number;
}

/**
 * Most individuals per generation. The engine holds two generations' individuals at once, each with its
 * genome, preference and per-case losses; the layers above estimate that memory against the machine's
 * (src/sr/memory.ts) and this bound keeps every engine (a judge's, a custom representation's) finite.
 */
export const MAX_POPULATION_SIZE = 1_000_000;

/**
 * Seeds are integers in 0..MAX_SEED (2^53 - 1), the same for the library, study files and the command
 * line: every one is an exact double, so no two seeds name the same run (1e20 and 1e20 + 1 would).
 */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** Most generations of a run: each keeps a line of statistics in memory (the run's history) and in its log. */
export const MAX_GENERATIONS = 1_000_000;

/** The engine choices that resolveEvolutionOptions leaves out while they are at these defaults. */
export const DEFAULT_ENGINE_CHOICES: Readonly<
  Required<Pick<EvolutionOptions, 'firstParent' | 'poolDraw' | 'mateRule' | 'preferenceInit' | 'replacement'>>
> = {
  firstParent: 'tournament',
  poolDraw: 'uniform',
  mateRule: 'ideal',
  preferenceInit: 'random',
  replacement: 'generational',
};

/** True when the first-parent selector of these options works on per-case losses. */
export function selectsOnCases(o: Pick<EvolutionOptions, 'firstParent'>): boolean {
  return o.firstParent === 'lexicase' || o.firstParent === 'pareto';
}

/** True when individuals carry a preference (an ideal mate): `random-mate` (unused there) and `pimp` with the `ideal` rule. */
export function carriesPreferences(o: Pick<EvolutionOptions, 'selection' | 'mateRule'>): boolean {
  return o.selection === 'random-mate' || (o.selection === 'pimp' && (o.mateRule ?? 'ideal') === 'ideal');
}

export const DEFAULT_EVOLUTION_OPTIONS: Readonly<Omit<EvolutionOptions, 'poolSize'>> = {
  populationSize: 500,
  generations: 50,
  selection: 'pimp',
  tournamentSize: 5,
  crossoverRate: 0.9,
  mutationRate: 0.1,
  elites: 1,
  preferenceInheritance: 'crossover',
  objectives: 'error',
};

/**
 * Checks of one option's value, shared by every layer's options model; each failure is an
 * {@link optionError} naming the option.
 */
export const check = {
  int(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      // past 2^53 - 1 integers are not exact (1e20 + 1 === 1e20): then the upper bound is said too
      const range = max === Number.MAX_SAFE_INTEGER && !(typeof v === 'number' && v > max) ? `>= ${min}` : `in ${min}..${max}`;
      throw optionError(name, `expected an integer ${range}, got ${String(v)}`);
    }
    return v;
  },
  probability(name: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
      throw optionError(name, `expected a probability in [0, 1], got ${String(v)}`);
    }
    return v;
  },
  /** A finite number >= min. */
  atLeast(name: string, v: unknown, min: number): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw optionError(name, `expected a number >= ${min}, got ${String(v)}`);
    return v;
  },
  oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw optionError(name, `expected one of ${allowed.join(', ')}, got ${String(v)}`);
    }
    return v as T;
  },
  boolean(name: string, v: unknown): boolean {
    if (typeof v !== 'boolean') throw optionError(name, `expected true or false, got ${String(v)}`);
    return v;
  },
  /** Two finite numbers [a, b] (integers when `integers`), a <= b. */
  pair(name: string, v: unknown, integers = false): readonly [number, number] {
    const ok = (x: unknown) => typeof x === 'number' && (integers ? Number.isSafeInteger(x) : Number.isFinite(x));
    if (!Array.isArray(v) || v.length !== 2 || !v.every(ok))
      throw optionError(name, `expected a pair [a, b] of ${integers ? 'integers' : 'finite numbers'}, got ${showValue(v)}`);
    const [a, b] = v as [number, number];
    if (a > b) throw optionError(name, `expected a <= b, got ${a}, ${b}`);
    return [a, b];
  },
};

/** A value as an error message shows it: JSON, cut short. */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? 'nothing' : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Fills defaults and validates; every message names the offending option. */
export function resolveEvolutionOptions(partial: Partial<EvolutionOptions> = {}): EvolutionOptions {
  const o = { ...DEFAULT_EVOLUTION_OPTIONS, ...stripUndefined(partial) };
  const populationSize = check.int('populationSize', o.populationSize, 2, MAX_POPULATION_SIZE);
  const tournamentSize = check.int('tournamentSize', o.tournamentSize, 1, populationSize);
  const poolSize = check.int('poolSize', partial.poolSize ?? tournamentSize, 1, populationSize);
  const stopFitness = o.stopFitness;
  if (stopFitness !== undefined && (typeof stopFitness !== 'number' || Number.isNaN(stopFitness))) {
    throw optionError('stopFitness', `expected a number, got ${String(stopFitness)}`);
  }
  const base: EvolutionOptions = {
    populationSize,
    generations: check.int('generations', o.generations, 0, MAX_GENERATIONS),
    selection: check.oneOf('selection', o.selection, SELECTION_MODES),
    tournamentSize,
    poolSize,
    crossoverRate: check.probability('crossoverRate', o.crossoverRate),
    mutationRate: check.probability('mutationRate', o.mutationRate),
    elites: check.int('elites', o.elites, 0, populationSize - 1),
    preferenceInheritance: check.oneOf('preferenceInheritance', o.preferenceInheritance, PREFERENCE_INHERITANCE),
    ...(stopFitness !== undefined ? { stopFitness } : {}),
    objectives: check.oneOf('objectives', o.objectives, OBJECTIVE_MODES),
  };
  return { ...base, ...resolveChoices(o, base) };
}

/** The newer engine choices: validated, combinations checked, and present only when not at their default. */
function resolveChoices(o: Partial<EvolutionOptions>, base: EvolutionOptions): Partial<EvolutionOptions> {
  const d = DEFAULT_ENGINE_CHOICES;
  const firstParent = check.oneOf('firstParent', o.firstParent ?? d.firstParent, FIRST_PARENT_MODES);
  const poolDraw = check.oneOf('poolDraw', o.poolDraw ?? d.poolDraw, POOL_DRAWS);
  const mateRule = check.oneOf('mateRule', o.mateRule ?? d.mateRule, MATE_RULES);
  const preferenceInit = check.oneOf('preferenceInit', o.preferenceInit ?? d.preferenceInit, PREFERENCE_INITS);
  const replacement = check.oneOf('replacement', o.replacement ?? d.replacement, REPLACEMENTS);
  const { selection, objectives } = base;
  const refuse = (name: string, msg: string): never => {
    throw optionError(name, msg);
  };
  if (firstParent !== 'tournament' && objectives === 'error-size')
    refuse('firstParent', `${firstParent} selects on per-case losses; objectives error-size selects by NSGA-II rank and crowding`);
  if (replacement !== 'generational' && objectives === 'error-size')
    refuse('replacement', `${replacement} applies to objectives error; objectives error-size keeps NSGA-II's survival`);
  if (poolDraw !== 'uniform' && selection === 'tournament')
    refuse('poolDraw', `${poolDraw} draws the candidate pool of selection random-mate or pimp; selection tournament has no pool`);
  if (mateRule !== 'ideal' && selection !== 'pimp')
    refuse('mateRule', `${mateRule} picks from the pool by distance, a rule of selection pimp; selection ${selection} has its own`);
  const preferences = carriesPreferences({ selection, mateRule });
  const why = selection === 'tournament' ? 'selection tournament' : `mateRule ${mateRule}`;
  if (preferenceInit !== 'random' && !preferences)
    refuse('preferenceInit', `${preferenceInit} makes preferences, which ${why} does not use`);
  if (base.preferenceInheritance !== 'crossover' && mateRule !== 'ideal')
    refuse('preferenceInheritance', `${base.preferenceInheritance} shapes preferences, which ${why} does not use`);
  const maxEvaluations = o.maxEvaluations;
  if (maxEvaluations !== undefined && !(Number.isInteger(maxEvaluations) && maxEvaluations >= base.populationSize))
    refuse(
      'maxEvaluations',
      `expected an integer at least the population size (${base.populationSize}: the initial population's evaluations), got ${String(maxEvaluations)}`,
    );
  const maxSeconds = o.maxSeconds;
  if (maxSeconds !== undefined && !(typeof maxSeconds === 'number' && Number.isFinite(maxSeconds) && maxSeconds > 0))
    refuse('maxSeconds', `expected a number of seconds > 0, got ${String(maxSeconds)}`);
  return {
    ...(firstParent !== d.firstParent ? { firstParent } : {}),
    ...(poolDraw !== d.poolDraw ? { poolDraw } : {}),
    ...(mateRule !== d.mateRule ? { mateRule } : {}),
    ...(preferenceInit !== d.preferenceInit ? { preferenceInit } : {}),
    ...(replacement !== d.replacement ? { replacement } : {}),
    ...(maxEvaluations !== undefined ? { maxEvaluations } : {}),
    ...(maxSeconds !== undefined ? { maxSeconds } : {}),
  };
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The engine settings a run's summary always records, in this order (stopFitness when set). Settings added
 * later are recorded by the layers above only when a run was given them, so that summaries of runs that do
 * not use them stay byte-identical.
 */
export const RECORDED_EVOLUTION_OPTIONS = [
  'populationSize',
  'generations',
  'selection',
  'tournamentSize',
  'poolSize',
  'crossoverRate',
  'mutationRate',
  'elites',
  'preferenceInheritance',
  'stopFitness',
  'objectives',
] as const satisfies readonly (keyof EvolutionOptions)[];

/** The {@link RECORDED_EVOLUTION_OPTIONS} of resolved settings, in order. */
export function recordedEvolution(o: EvolutionOptions): Partial<EvolutionOptions> {
  return Object.fromEntries(RECORDED_EVOLUTION_OPTIONS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}
