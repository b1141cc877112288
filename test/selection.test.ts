import { describe, expect, it } from 'vitest';
import { eliteIndices, evolve, type EvolutionState } from '../src/core/evolve.js';
import { Rng } from '../src/core/rng.js';
import { candidatePool, mateChooser, tournament } from '../src/core/selection.js';
import type { Individual } from '../src/core/types.js';
import { ReferenceEvaluator } from '../src/eval/reference.js';
import { sizeLowerBound, topDownDistance } from '../src/tree/distance.js';
import { parseInfix } from '../src/tree/parse.js';
import { treeRepresentation } from '../src/tree/representation.js';
import { treeKey, type Tree } from '../src/tree/tree.js';
import { benchmarkTask } from '../problems/benchmarks.js';

describe('elites', () => {
  it('are the e lowest fitness values, ties and infinities in population order', () => {
    const rng = new Rng(11);
    for (let round = 0; round < 200; round++) {
      const n = 1 + rng.int(40);
      const fitness = Array.from({ length: n }, () => (rng.chance(0.2) ? Infinity : rng.int(6)));
      const sorted = fitness.map((_, i) => i).sort((i, j) => fitness[i]! - fitness[j]! || i - j);
      for (const e of [0, 1, 2, 5, n, 20]) expect(eliteIndices(fitness, e)).toEqual(sorted.slice(0, e));
    }
  });
});

describe('tournament selection', () => {
  it('has the analytic rank bias (chi-square test, fixed seed)', () => {
    const n = 10;
    const k = 3;
    const fitness = Array.from({ length: n }, (_, i) => i); // index = rank, 0 best
    const rng = new Rng(2023);
    const draws = 100_000;
    const counts = new Array<number>(n).fill(0);
    for (let i = 0; i < draws; i++) counts[tournament(rng, fitness, k)]!++;
    // P(rank r wins) = ((n - r)^k - (n - r - 1)^k) / n^k for k draws with replacement.
    let chi2 = 0;
    for (let r = 0; r < n; r++) {
      const expected = (((n - r) ** k - (n - r - 1) ** k) / n ** k) * draws;
      chi2 += (counts[r]! - expected) ** 2 / expected;
    }
    expect(chi2).toBeLessThan(27.88); // chi-square(9) at p = 0.001
    expect(counts[0]!).toBeGreaterThan(20 * counts[n - 1]!);
  });

  it('with k = 1 is uniform', () => {
    const rng = new Rng(1);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 50_000; i++) counts[tournament(rng, [0, 1, 2, 3, 4], 1)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(450);
  });
});

