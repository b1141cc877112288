import { optionError } from './errors.js';
import {
  OBJECTIVE_MODES,
  PREFERENCE_INHERITANCE,
  SELECTION_MODES,
  type ObjectiveMode,
  type PreferenceInheritance,
  type SelectionMode,
} from './types.js';

/**
 * Search settings of the generational engine. Every choice the PIMP papers leave open is an option
 * here with a documented default (DESIGN.md section 1).
 */
export interface EvolutionOptions {
  /** Individuals per generation. Default 500. */
  populationSize: number;
  /** Generations after the initial one. Default 50. */
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
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
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
};

/** Fills defaults and validates; every message names the offending option. */
export function resolveEvolutionOptions(partial: Partial<EvolutionOptions> = {}): EvolutionOptions {
  const o = { ...DEFAULT_EVOLUTION_OPTIONS, ...stripUndefined(partial) };
  const populationSize = check.int('populationSize', o.populationSize, 2);
  const tournamentSize = check.int('tournamentSize', o.tournamentSize, 1, populationSize);
  const poolSize = check.int('poolSize', partial.poolSize ?? tournamentSize, 1, populationSize);
  const stopFitness = o.stopFitness;
  if (stopFitness !== undefined && (typeof stopFitness !== 'number' || Number.isNaN(stopFitness))) {
    throw optionError('stopFitness', `expected a number, got ${String(stopFitness)}`);
  }
  return {
    populationSize,
    generations: check.int('generations', o.generations, 0),
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
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
