import type { Rng } from './rng.js';
import type { FirstParentMode, Individual, MateDistance, MateRule, PoolDraw, SelectionMode } from './types.js';

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

/**
 * A pool of `m` candidates, each the winner of a fitness tournament of size `k` over the population
 * without the chooser (draws with replacement; ties go to the earliest draw, as in {@link tournament}).
 */
export function tournamentPool(rng: Rng, fitness: ArrayLike<number>, chooser: number, m: number, k: number): number[] {
  const n = fitness.length;
  const draw = (): number => {
    const j = rng.int(n - 1);
    return j >= chooser ? j + 1 : j;
  };
  const pool = new Array<number>(m);
  for (let i = 0; i < m; i++) {
    let best = draw();
    for (let r = 1; r < k; r++) {
      const c = draw();
      if ((fitness[c] as number) < (fitness[best] as number)) best = c;
    }
    pool[i] = best;
  }
  return pool;
}

/** A first-parent selector prepared for one generation: each call returns a population index. */
export type ParentPicker = (rng: Rng) => number;

/**
 * Prepares the first-parent selector of one generation (DESIGN principle 2: the per-generation work,
 * such as lexicase's epsilons, is done once here). `fitness` is the selection fitness (lower is
 * better); the population's `cases` are its per-case losses, present when the mode needs them.
 */
export type FirstParentSelector<G> = (population: readonly Individual<G>[], fitness: ArrayLike<number>) => ParentPicker;

/** The first-parent selector of a mode: `tournament` of size `tournamentSize`, {@link epsilonLexicase} or {@link paretoOverCases}. */
export function firstParentSelector<G>(mode: FirstParentMode, o: { readonly tournamentSize: number }): FirstParentSelector<G> {
  switch (mode) {
    case 'tournament':
      return (_pop, fitness) => (rng) => tournament(rng, fitness, o.tournamentSize);
    case 'lexicase':
      return (pop) => epsilonLexicase(caseMatrix(pop));
    case 'pareto':
      return (pop, fitness) => paretoOverCases(caseMatrix(pop), fitness);
  }
}

/** The per-case loss vectors of a population, checked: every individual has one, all of one length >= 1. */
export function caseMatrix<G>(pop: readonly Individual<G>[]): Float64Array[] {
  const first = pop[0]?.cases;
  if (!first || first.length === 0) throw new Error('per-case selection needs per-case losses for every individual');
  return pop.map((p, i) => {
    if (!p.cases || p.cases.length !== first.length) {
      throw new Error(`individual ${i} has ${p.cases?.length ?? 'no'} per-case losses, individual 0 has ${first.length}`);
    }
    return p.cases;
  });
}

/**
 * Epsilon-lexicase selection for real-valued cases (La Cava, Spector, Danai, GECCO 2016), in its
 * semi-dynamic form (La Cava, Helmuth, Spector, Moore, Evolutionary Computation 27(3), 2019; the
 * form Spector recommends): each case's epsilon is the median absolute deviation of its losses over
 * the whole population, computed once per generation (non-finite losses left out; 0 when none is
 * finite), while the best loss a candidate is compared with is the best among the candidates still
 * in the pool.
 *
 * ```
 * eps[t] <- median_i |e[i][t] - median_j e[j][t]|           (once per generation)
 * select: S <- population; cases in a fresh uniform random order
 *   for each case t while |S| > 1: S <- { i in S : e[i][t] <= min_{j in S} e[j][t] + eps[t] }
 *   return a uniform pick from S
 * ```
 */
export function epsilonLexicase(cases: readonly Float64Array[]): ParentPicker {
  const n = cases.length;
  const nCases = (cases[0] as Float64Array).length;
  const eps = caseEpsilons(cases);
  // Reused between calls: the case order (a partial Fisher-Yates shuffle from any permutation is
  // uniform) and the candidate pool.
  const order = Int32Array.from({ length: nCases }, (_, t) => t);
  const pool = new Int32Array(n);
  return (rng) => {
    let m = n;
    for (let i = 0; i < n; i++) pool[i] = i;
    for (let k = 0; k < nCases && m > 1; k++) {
      const j = k + rng.int(nCases - k);
      const t = order[j] as number;
      order[j] = order[k] as number;
      order[k] = t;
      let best = Infinity;
      for (let i = 0; i < m; i++) best = Math.min(best, (cases[pool[i] as number] as Float64Array)[t] as number);
      const limit = best + (eps[t] as number);
      let kept = 0;
      for (let i = 0; i < m; i++) {
        const c = pool[i] as number;
        if (((cases[c] as Float64Array)[t] as number) <= limit) pool[kept++] = c;
      }
      m = kept;
    }
    return m === 1 ? (pool[0] as number) : (pool[rng.int(m)] as number);
  };
}

