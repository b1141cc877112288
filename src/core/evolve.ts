import { optionError } from './errors.js';
import { DEFAULT_ENGINE_CHOICES, carriesPreferences, resolveEvolutionOptions, selectsOnCases, type EvolutionOptions } from './options.js';
import { Rng, type RngState } from './rng.js';
import { crowdedOrder } from './nsga2.js';
import { firstParentSelector, mateChooser, type FirstParentSelector, type MateChooser } from './selection.js';
import type { EvaluationRequest, Evaluator, Individual, MateDistance, Representation, StopReason } from './types.js';

/** Statistics of one generation, emitted after it has been evaluated. */
export interface GenerationStats {
  readonly generation: number;
  /**
   * Fitness evaluations so far (cumulative, counting only individuals whose fitness was unknown, and
   * the parents re-evaluated when the evaluator declared earlier losses stale).
   */
  readonly evaluations: number;
  /** Parents re-evaluated in this generation because the evaluator declared earlier losses stale; absent when none. */
  readonly reevaluated?: number;
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
  /**
   * Best individual ever seen (lowest fitness; the earliest on ties). In a generation whose evaluator
   * declared earlier losses stale, the best of that generation's re-evaluated parents and offspring.
   */
  best: Individual<G>;
}

export interface EvolutionHooks<G> {
  /** Preference-to-candidate distance for pimp; default: the representation's structural distance. */
  mateDistance?: MateDistance<G>;
  /** Extra per-generation measures, merged into `GenerationStats.extra`. */
  measure?: (population: readonly Individual<G>[], generation: number) => Record<string, number>;
  /** Called after each generation is evaluated (generation 0 is the initial population). */
  onGeneration?: (stats: GenerationStats, state: Readonly<EvolutionState<G>>) => void | Promise<void>;
  /** Wall clock in milliseconds for `maxSeconds`; default Date.now (tests pass a fake one). */
  now?: () => number;
}

export interface EvolutionResult<G> {
  readonly best: Individual<G>;
  readonly population: readonly Individual<G>[];
  readonly generations: number;
  readonly evaluations: number;
  readonly history: readonly GenerationStats[];
  /** True when the run stopped before its last generation (`stopReason` is not `generations`). */
  readonly stoppedEarly: boolean;
  /**
   * Why it stopped: `target` (best fitness at or below stopFitness; checked first), `generations` (all
   * done), `evaluations` (the next generation could exceed maxEvaluations), `seconds` (the next
   * generation would likely end past maxSeconds).
   */
  readonly stopReason: StopReason;
}

/** A run in progress: options, operators and evaluator bound together. */
interface Run<G> {
  readonly o: EvolutionOptions;
  readonly rep: Representation<G>;
  readonly evaluator: Evaluator<G>;
  readonly hooks: EvolutionHooks<G>;
  readonly choose: MateChooser<G>;
  readonly selectFirst: FirstParentSelector<G>;
  readonly carriesPreferences: boolean;
  /** The first-parent selector works on per-case losses: evaluations ask for them and individuals keep them. */
  readonly needsCases: boolean;
  readonly keepBest: boolean;
}

