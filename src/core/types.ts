import type { Rng } from './rng.js';

/**
 * One member of the population. `fitness` is a loss (lower is better); `undefined` means the
 * genome has not been evaluated yet. Evaluation failures (NaN, ±Inf) are stored as +Infinity.
 */
export interface Individual<G> {
  readonly genome: G;
  /** The ideal mate (PIMP): a genome of the same type; absent under plain tournament selection. */
  readonly preference?: G;
  fitness?: number;
  /**
   * Per-case losses (one per case: a data row, a judge item; lower is better), from the same
   * evaluation as `fitness`; present only while a first-parent selector needs them (lexicase,
   * pareto). Non-finite entries are stored as +Infinity. Never modified in place: copies share it.
   */
  cases?: Float64Array;
}

/**
 * What the engine needs to know about a genome type. Trees implement it in src/tree; prompts in
 * src/judge. Every operator takes the seeded Rng first.
 */
export interface Representation<G> {
  /** A random genome for initialisation; `slot` of `count` lets ramped schemes spread depths. */
  random(rng: Rng, slot: number, count: number): G;
  /** One offspring of `a` (the receiving parent) and `b` (the donor). */
  crossover(rng: Rng, a: G, b: G): G;
  /** A mutated copy of `g` (the input is never modified). */
  mutate(rng: Rng, g: G): G;
  /**
   * A structural distance (a metric; 0 for equal genomes). With `bound`, only a distance at most
   * `bound` need be exact: above it any value above `bound` will do (callers looking for the closest
   * genome pass the best so far).
   */
  distance(a: G, b: G, bound?: number): number;
  /**
   * A lower bound of {@link distance}, much cheaper to compute: a mate chooser looking for the closest
   * candidate measures candidates in increasing order of it and stops where it passes the best so far.
   */
  readonly distanceLowerBound?: (a: G, b: G) => number;
  /** Size in nodes (or the genome's natural unit). */
  size(g: G): number;
  /** A canonical key: equal keys mean equal genotypes. */
  key(g: G): string;
  /** How many distinct genotypes (by {@link key}) a list holds, when the representation counts them faster than by keys. */
  distinct?(gs: readonly G[]): number;
}

/**
 * Scores a batch of genomes. Asynchronous because back ends are worker pools, GPUs and LLMs.
 * Returns one loss per genome, in order; non-finite values count as the worst fitness.
 */
export interface Evaluator<G> {
  evaluate(genomes: readonly G[]): Promise<ArrayLike<number>>;
  /**
   * Optional richer form of {@link evaluate}: besides the losses, an evaluator may return improved
   * genomes (Lamarckian write-back, e.g. after local optimisation of a tree's constants) and per-case
   * losses. When present the engine calls this instead of `evaluate` and replaces each genome whose
   * entry in `genomes` is defined; the loss must be the loss of the returned genome. The engine sets
   * `request.cases` when its first-parent selector needs per-case losses; the evaluator must then
   * return `cases`.
   */
  evaluateDetailed?(genomes: readonly G[], request?: EvaluationRequest): Promise<Evaluation<G>>;
  /**
   * Optional: called before generation `generation` is selected and bred (and with 0 before the
   * initial population is evaluated). An evaluator whose losses depend on the generation (a judge
   * scoring each generation on a fresh minibatch) returns true when the losses of earlier generations
   * are no longer comparable with the ones it will now compute; the engine then re-evaluates every
   * individual of the parent population before selecting from it, so that parents, elites, unvaried
   * copies and offspring all carry this generation's scores. May be called again with the same
   * generation when a run resumes from a checkpoint: the answer must depend on `generation` only.
   */
  beginGeneration?(generation: number): boolean | Promise<boolean>;
  /** Releases threads, devices or connections. Safe to call twice. */
  close?(): Promise<void>;
}

/** What the engine asks of one {@link Evaluator.evaluateDetailed} call beyond the losses. */
export interface EvaluationRequest {
  /** Per-case losses are needed (the first-parent selector is lexicase or pareto). */
  readonly cases?: boolean;
}

/** Result of {@link Evaluator.evaluateDetailed}: one loss per genome and, optionally, replacement genomes and per-case losses. */
export interface Evaluation<G> {
  readonly losses: ArrayLike<number>;
  /** `genomes[i]` replaces input genome i when defined (same length as the input when present). */
  readonly genomes?: readonly (G | undefined)[];
  /**
   * `cases[i]`: genome i's loss on each case (lower is better), the same cases in the same order for
   * every genome of a generation (same length as the input when present). Required when the request
   * asked for them; ignored otherwise.
   */
  readonly cases?: readonly ArrayLike<number>[];
}

/**
 * What the engine minimises: `error` alone (single objective), or `error-size`: NSGA-II on the
 * loss and the genome's size (Representation.size), i.e. a Pareto front of error against size.
 */
export type ObjectiveMode = 'error' | 'error-size';
export const OBJECTIVE_MODES = ['error', 'error-size'] as const satisfies readonly ObjectiveMode[];

/**
 * How the first parent is chosen: a fitness `tournament`, epsilon-`lexicase` on per-case losses,
 * or GEPA-style `pareto` selection over cases (src/core/selection.ts).
 */
export type FirstParentMode = 'tournament' | 'lexicase' | 'pareto';
export const FIRST_PARENT_MODES = ['tournament', 'lexicase', 'pareto'] as const satisfies readonly FirstParentMode[];

/** How the candidate pool of a mate chooser is drawn: uniform draws, or each candidate a fitness tournament winner. */
export type PoolDraw = 'uniform' | 'tournament';
export const POOL_DRAWS = ['uniform', 'tournament'] as const satisfies readonly PoolDraw[];

/**
 * Which pool candidate a `pimp` chooser takes: `ideal` (closest to its preference: PIMP),
 * `dissimilar` (farthest from its own genome), `assortative` (closest to its own genome).
 */
export type MateRule = 'ideal' | 'dissimilar' | 'assortative';
export const MATE_RULES = ['ideal', 'dissimilar', 'assortative'] as const satisfies readonly MateRule[];

/** How initial preferences are made: random genomes, or a copy of the individual's own genome. */
export type PreferenceInit = 'random' | 'self';
export const PREFERENCE_INITS = ['random', 'self'] as const satisfies readonly PreferenceInit[];

/** How offspring enter the population: `generational` (with elites) or `keep-best` (an offspring replaces its first parent when better). */
export type Replacement = 'generational' | 'keep-best';
export const REPLACEMENTS = ['generational', 'keep-best'] as const satisfies readonly Replacement[];

/** Why a run stopped: all generations done, target fitness reached, or a budget spent. */
export type StopReason = 'generations' | 'target' | 'evaluations' | 'seconds';

/** How the second parent is chosen. */
export type SelectionMode = 'tournament' | 'random-mate' | 'pimp';
export const SELECTION_MODES = ['tournament', 'random-mate', 'pimp'] as const satisfies readonly SelectionMode[];

/** How an offspring's preference is formed: crossover of both parents' preferences, or the chooser's alone. */
export type PreferenceInheritance = 'crossover' | 'chooser';
export const PREFERENCE_INHERITANCE = ['crossover', 'chooser'] as const satisfies readonly PreferenceInheritance[];

/**
 * A distance from a preference (ideal mate), or a chooser's own genome, to a candidate genome;
 * `bound` as in {@link Representation.distance}.
 */
export type MateDistance<G> = (preference: G, candidate: G, bound?: number) => number;
