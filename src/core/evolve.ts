import { resolveEvolutionOptions, type EvolutionOptions } from './options.js';
import { Rng, type RngState } from './rng.js';
import { crowdedOrder } from './nsga2.js';
import { mateChooser, tournament, type MateChooser } from './selection.js';
import type { Evaluator, Individual, MateDistance, Representation } from './types.js';

/** Statistics of one generation, emitted after it has been evaluated. */
export interface GenerationStats {
  readonly generation: number;
  /** Fitness evaluations so far (cumulative, counting only individuals whose fitness was unknown). */
  readonly evaluations: number;
  readonly bestFitness: number;
  readonly medianFitness: number;
  /** Mean over finite fitness values (NaN when none is finite). */
  readonly meanFitness: number;
  /** Share of individuals whose evaluation failed (non-finite). */
  readonly invalidShare: number;
  readonly bestSize: number;
  readonly meanSize: number;
  /** Distinct genotypes (by canonical key) / population size. */
  readonly uniqueShare: number;
  /** Preference statistics; present when individuals carry preferences. */
  readonly preference?: {
    readonly meanSize: number;
    readonly medianSize: number;
    readonly singleNodeShare: number;
    /** Mean distance between a chooser's preference and the mate it chose (pimp only; this generation's matings). */
    readonly meanMateDistance?: number;
  };
  /** Measures contributed by the caller's `measure` hook (tree depth, diversity, ...). */
  readonly extra?: Readonly<Record<string, number>>;
}

/** Everything needed to continue a run: a checkpoint is this state, serialised. */
export interface EvolutionState<G> {
  generation: number;
  population: Individual<G>[];
  rngState: RngState;
  evaluations: number;
  /** Best individual ever seen (lowest fitness; the earliest on ties). */
  best: Individual<G>;
}

export interface EvolutionHooks<G> {
  /** Preference-to-candidate distance for pimp; default: the representation's structural distance. */
  mateDistance?: MateDistance<G>;
  /** Extra per-generation measures, merged into `GenerationStats.extra`. */
  measure?: (population: readonly Individual<G>[], generation: number) => Record<string, number>;
  /** Called after each generation is evaluated (generation 0 is the initial population). */
  onGeneration?: (stats: GenerationStats, state: Readonly<EvolutionState<G>>) => void | Promise<void>;
}

export interface EvolutionResult<G> {
  readonly best: Individual<G>;
  readonly population: readonly Individual<G>[];
  readonly generations: number;
  readonly evaluations: number;
  readonly history: readonly GenerationStats[];
  readonly stoppedEarly: boolean;
}

/** A run in progress: options, operators and evaluator bound together. */
interface Run<G> {
  readonly o: EvolutionOptions;
  readonly rep: Representation<G>;
  readonly evaluator: Evaluator<G>;
  readonly hooks: EvolutionHooks<G>;
  readonly choose: MateChooser<G>;
  readonly carriesPreferences: boolean;
}

/**
 * The generational loop (DEAP eaSimple shape, with Operon's two selector slots):
 *
 * ```
 * P <- init(N); evaluate(P)
 * repeat G times:
 *   elites <- best e of P
 *   for each other slot: a <- tournament(P); b <- chooser(P, a); child <- vary(a, b)
 *   evaluate only the children whose fitness is unknown; P <- elites + children
 * ```
 *
 * With `objectives: 'error-size'` the same loop runs NSGA-II (Deb et al. 2002): parents are drawn
 * by tournament on the crowded-comparison position (rank, then crowding) instead of the loss, no
 * elites are copied, and the next population is the best N of parents + offspring in that order.
 *
 * Same seed and options give the same result, whatever the evaluator's parallelism. A run resumed
 * from a saved {@link EvolutionState} continues exactly as the uninterrupted run would.
 */
export async function evolve<G>(
  rep: Representation<G>,
  evaluator: Evaluator<G>,
  options: Partial<EvolutionOptions> & { seed: number | string },
  hooks: EvolutionHooks<G> = {},
  resumeFrom?: EvolutionState<G>,
): Promise<EvolutionResult<G>> {
  const run = prepare(rep, evaluator, options, hooks);
  const history: GenerationStats[] = [];
  let state: EvolutionState<G>;
  let mateDistances: number[] = [];
  if (resumeFrom) {
    state = resumeFrom;
  } else {
    state = await initialise(run, new Rng(options.seed));
    history.push(await report(run, state, mateDistances));
  }
  let stoppedEarly = reachedTarget(run.o, state);
  while (!stoppedEarly && state.generation < run.o.generations) {
    ({ state, mateDistances } = await nextGeneration(run, state));
    history.push(await report(run, state, mateDistances));
    stoppedEarly = reachedTarget(run.o, state);
  }
  return {
    best: state.best,
    population: state.population,
    generations: state.generation,
    evaluations: state.evaluations,
    history,
    stoppedEarly,
  };
}