/**
 * The generational loop (DEAP eaSimple shape, with Operon's two selector slots):
 *
 * ```
 * P <- init(N); evaluate(P)
 * repeat G times (or until stopFitness, maxEvaluations or maxSeconds stops it between generations):
 *   if the evaluator declares earlier losses stale: re-evaluate P
 *   prepare the first-parent selector on P (tournament, lexicase, pareto)
 *   elites <- best e of P
 *   for each other slot: a <- first(P); b <- chooser(P, a); child <- vary(a, b)
 *   evaluate only the children whose fitness is unknown; P <- elites + children
 * ```
 *
 * With `replacement: 'keep-best'` no elites are copied, N children are bred, and each child takes
 * its first parent's slot in P when its fitness is strictly lower.
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
  const now = hooks.now ?? Date.now;
  const started = now();
  const history: GenerationStats[] = [];
  let state: EvolutionState<G>;
  if (resumeFrom) {
    state = resumeFrom;
  } else {
    await run.evaluator.beginGeneration?.(0);
    state = await initialise(run, new Rng(options.seed));
    history.push(await report(run, state, [], 0));
  }
  let lastDuration = 0;
  let stopReason: StopReason;
  for (;;) {
    const reason = stopBefore(run, state, now() - started + lastDuration);
    if (reason) {
      stopReason = reason;
      break;
    }
    const t0 = now();
    const stale = (await run.evaluator.beginGeneration?.(state.generation + 1)) === true;
    // the parents' re-evaluation too must fit in the evaluation budget
    if (
      stale &&
      run.o.maxEvaluations !== undefined &&
      state.evaluations + offspringCount(run) + run.o.populationSize > run.o.maxEvaluations
    ) {
      stopReason = 'evaluations';
      break;
    }
    const next = await nextGeneration(run, state, stale);
    state = next.state;
    history.push(await report(run, state, next.mateDistances, next.reevaluated));
    lastDuration = now() - t0;
  }
  return {
    best: state.best,
    population: state.population,
    generations: state.generation,
    evaluations: state.evaluations,
    history,
    stoppedEarly: stopReason !== 'generations',
    stopReason,
  };
}

/**
 * Why the run stops before the next generation, if it does: the target first, then the generation
 * count, the evaluation budget (the next generation's offspring must fit), the time budget (`elapsed`
 * includes the duration of the previous generation, as an estimate of the next one's).
 */
function stopBefore<G>(run: Run<G>, state: EvolutionState<G>, elapsed: number): StopReason | undefined {
  const o = run.o;
  if (reachedTarget(o, state)) return 'target';
  if (state.generation >= o.generations) return 'generations';
  if (o.maxEvaluations !== undefined && state.evaluations + offspringCount(run) > o.maxEvaluations) return 'evaluations';
  if (o.maxSeconds !== undefined && elapsed > o.maxSeconds * 1000) return 'seconds';
  return undefined;
}

/** The most offspring a generation evaluates: every bred child (elites are copies). */
function offspringCount<G>(run: Run<G>): number {
  const o = run.o;
  return o.objectives === 'error-size' || run.keepBest ? o.populationSize : o.populationSize - o.elites;
}

function prepare<G>(rep: Representation<G>, evaluator: Evaluator<G>, options: Partial<EvolutionOptions>, hooks: EvolutionHooks<G>): Run<G> {
  const o = resolveEvolutionOptions(options);
  const c = { ...DEFAULT_ENGINE_CHOICES, ...o };
  // the representation's lower bound is of its own distance, not of a caller's
  const lowerBound = hooks.mateDistance ? undefined : rep.distanceLowerBound;
  const choose = mateChooser<G>(o.selection, {
    tournamentSize: o.tournamentSize,
    poolSize: o.poolSize,
    distance: hooks.mateDistance ?? ((p, c, bound) => rep.distance(p, c, bound)),
    ...(lowerBound ? { lowerBound } : {}),
    poolDraw: c.poolDraw,
    mateRule: c.mateRule,
  });
  const needsCases = selectsOnCases(o);
  if (needsCases && !evaluator.evaluateDetailed) {
    throw optionError('firstParent', `${c.firstParent} selects on per-case losses, and this evaluator cannot return them`);
  }
  return {
    o,
    rep,
    evaluator,
    hooks,
    choose,
    selectFirst: firstParentSelector<G>(c.firstParent, o),
    carriesPreferences: carriesPreferences(o),
    needsCases,
    keepBest: c.replacement === 'keep-best',
  };
}

async function initialise<G>(run: Run<G>, rng: Rng): Promise<EvolutionState<G>> {
  const n = run.o.populationSize;
  const population: Individual<G>[] = [];
  for (let i = 0; i < n; i++) {
    const genome = run.rep.random(rng, i, n);
    if (!run.carriesPreferences) population.push({ genome });
    else population.push({ genome, preference: run.o.preferenceInit === 'self' ? genome : run.rep.random(rng, i, n) });
  }
  const evaluations = await evaluateInvalid(run, population);
  return { generation: 0, population, rngState: rng.state(), evaluations, best: bestOf(population) };
}

