import type { Rng } from './rng.js';
import type { Individual, MateDistance, SelectionMode } from './types.js';

/**
 * Tournament selection on fitness (lower is better): `k` uniform draws with replacement, the best
 * wins; ties go to the earliest draw. Returns an index into `fitness`.
 */
export function tournament(rng: Rng, fitness: ArrayLike<number>, k: number): number {
  let best = rng.int(fitness.length);
  for (let i = 1; i < k; i++) {
    const c = rng.int(fitness.length);
    if ((fitness[c] as number) < (fitness[best] as number)) best = c;
  }
  return best;
}

/**
 * A pool of `m` candidate indices drawn uniformly with replacement from the population, never the
 * chooser itself (an individual does not mate with itself).
 */
export function candidatePool(rng: Rng, n: number, chooser: number, m: number): number[] {
  const pool = new Array<number>(m);
  for (let i = 0; i < m; i++) {
    const j = rng.int(n - 1);
    pool[i] = j >= chooser ? j + 1 : j;
  }
  return pool;
}

/** The mate picked for a first parent, with the preference distance when one was used. */
export interface MateChoice {
  readonly index: number;
  readonly distance?: number;
}

/** Second-parent selector: may look at the first parent (Operon's female/male selector split). */
export type MateChooser<G> = (rng: Rng, population: readonly Individual<G>[], fitness: ArrayLike<number>, first: number) => MateChoice;

export interface MateChooserOptions<G> {
  readonly tournamentSize: number;
  readonly poolSize: number;
  readonly distance: MateDistance<G>;
}

/**
 * The mate chooser of a selection mode.
 * - `tournament`: an independent fitness tournament.
 * - `random-mate`: a uniform pick from a pool of candidates (preferences are carried but unused).
 * - `pimp` (Simões, Lourenço, Machado, EuroGP 2023): from a pool of candidates, the one whose genome
 *   is closest to the first parent's preference (its ideal mate); ties go to the earliest candidate.
 *
 * ```
 * pool <- m uniform draws from the population without the chooser
 * mate <- argmin_{c in pool} distance(chooser.preference, c.genome)
 * ```
 */
export function mateChooser<G>(mode: SelectionMode, o: MateChooserOptions<G>): MateChooser<G> {
  switch (mode) {
    case 'tournament':
      return (rng, _pop, fitness) => ({ index: tournament(rng, fitness, o.tournamentSize) });
    case 'random-mate':
      return (rng, pop, _fitness, first) => {
        const pool = candidatePool(rng, pop.length, first, o.poolSize);
        return { index: pool[rng.int(pool.length)] as number };
      };
    case 'pimp':
      return (rng, pop, _fitness, first) => {
        const pool = candidatePool(rng, pop.length, first, o.poolSize);
        const preference = (pop[first] as Individual<G>).preference;
        if (preference === undefined) throw new Error('pimp mate choice needs individuals with preferences');
        let best = pool[0] as number;
        let bestD = Infinity;
        for (const c of pool) {
          // the best distance so far bounds the exact work: a farther candidate cannot win
          const d = o.distance(preference, (pop[c] as Individual<G>).genome, bestD);
          if (d < bestD) {
            bestD = d;
            best = c;
          }
        }
        return { index: best, distance: bestD };
      };
  }
}