describe('mate choice', () => {
  const names = ['x'];
  const t = (s: string) => parseInfix(s, names);
  const pop: Individual<Tree>[] = [
    { genome: t('x'), preference: t('sin(x) * x'), fitness: 0 },
    { genome: t('x + 1'), preference: t('x'), fitness: 1 },
    { genome: t('sin(x) * x'), preference: t('x'), fitness: 2 },
    { genome: t('cos(x) - x'), preference: t('x'), fitness: 3 },
    { genome: t('sin(x) * (x + 1)'), preference: t('x'), fitness: 4 },
  ];
  const fitness = pop.map((p) => p.fitness!);

  it('pimp picks the candidate nearest to the chooser preference', () => {
    const choose = mateChooser<Tree>('pimp', { tournamentSize: 2, poolSize: 4, distance: topDownDistance });
    for (let seed = 0; seed < 200; seed++) {
      const pool = candidatePool(new Rng(seed), pop.length, 0, 4);
      const ds = pool.map((c) => topDownDistance(pop[0]!.preference!, pop[c]!.genome));
      const expected = pool[ds.indexOf(Math.min(...ds))];
      const got = choose(new Rng(seed), pop, fitness, 0);
      expect(got.index).toBe(expected);
      expect(got.distance).toBe(Math.min(...ds));
    }
    // With a large pool the exact ideal (individual 2) is essentially always present and always chosen.
    const big = mateChooser<Tree>('pimp', { tournamentSize: 2, poolSize: 40, distance: topDownDistance });
    expect(big(new Rng(3), pop, fitness, 0)).toEqual({ index: 2, distance: 0 });
  });

  it('pimp with a lower bound of the distance picks the same mate at the same distance', () => {
    const rep = treeRepresentation(['x', 'y'], { functions: ['add', 'sub', 'mul', 'div'], maxSize: 30 });
    const rng = new Rng('lower bound');
    const base = Array.from({ length: 40 }, (_, i) => rep.random(rng, i, 40));
    // repeated genomes make ties, which go to the earliest pool member either way
    const many: Individual<Tree>[] = Array.from({ length: 120 }, (_, i) => ({
      genome: base[i % 40]!,
      preference: base[(7 * i) % 40]!,
      fitness: i,
    }));
    const f = many.map((p) => p.fitness!);
    for (const rule of ['ideal', 'assortative'] as const) {
      const plain = mateChooser<Tree>('pimp', { tournamentSize: 2, poolSize: 8, distance: topDownDistance, mateRule: rule });
      const bounded = mateChooser<Tree>('pimp', {
        tournamentSize: 2,
        poolSize: 8,
        distance: topDownDistance,
        lowerBound: sizeLowerBound,
        mateRule: rule,
      });
      for (let seed = 0; seed < 300; seed++) {
        expect(bounded(new Rng(seed), many, f, seed % 120)).toEqual(plain(new Rng(seed), many, f, seed % 120));
      }
    }
  });

  it('candidate pools never contain the chooser', () => {
    const rng = new Rng(4);
    for (let i = 0; i < 1000; i++) expect(candidatePool(rng, 5, 2, 4)).not.toContain(2);
  });

  it('random-mate picks uniformly among the others, ignoring preferences', () => {
    const choose = mateChooser<Tree>('random-mate', { tournamentSize: 2, poolSize: 3, distance: () => 0 });
    const rng = new Rng(8);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 40_000; i++) counts[choose(rng, pop, fitness, 0).index]!++;
    expect(counts[0]).toBe(0);
    for (const c of counts.slice(1)) expect(Math.abs(c - 10_000)).toBeLessThan(450);
  });
});

describe('preferences are inherited and varied like genes', () => {
  const task = benchmarkTask('koza-1', 1);
  async function firstTwoGenerations(options: Record<string, unknown>) {
    const rep = treeRepresentation(task.train.names, { mutation: 'subtree' });
    const snaps: EvolutionState<Tree>[] = [];
    await evolve(
      rep,
      new ReferenceEvaluator(task.train),
      { seed: 7, populationSize: 60, generations: 1, elites: 0, ...options },
      {
        onGeneration: (_s, state) => {
          snaps.push({ ...state, population: [...state.population] });
        },
      },
    );
    return snaps;
  }
  const pairs = (s: EvolutionState<Tree>) => s.population.map((p) => `${treeKey(p.genome)}|${treeKey(p.preference!)}`);

  it('without variation, a child carries its chooser genome and preference together', async () => {
    const [g0, g1] = await firstTwoGenerations({ selection: 'pimp', crossoverRate: 0, mutationRate: 0 });
    const parents = new Set(pairs(g0!));
    for (const p of pairs(g1!)) expect(parents.has(p)).toBe(true);
  });

  it('mutation changes preferences', async () => {
    const [g0, g1] = await firstTwoGenerations({ selection: 'pimp', crossoverRate: 0, mutationRate: 1 });
    const parentPrefs = new Set(g0!.population.map((p) => treeKey(p.preference!)));
    const fresh = g1!.population.filter((p) => !parentPrefs.has(treeKey(p.preference!))).length;
    expect(fresh / g1!.population.length).toBeGreaterThan(0.5);
  });

  it('preference crossover mixes both parents; "chooser" inheritance does not', async () => {
    const [g0, g1] = await firstTwoGenerations({ selection: 'random-mate', crossoverRate: 1, mutationRate: 0 });
    const parentPrefs = new Set(g0!.population.map((p) => treeKey(p.preference!)));
    const fresh = g1!.population.filter((p) => !parentPrefs.has(treeKey(p.preference!))).length;
    expect(fresh).toBeGreaterThan(10);
    const [h0, h1] = await firstTwoGenerations({
      selection: 'random-mate',
      crossoverRate: 1,
      mutationRate: 0,
      preferenceInheritance: 'chooser',
    });
    const prefs = new Set(h0!.population.map((p) => treeKey(p.preference!)));
    for (const p of h1!.population) expect(prefs.has(treeKey(p.preference!))).toBe(true);
  });

  it('tournament mode carries no preferences', async () => {
    const [g0, g1] = await firstTwoGenerations({ selection: 'tournament' });
    for (const p of [...g0!.population, ...g1!.population]) expect(p.preference).toBeUndefined();
  });
});