interface NextGeneration<G> {
  readonly state: EvolutionState<G>;
  readonly mateDistances: number[];
  readonly reevaluated: number;
}

async function nextGeneration<G>(run: Run<G>, prev: EvolutionState<G>, stale: boolean): Promise<NextGeneration<G>> {
  const rng = Rng.fromState(prev.rngState);
  const o = run.o;
  // Stale losses: every parent is scored again, on new objects (the previous state stays as reported).
  const parents = stale ? prev.population.map(({ fitness: _f, cases: _c, ...p }) => p as Individual<G>) : prev.population;
  const reevaluated = stale ? await evaluateInvalid(run, parents) : 0;
  const multi = o.objectives === 'error-size';
  // Under NSGA-II a tournament on the crowded-comparison position is Deb's crowded tournament.
  const fitness = multi ? Array.from(crowdedOrder(objectivePoints(run, parents)).position) : parents.map((p) => p.fitness as number);
  const first = run.selectFirst(parents, fitness);
  const copied = multi || run.keepBest ? [] : eliteIndices(fitness, o.elites);
  const population: Individual<G>[] = copied.map((i) => ({ ...(parents[i] as Individual<G>) }));
  const firstParents: number[] = [];
  const mateDistances: number[] = [];
  while (population.length < o.populationSize) {
    const a = first(rng);
    const mate = run.choose(rng, parents, fitness, a);
    if (mate.distance !== undefined) mateDistances.push(mate.distance);
    firstParents.push(a);
    population.push(breed(run, rng, parents[a] as Individual<G>, parents[mate.index] as Individual<G>));
  }
  const evaluations = prev.evaluations + reevaluated + (await evaluateInvalid(run, population));
  const next = multi
    ? survivors(run, [...parents, ...population])
    : run.keepBest
      ? keepBest(parents, population, firstParents)
      : population;
  const best = bestOf(stale ? [...parents, ...population] : population);
  return {
    state: {
      generation: prev.generation + 1,
      population: next,
      rngState: rng.state(),
      evaluations,
      best: stale || best.fitness! < prev.best.fitness! ? best : prev.best,
    },
    mateDistances,
    reevaluated,
  };
}

/**
 * Keep-best replacement: child k takes the slot of its first parent `firstParents[k]` when its
 * fitness is strictly lower than the slot's current occupant (children in breeding order, so of
 * several children of one parent the best better one ends up there). No slot ever gets worse.
 */
function keepBest<G>(
  parents: readonly Individual<G>[],
  children: readonly Individual<G>[],
  firstParents: readonly number[],
): Individual<G>[] {
  const next = [...parents];
  children.forEach((child, k) => {
    const slot = firstParents[k] as number;
    if ((child.fitness as number) < ((next[slot] as Individual<G>).fitness as number)) next[slot] = child;
  });
  return next;
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
  // an unvaried copy keeps its parent's score (and per-case losses)
  const score = varied || a.fitness === undefined ? {} : a.cases ? { fitness: a.fitness, cases: a.cases } : { fitness: a.fitness };
  if (!run.carriesPreferences) return { genome, ...score };
  let preference = a.preference as G;
  if (o.preferenceInheritance === 'crossover' && rng.chance(o.crossoverRate)) {
    preference = rep.crossover(rng, preference, b.preference as G);
  }
  if (rng.chance(o.mutationRate)) preference = rep.mutate(rng, preference);
  return { genome, preference, ...score };
}

/**
 * Evaluates the individuals whose fitness is unknown, through `evaluateDetailed` when the evaluator
 * has it (then improved genomes replace the originals in place: Lamarckian write-back). When the
 * first-parent selector needs them, the per-case losses are asked for and kept.
 */