/**
 * Epsilon-lexicase's per-case epsilons: the median absolute deviation of each case's losses over
 * the population, leaving out non-finite losses (0 when none is finite).
 */
export function caseEpsilons(cases: readonly Float64Array[]): Float64Array {
  const n = cases.length;
  const nCases = (cases[0] as Float64Array).length;
  const eps = new Float64Array(nCases);
  const column = new Float64Array(n);
  for (let t = 0; t < nCases; t++) {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const v = (cases[i] as Float64Array)[t] as number;
      if (Number.isFinite(v)) column[m++] = v;
    }
    if (m === 0) continue;
    const med = medianOf(column, m);
    for (let i = 0; i < m; i++) column[i] = Math.abs((column[i] as number) - med);
    eps[t] = medianOf(column, m);
  }
  return eps;
}

/** The median of a[0..m) (m >= 1); reorders that part of `a` (quickselect, middle pivot: deterministic). */
export function medianOf(a: Float64Array, m: number): number {
  const h = m >> 1;
  const hi = select(a, m, h);
  return m % 2 ? hi : (select(a, h, h - 1) + hi) / 2;
}

/** The k-th smallest of a[0..m) (0-based); afterwards a[0..k) holds the values <= it. */
function select(a: Float64Array, m: number, k: number): number {
  let lo = 0;
  let hi = m - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const x = a[i] as number;
        a[i++] = a[j] as number;
        a[j--] = x;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k] as number;
}

/**
 * Pareto selection over cases, as GEPA selects the candidate to evolve (Agrawal et al., "GEPA:
 * Reflective Prompt Evolution Can Outperform Reinforcement Learning", 2025): the candidates with the
 * best loss on at least one case (exact ties all count; cases whose best loss is not finite are left
 * out); then, from the worst aggregate fitness to the best (ties: higher index first), a candidate
 * is dropped as dominated when every case it is best on has another remaining best candidate; each
 * selection draws a remaining candidate with probability proportional to the number of cases it is
 * best on. With no such case at all, the candidate of lowest fitness (the earliest on ties).
 */
export function paretoOverCases(cases: readonly Float64Array[], fitness: ArrayLike<number>): ParentPicker {
  const n = cases.length;
  const nCases = (cases[0] as Float64Array).length;
  const bestOn: number[][] = cases.map(() => []);
  const frontSize = new Int32Array(nCases);
  for (let t = 0; t < nCases; t++) {
    let best = Infinity;
    for (let i = 0; i < n; i++) best = Math.min(best, (cases[i] as Float64Array)[t] as number);
    if (!Number.isFinite(best)) continue;
    for (let i = 0; i < n; i++) {
      if ((cases[i] as Float64Array)[t] === best) {
        (bestOn[i] as number[]).push(t);
        frontSize[t]!++;
      }
    }
  }
  const front = bestOn.map((c, i) => (c.length ? i : -1)).filter((i) => i >= 0);
  // worst first: a candidate kept once stays kept, as the front sizes only shrink (one pass suffices)
  const worstFirst = [...front].sort((i, j) => (fitness[j] as number) - (fitness[i] as number) || j - i);
  const kept = new Uint8Array(n);
  for (const i of front) kept[i] = 1;
  for (const i of worstFirst) {
    const mine = bestOn[i] as number[];
    if (mine.every((t) => (frontSize[t] as number) >= 2)) {
      kept[i] = 0;
      for (const t of mine) frontSize[t]!--;
    }
  }
  const members = front.filter((i) => kept[i]);
  const cumulative = new Float64Array(members.length);
  let total = 0;
  members.forEach((i, k) => (cumulative[k] = total += (bestOn[i] as number[]).length));
  if (total === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if ((fitness[i] as number) < (fitness[best] as number)) best = i;
    return () => best;
  }
  return (rng) => {
    const r = rng.int(total);
    let lo = 0;
    let hi = members.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) > r) hi = mid;
      else lo = mid + 1;
    }
    return members[lo] as number;
  };
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
  /** A lower bound of `distance` (a representation's `distanceLowerBound`); absent when there is none. */
  readonly lowerBound?: (target: G, candidate: G) => number;
  /** How pools are drawn (default `uniform`). */
  readonly poolDraw?: PoolDraw;
  /** The rule of `pimp` (default `ideal`). */
  readonly mateRule?: MateRule;
}