describe('the generational loop', () => {
  const task = benchmarkTask('nguyen-1', 3);
  const run = (o: Record<string, unknown>) =>
    evolve(treeRepresentation(task.train.names), new ReferenceEvaluator(task.train), {
      seed: 11,
      populationSize: 80,
      generations: 8,
      ...o,
    });

  it('is deterministic for a seed in every selection mode', async () => {
    for (const selection of ['tournament', 'random-mate', 'pimp'] as const) {
      const a = await run({ selection });
      const b = await run({ selection });
      expect(JSON.stringify(a.history)).toBe(JSON.stringify(b.history));
      expect(treeKey(a.best.genome)).toBe(treeKey(b.best.genome));
    }
  });

  it('keeps the best with elitism (best fitness never rises)', async () => {
    const r = await run({ selection: 'pimp', elites: 1 });
    for (let g = 1; g < r.history.length; g++) {
      expect(r.history[g]!.bestFitness).toBeLessThanOrEqual(r.history[g - 1]!.bestFitness);
    }
  });

  it('evaluates only individuals whose fitness is unknown', async () => {
    const rep = treeRepresentation(task.train.names);
    const inner = new ReferenceEvaluator(task.train);
    let evaluated = 0;
    const r = await evolve(
      rep,
      { evaluate: (g) => ((evaluated += g.length), inner.evaluate(g)) },
      {
        seed: 2,
        populationSize: 50,
        generations: 5,
        crossoverRate: 0.5,
        mutationRate: 0.1,
        elites: 2,
      },
    );
    expect(evaluated).toBe(r.evaluations);
    expect(evaluated).toBeLessThan(50 * 6 - 5 * 2); // elites and unvaried copies are not re-evaluated
  });

  it('stores failed evaluations as the worst fitness', async () => {
    const rep = treeRepresentation(task.train.names);
    const r = await evolve(
      rep,
      { evaluate: async (g) => g.map((_, i) => (i % 3 === 0 ? NaN : i % 3 === 1 ? -Infinity : 1)) },
      {
        seed: 1,
        populationSize: 30,
        generations: 1,
      },
    );
    for (const p of r.population) expect([1, Infinity]).toContain(p.fitness);
    expect(r.history[0]!.invalidShare).toBeCloseTo(2 / 3, 5);
  });

  it('validates options with messages naming the option', async () => {
    await expect(run({ populationSize: 1 })).rejects.toThrow(/option populationSize/);
    await expect(run({ tournamentSize: 500 })).rejects.toThrow(/option tournamentSize/);
    await expect(run({ mutationRate: -0.1 })).rejects.toThrow(/option mutationRate/);
    await expect(run({ selection: 'roulette' })).rejects.toThrow(/option selection/);
  });
});