async function evaluateInvalid<G>(run: Run<G>, population: Individual<G>[]): Promise<number> {
  const todo: number[] = [];
  population.forEach((p, i) => p.fitness === undefined && todo.push(i));
  if (todo.length === 0) return 0;
  const genomes = todo.map((i) => (population[i] as Individual<G>).genome);
  const request: EvaluationRequest | undefined = run.needsCases ? { cases: true } : undefined;
  const ev = run.evaluator;
  const detailed = ev.evaluateDetailed ? await (request ? ev.evaluateDetailed(genomes, request) : ev.evaluateDetailed(genomes)) : undefined;
  const losses = detailed ? detailed.losses : await ev.evaluate(genomes);
  if (losses.length !== todo.length) {
    throw new Error(`evaluator returned ${losses.length} fitness values for ${todo.length} genomes`);
  }
  const cases = request ? detailed?.cases : undefined;
  if (request && cases?.length !== todo.length) {
    const got = cases?.length ?? 'none';
    throw optionError(
      'firstParent',
      `${run.o.firstParent} needs per-case losses; the evaluator returned ${got} for ${todo.length} genomes`,
    );
  }
  const improved = detailed?.genomes;
  for (let i = 0; i < todo.length; i++) {
    const idx = todo[i] as number;
    const p = population[idx] as Individual<G>;
    const fitness = worstIfInvalid(losses[i] as number);
    const genome = improved?.[i];
    if (genome !== undefined)
      population[idx] = { ...p, genome, fitness, ...(cases ? { cases: caseVector(cases[i] as ArrayLike<number>) } : {}) };
    else {
      p.fitness = fitness;
      if (cases) p.cases = caseVector(cases[i] as ArrayLike<number>);
    }
  }
  return todo.length;
}

/** A copy of an evaluator's per-case losses, failures as the worst loss (a plain loop: Float64Array.from with a map is slow). */
function caseVector(v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(v.length);
  for (let t = 0; t < out.length; t++) out[t] = worstIfInvalid(v[t] as number);
  return out;
}

/** Evaluation failures (NaN, ±Infinity) count as the worst loss. */
function worstIfInvalid(f: number): number {
  return Number.isNaN(f) || f === Infinity || f === -Infinity ? Infinity : f;
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

async function report<G>(
  run: Run<G>,
  state: EvolutionState<G>,
  mateDistances: readonly number[],
  reevaluated: number,
): Promise<GenerationStats> {
  const pop = state.population;
  const n = pop.length;
  // plain loops (no per-generation arrays of sizes or finite values): fitness values, sizes' sum and
  // the first lowest (as bestOf) in population order, the finite values' sum in ascending order
  const fit = new Float64Array(n);
  let sizeSum = 0;
  let bestIdx = 0;
  for (let i = 0; i < n; i++) {
    const p = pop[i] as Individual<G>;
    const f = p.fitness as number;
    fit[i] = f;
    sizeSum += run.rep.size(p.genome);
    if (f < (fit[bestIdx] as number)) bestIdx = i;
  }
  const best = pop[bestIdx] as Individual<G>;
  fit.sort();
  let finiteCount = 0;
  let finiteSum = 0;
  for (let i = 0; i < n; i++) {
    const f = fit[i] as number;
    if (Number.isFinite(f)) {
      finiteCount++;
      finiteSum += f;
    }
  }
  const stats: GenerationStats = {
    generation: state.generation,
    evaluations: state.evaluations,
    ...(reevaluated ? { reevaluated } : {}),
    bestFitness: fit[0] as number,
    medianFitness: median(fit),
    meanFitness: finiteCount ? finiteSum / finiteCount : NaN,
    invalidShare: (n - finiteCount) / n,
    bestSize: run.rep.size(best.genome),
    meanSize: n ? sizeSum / n : NaN,
    uniqueShare: distinctGenomes(run.rep, pop) / n,
    ...(run.carriesPreferences ? { preference: preferenceStats(run, pop, mateDistances) } : {}),
    ...(run.hooks.measure ? { extra: run.hooks.measure(pop, state.generation) } : {}),
  };
  await run.hooks.onGeneration?.(stats, state);
  return stats;
}

function distinctGenomes<G>(rep: Representation<G>, pop: readonly Individual<G>[]): number {
  const genomes = pop.map((p) => p.genome);
  return rep.distinct ? rep.distinct(genomes) : new Set(genomes.map((g) => rep.key(g))).size;
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
