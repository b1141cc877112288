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
  /** Size in nodes (or the genome's natural unit). */
  size(g: G): number;
  /** A canonical key: equal keys mean equal genotypes. */
  key(g: G): string;
}

/**
 * Scores a batch of genomes. Asynchronous because back ends are worker pools, GPUs and LLMs.
 * Returns one loss per genome, in order; non-finite values count as the worst fitness.
 */
export interface Evaluator<G> {
  evaluate(genomes: readonly G[]): Promise<ArrayLike<number>>;
  /**
   * Optional richer form of {@link evaluate}: besides the losses, an evaluator may return improved
   * genomes (Lamarckian write-back, e.g. after local optimisation of a tree's constants). When
   * present the engine calls this instead of `evaluate` and replaces each genome whose entry in
   * `genomes` is defined; the loss must be the loss of the returned genome.
   */
  evaluateDetailed?(genomes: readonly G[]): Promise<Evaluation<G>>;
  /** Releases threads, devices or connections. Safe to call twice. */
  close?(): Promise<void>;
}

/** Result of {@link Evaluator.evaluateDetailed}: one loss per genome and, optionally, replacement genomes. */
export interface Evaluation<G> {
  readonly losses: ArrayLike<number>;
  /** `genomes[i]` replaces input genome i when defined (same length as the input when present). */
  readonly genomes?: readonly (G | undefined)[];
}

/**
 * What the engine minimises: `error` alone (single objective), or `error-size`: NSGA-II on the
 * loss and the genome's size (Representation.size), i.e. a Pareto front of error against size.
 */
export type ObjectiveMode = 'error' | 'error-size';
export const OBJECTIVE_MODES = ['error', 'error-size'] as const satisfies readonly ObjectiveMode[];

/** How the second parent is chosen. */
export type SelectionMode = 'tournament' | 'random-mate' | 'pimp';
export const SELECTION_MODES = ['tournament', 'random-mate', 'pimp'] as const satisfies readonly SelectionMode[];

/** How an offspring's preference is formed: crossover of both parents' preferences, or the chooser's alone. */
export type PreferenceInheritance = 'crossover' | 'chooser';
export const PREFERENCE_INHERITANCE = ['crossover', 'chooser'] as const satisfies readonly PreferenceInheritance[];

/** A distance from a preference (ideal mate) to a candidate genome; `bound` as in {@link Representation.distance}. */
export type MateDistance<G> = (preference: G, candidate: G, bound?: number) => number;