function prepare<G>(rep: Representation<G>, evaluator: Evaluator<G>, options: Partial<EvolutionOptions>, hooks: EvolutionHooks<G>): Run<G> {
  const o = resolveEvolutionOptions(options);
  const choose = mateChooser<G>(o.selection, {
    tournamentSize: o.tournamentSize,
    poolSize: o.poolSize,
    distance: hooks.mateDistance ?? ((p, c, bound) => rep.distance(p, c, bound)),
  });
  return { o, rep, evaluator, hooks, choose, carriesPreferences: o.selection !== 'tournament' };
}

async function initialise<G>(run: Run<G>, rng: Rng): Promise<EvolutionState<G>> {
  const n = run.o.populationSize;
  const population: Individual<G>[] = [];
  for (let i = 0; i < n; i++) {
    const genome = run.rep.random(rng, i, n);
    population.push(run.carriesPreferences ? { genome, preference: run.rep.random(rng, i, n) } : { genome });
  }
  const evaluations = await evaluateInvalid(run, population);
  return { generation: 0, population, rngState: rng.state(), evaluations, best: bestOf(population) };
}

async function nextGeneration<G>(run: Run<G>, prev: EvolutionState<G>): Promise<{ state: EvolutionState<G>; mateDistances: number[] }> {
  const rng = Rng.fromState(prev.rngState);
  const parents = prev.population;
  const multi = run.o.objectives === 'error-size';
  // Under NSGA-II a tournament on the crowded-comparison position is Deb's crowded tournament.
  const fitness = multi ? Array.from(crowdedOrder(objectivePoints(run, parents)).position) : parents.map((p) => p.fitness as number);
  const population: Individual<G>[] = multi ? [] : eliteIndices(fitness, run.o.elites).map((i) => ({ ...(parents[i] as Individual<G>) }));
  const mateDistances: number[] = [];
  while (population.length < run.o.populationSize) {
    const first = tournament(rng, fitness, run.o.tournamentSize);
    const mate = run.choose(rng, parents, fitness, first);
    if (mate.distance !== undefined) mateDistances.push(mate.distance);
    population.push(breed(run, rng, parents[first] as Individual<G>, parents[mate.index] as Individual<G>));
  }
  const evaluations = prev.evaluations + (await evaluateInvalid(run, population));
  const next = multi ? survivors(run, [...parents, ...population]) : population;
  const best = bestOf(population);
  return {
    state: {
      generation: prev.generation + 1,
      population: next,
      rngState: rng.state(),
      evaluations,
      best: best.fitness! < prev.best.fitness! ? best : prev.best,
    },
    mateDistances,
  };
}

/** (loss, size) of each individual: the two objectives of `error-size` mode. */
function objectivePoints<G>(run: Run<G>, pop: readonly Individual<G>[]): number[][] {
  return pop.map((p) => [p.fitness as number, run.rep.size(p.genome)]);
}

/** NSGA-II survival: the first N individuals in crowded-comparison order (rank, then crowding). */
function survivors<G>(run: Run<G>, merged: readonly Individual<G>[]): Individual<G>[] {
  const { order } = crowdedOrder(objectivePoints(run, merged));
  return order.slice(0, run.o.populationSize).map((i) => merged[i] as Individual<G>);
}

/**
 * One offspring: crossover of the genomes (receiver = first parent) with probability crossoverRate,
 * then mutation with probability mutationRate. The preference is varied the same way, by the same
 * operators and rates: crossover of both parents' preferences, or the chooser's alone. An offspring
 * whose genome is an unvaried copy keeps its parent's fitness.
 */
function breed<G>(run: Run<G>, rng: Rng, a: Individual<G>, b: Individual<G>): Individual<G> {
  const { rep, o } = run;
  let genome = a.genome;
  let varied = false;
  if (rng.chance(o.crossoverRate)) {
    genome = rep.crossover(rng, a.genome, b.genome);
    varied = true;
  }
  if (rng.chance(o.mutationRate)) {
    genome = rep.mutate(rng, genome);
    varied = true;
  }
  const fitness = varied ? undefined : a.fitness;
  if (!run.carriesPreferences) return fitness === undefined ? { genome } : { genome, fitness };
  let preference = a.preference as G;
  if (o.preferenceInheritance === 'crossover' && rng.chance(o.crossoverRate)) {
    preference = rep.crossover(rng, preference, b.preference as G);
  }
  if (rng.chance(o.mutationRate)) preference = rep.mutate(rng, preference);
  return fitness === undefined ? { genome, preference } : { genome, preference, fitness };
}