/**
 * The mate chooser of a selection mode.
 * - `tournament`: an independent fitness tournament.
 * - `random-mate`: a uniform pick from a pool of candidates (preferences are carried but unused).
 * - `pimp` (Simões, Lourenço, Machado, EuroGP 2023): from a pool of candidates, the one whose genome
 *   is closest to the first parent's preference (its ideal mate); ties go to the earliest candidate.
 *   With `mateRule` `assortative` the candidate closest to the chooser's own genome, with
 *   `dissimilar` the farthest from it (no preferences needed).
 *
 * The pool: `m` uniform draws from the population without the chooser, or (`poolDraw: 'tournament'`)
 * `m` fitness tournament winners from it.
 *
 * ```
 * pool <- m draws from the population without the chooser
 * mate <- argmin_{c in pool} distance(chooser.preference, c.genome)        (ideal)
 * ```
 */
export function mateChooser<G>(mode: SelectionMode, o: MateChooserOptions<G>): MateChooser<G> {
  const drawPool =
    (o.poolDraw ?? 'uniform') === 'uniform'
      ? (rng: Rng, n: number, _fitness: ArrayLike<number>, first: number) => candidatePool(rng, n, first, o.poolSize)
      : (rng: Rng, _n: number, fitness: ArrayLike<number>, first: number) =>
          tournamentPool(rng, fitness, first, o.poolSize, o.tournamentSize);
  const rule = o.mateRule ?? 'ideal';
  switch (mode) {
    case 'tournament':
      return (rng, _pop, fitness) => ({ index: tournament(rng, fitness, o.tournamentSize) });
    case 'random-mate':
      return (rng, pop, fitness, first) => {
        const pool = drawPool(rng, pop.length, fitness, first);
        return { index: pool[rng.int(pool.length)] as number };
      };
    case 'pimp': {
      const closest = closestCandidate(o.distance, o.lowerBound, o.poolSize);
      return (rng, pop, fitness, first) => {
        const pool = drawPool(rng, pop.length, fitness, first);
        const chooser = pop[first] as Individual<G>;
        const target = rule === 'ideal' ? chooser.preference : chooser.genome;
        if (target === undefined) throw new Error('pimp mate choice needs individuals with preferences');
        if (rule !== 'dissimilar') return closest(pop, target, pool);
        // dissimilar maximises the distance: minimise its negation, ties to the earliest candidate alike
        let best = pool[0] as number;
        let bestD = Infinity;
        for (const c of pool) {
          const d = -o.distance(target, (pop[c] as Individual<G>).genome);
          if (d < bestD) {
            bestD = d;
            best = c;
          }
        }
        return { index: best, distance: -bestD };
      };
    }
  }
}

/**
 * The pool member whose genome is closest to a target (ties to the earliest in the pool), and its
 * distance; pool[0] with distance Infinity when no distance is below Infinity. Each candidate is
 * measured with the best distance so far as its bound (a farther candidate cannot win, so its
 * distance need not be exact). With a lower bound of the distance, candidates are measured in
 * increasing order of their lower bounds (ties in pool order), and the search stops at the first
 * lower bound beyond the best distance: a close candidate found first cuts the others' work short.
 * The choice and the distance are the same in either order (exact distances, ties by pool position).
 */
function closestCandidate<G>(
  distance: MateDistance<G>,
  lowerBound: ((target: G, candidate: G) => number) | undefined,
  poolSize: number,
): (pop: readonly Individual<G>[], target: G, pool: readonly number[]) => MateChoice {
  const lower = new Float64Array(poolSize);
  const order = new Int32Array(poolSize);
  return (pop, target, pool) => {
    const m = pool.length;
    for (let k = 0; k < m; k++) {
      const lb = lowerBound ? lowerBound(target, (pop[pool[k] as number] as Individual<G>).genome) : 0;
      // insertion by lower bound; equal bounds keep pool order
      let at = k;
      while (at > 0 && (lower[at - 1] as number) > lb) {
        lower[at] = lower[at - 1] as number;
        order[at] = order[at - 1] as number;
        at--;
      }
      lower[at] = lb;
      order[at] = k;
    }
    let bestK = 0;
    let bestD = Infinity;
    for (let s = 0; s < m && (lower[s] as number) <= bestD; s++) {
      const k = order[s] as number;
      const d = distance(target, (pop[pool[k] as number] as Individual<G>).genome, bestD);
      if (d < bestD || (d === bestD && k < bestK)) {
        bestD = d;
        bestK = k;
      }
    }
    return { index: pool[bestK] as number, distance: bestD };
  };
}