/**
 * Evaluates the individuals whose fitness is unknown, through `evaluateDetailed` when the evaluator
 * has it (then improved genomes replace the originals in place: Lamarckian write-back).
 */
async function evaluateInvalid<G>(run: Run<G>, population: Individual<G>[]): Promise<number> {
  const todo: number[] = [];
  population.forEach((p, i) => p.fitness === undefined && todo.push(i));
  if (todo.length === 0) return 0;
  const genomes = todo.map((i) => (population[i] as Individual<G>).genome);
  const detailed = run.evaluator.evaluateDetailed ? await run.evaluator.evaluateDetailed(genomes) : undefined;
  const losses = detailed ? detailed.losses : await run.evaluator.evaluate(genomes);
  if (losses.length !== todo.length) {
    throw new Error(`evaluator returned ${losses.length} fitness values for ${todo.length} genomes`);
  }
  todo.forEach((idx, i) => {
    const f = losses[i] as number;
    const improved = detailed?.genomes?.[i];
    const p = population[idx] as Individual<G>;
    const fitness = Number.isNaN(f) || f === Infinity || f === -Infinity ? Infinity : f;
    if (improved !== undefined) population[idx] = { ...p, genome: improved, fitness };
    else p.fitness = fitness;
  });
  return todo.length;
}

/** Indices of the `e` lowest fitness values; ties keep population order. */
export function eliteIndices(fitness: readonly number[], e: number): number[] {
  if (e <= 0) return [];
  // before(i, j): i ranks ahead of j (lower fitness, then lower index; +Infinity ties by index)
  const before = (i: number, j: number): boolean => {
    const d = (fitness[i] as number) - (fitness[j] as number);
    return d < 0 || (!(d > 0) && i < j);
  };
  if (e > 16)
    return fitness
      .map((_, i) => i)
      .sort((i, j) => (before(i, j) ? -1 : 1))
      .slice(0, e);
  // a few elites: one pass keeping the best e in order (insertion)
  const best: number[] = [];
  for (let i = 0; i < fitness.length; i++) {
    if (best.length === e && !before(i, best[e - 1] as number)) continue;
    let k = best.length === e ? e - 1 : best.length;
    while (k > 0 && before(i, best[k - 1] as number)) {
      best[k] = best[k - 1] as number;
      k--;
    }
    best[k] = i;
  }
  return best;
}

function bestOf<G>(population: readonly Individual<G>[]): Individual<G> {
  let best = population[0] as Individual<G>;
  for (const p of population) if ((p.fitness as number) < (best.fitness as number)) best = p;
  return best;
}

function reachedTarget<G>(o: EvolutionOptions, state: EvolutionState<G>): boolean {
  return o.stopFitness !== undefined && (state.best.fitness as number) <= o.stopFitness;
}

function median(sorted: ArrayLike<number>): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = n >> 1;
  return n % 2 ? (sorted[h] as number) : ((sorted[h - 1] as number) + (sorted[h] as number)) / 2;
}

async function report<G>(run: Run<G>, state: EvolutionState<G>, mateDistances: readonly number[]): Promise<GenerationStats> {
  const pop = state.population;
  const fit = Float64Array.from(pop, (p) => p.fitness as number).sort();
  const finite = fit.filter(Number.isFinite);
  const sizes = pop.map((p) => run.rep.size(p.genome));
  const bestIdx = pop.indexOf(bestOf(pop));
  const stats: GenerationStats = {
    generation: state.generation,
    evaluations: state.evaluations,
    bestFitness: fit[0] as number,
    medianFitness: median(fit),
    meanFitness: finite.length ? finite.reduce((s, v) => s + v, 0) / finite.length : NaN,
    invalidShare: (fit.length - finite.length) / fit.length,
    bestSize: sizes[bestIdx] as number,
    meanSize: mean(sizes),
    uniqueShare: new Set(pop.map((p) => run.rep.key(p.genome))).size / pop.length,
    ...(run.carriesPreferences ? { preference: preferenceStats(run, pop, mateDistances) } : {}),
    ...(run.hooks.measure ? { extra: run.hooks.measure(pop, state.generation) } : {}),
  };
  await run.hooks.onGeneration?.(stats, state);
  return stats;
}

function preferenceStats<G>(run: Run<G>, pop: readonly Individual<G>[], mateDistances: readonly number[]) {
  const sizes = pop.map((p) => run.rep.size(p.preference as G));
  const sorted = Float64Array.from(sizes).sort();
  return {
    meanSize: mean(sizes),
    medianSize: median(sorted),
    singleNodeShare: sizes.filter((s) => s === 1).length / sizes.length,
    ...(mateDistances.length ? { meanMateDistance: mean(mateDistances) } : {}),
  };
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : NaN;
}
