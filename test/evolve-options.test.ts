import { describe, expect, it } from 'vitest';
import { evolve, type EvolutionState } from '../src/core/evolve.js';
import { resolveEvolutionOptions, type EvolutionOptions } from '../src/core/options.js';
import { Rng } from '../src/core/rng.js';
import { candidatePool, mateChooser, tournamentPool } from '../src/core/selection.js';
import type { Evaluation, Evaluator, Individual } from '../src/core/types.js';
import { ReferenceEvaluator } from '../src/eval/reference.js';
import { ScoringEvaluator } from '../src/sr/scoring.js';
import { topDownDistance } from '../src/tree/distance.js';
import { parseInfix } from '../src/tree/parse.js';
import { treeRepresentation } from '../src/tree/representation.js';
import { treeKey, type Tree } from '../src/tree/tree.js';
import { benchmarkTask } from '../problems/benchmarks.js';

const task = benchmarkTask('nguyen-1', 3);
const rep = () => treeRepresentation(task.train.names);
type Opts = Partial<EvolutionOptions>;

/** Runs the engine and keeps a copy of every generation's population. */
async function generations(options: Opts, evaluator: Evaluator<Tree> = new ReferenceEvaluator(task.train)) {
  const states: EvolutionState<Tree>[] = [];
  const result = await evolve(
    rep(),
    evaluator,
    { seed: 4, populationSize: 40, generations: 6, ...options },
    { onGeneration: (_s, state) => void states.push({ ...state, population: [...state.population] }) },
  );
  return { result, states };
}

describe('engine options: validation', () => {
  it('leaves the new choices out of the resolved options at their defaults (result files and cell hashes unchanged)', () => {
    const plain = resolveEvolutionOptions({});
    for (const k of ['firstParent', 'poolDraw', 'mateRule', 'preferenceInit', 'replacement', 'maxEvaluations', 'maxSeconds']) {
      expect(k in plain).toBe(false);
    }
    const explicit = resolveEvolutionOptions({
      firstParent: 'tournament',
      poolDraw: 'uniform',
      mateRule: 'ideal',
      preferenceInit: 'random',
      replacement: 'generational',
    });
    expect(JSON.stringify(explicit)).toBe(JSON.stringify(plain));
    expect(resolveEvolutionOptions({ firstParent: 'lexicase', maxEvaluations: 600 })).toMatchObject({
      firstParent: 'lexicase',
      maxEvaluations: 600,
    });
  });

  it.each([
    [{ firstParent: 'roulette' }, /option firstParent: expected one of tournament, lexicase, pareto, got roulette/],
    [{ poolDraw: 'best' }, /option poolDraw: expected one of uniform, tournament/],
    [{ mateRule: 'closest' }, /option mateRule: expected one of ideal, dissimilar, assortative/],
    [{ preferenceInit: 'zero' }, /option preferenceInit: expected one of random, self/],
    [{ replacement: 'steady' }, /option replacement: expected one of generational, keep-best/],
    [
      { firstParent: 'lexicase', objectives: 'error-size' },
      /option firstParent: lexicase selects on per-case losses; objectives error-size/,
    ],
    [{ replacement: 'keep-best', objectives: 'error-size' }, /option replacement: keep-best applies to objectives error/],
    [{ selection: 'tournament', poolDraw: 'tournament' }, /option poolDraw: .*selection tournament has no pool/],
    [{ selection: 'random-mate', mateRule: 'dissimilar' }, /option mateRule: dissimilar .* selection pimp; selection random-mate/],
    [
      { selection: 'tournament', preferenceInit: 'self' },
      /option preferenceInit: self makes preferences, which selection tournament does not use/,
    ],
    [{ mateRule: 'assortative', preferenceInit: 'self' }, /option preferenceInit: .*mateRule assortative does not use/],
    [{ mateRule: 'dissimilar', preferenceInheritance: 'chooser' }, /option preferenceInheritance: chooser .*mateRule dissimilar/],
    [
      { populationSize: 50, maxEvaluations: 49 },
      /option maxEvaluations: expected an integer at least the population size \(50: the initial population's evaluations\), got 49/,
    ],
    [{ maxEvaluations: 600.5 }, /option maxEvaluations/],
    [{ maxSeconds: 0 }, /option maxSeconds: expected a number of seconds > 0, got 0/],
    [{ maxSeconds: Infinity }, /option maxSeconds/],
  ])('refuses %j', (o, message) => {
    expect(() => resolveEvolutionOptions(o as Opts)).toThrow(message);
  });

  it('refuses per-case selection with an evaluator that cannot return per-case losses, or that returns none', async () => {
    await expect(generations({ firstParent: 'lexicase' })).rejects.toThrow(
      /option firstParent: lexicase selects on per-case losses, and this evaluator/,
    );
    const noCases: Evaluator<Tree> = {
      evaluate: async (g) => g.map(() => 1),
      evaluateDetailed: async (g) => ({ losses: g.map(() => 1) }),
    };
    await expect(generations({ firstParent: 'pareto' }, noCases)).rejects.toThrow(
      /option firstParent: pareto needs per-case losses; the evaluator returned none/,
    );
  });
});

describe('candidate pools and mate rules', () => {
  it('tournament-drawn pools hold fitter candidates than uniform ones, never the chooser, with the analytic bias', () => {
    const n = 20;
    const k = 3;
    const fitness = Array.from({ length: n }, (_, i) => i);
    const rng = new Rng(6);
    let uniform = 0;
    let drawn = 0;
    let self = 0;
    const pools = 20_000;
    for (let i = 0; i < pools; i++) {
      const chooser = i % n;
      const t = tournamentPool(rng, fitness, chooser, 4, k);
      if (t.includes(chooser)) self++;
      drawn += t.reduce((s, c) => s + fitness[c]!, 0) / 4;
      uniform += candidatePool(rng, n, chooser, 4).reduce((s, c) => s + fitness[c]!, 0) / 4;
    }
    // a tournament of k draws from the m = n - 1 others: rank j (0 best) wins with ((m-j)^k - (m-j-1)^k) / m^k
    const m = n - 1;
    let expected = 0;
    for (let chooser = 0; chooser < n; chooser++) {
      const others = fitness.filter((_, i) => i !== chooser);
      others.forEach((f, j) => (expected += (f * ((m - j) ** k - (m - j - 1) ** k)) / m ** k / n));
    }
    expect(self).toBe(0);
    expect(drawn / pools).toBeCloseTo(expected, 1);
    expect(uniform / pools).toBeCloseTo(9.5, 1);
    expect(drawn / pools).toBeLessThan(0.6 * (uniform / pools));
  });

  const names = ['x'];
  const t = (s: string) => parseInfix(s, names);
  const pop: Individual<Tree>[] = [
    { genome: t('x + 1'), fitness: 0 },
    { genome: t('x'), fitness: 1 },
    { genome: t('sin(x) * x'), fitness: 2 },
    { genome: t('x + 2'), fitness: 3 },
    { genome: t('sin(x) * (x + 1) - cos(x)'), fitness: 4 },
  ];
  const fitness = pop.map((p) => p.fitness!);

  it.each([
    ['dissimilar', (ds: number[]) => Math.max(...ds)],
    ['assortative', (ds: number[]) => Math.min(...ds)],
  ] as const)('%s picks the candidate %s from the chooser\u2019s own genome', (rule, best) => {
    const choose = mateChooser<Tree>('pimp', { tournamentSize: 2, poolSize: 3, distance: topDownDistance, mateRule: rule });
    for (let seed = 0; seed < 200; seed++) {
      const pool = candidatePool(new Rng(seed), pop.length, 0, 3);
      const ds = pool.map((c) => topDownDistance(pop[0]!.genome, pop[c]!.genome));
      const got = choose(new Rng(seed), pop, fitness, 0);
      expect(got.index).toBe(pool[ds.indexOf(best(ds))]);
      expect(got.distance).toBe(best(ds));
    }
  });

  it('dissimilar and assortative runs carry no preferences', async () => {
    for (const mateRule of ['dissimilar', 'assortative'] as const) {
      const { result, states } = await generations({ selection: 'pimp', mateRule });
      for (const s of states) for (const p of s.population) expect(p.preference).toBeUndefined();
      expect(result.history.every((h) => h.preference === undefined)).toBe(true);
    }
  });

  it('self-initialised preferences equal the genome at generation 0; random ones mostly do not', async () => {
    const self = await generations({ selection: 'pimp', preferenceInit: 'self', generations: 1 });
    for (const p of self.states[0]!.population) expect(treeKey(p.preference!)).toBe(treeKey(p.genome));
    const random = await generations({ selection: 'pimp', generations: 1 });
    const same = random.states[0]!.population.filter((p) => treeKey(p.preference!) === treeKey(p.genome)).length;
    expect(same).toBeLessThan(10);
    // and they evolve from there under random-mate too
    const rm = await generations({ selection: 'random-mate', preferenceInit: 'self', generations: 1 });
    for (const p of rm.states[0]!.population) expect(treeKey(p.preference!)).toBe(treeKey(p.genome));
  });
});

describe('keep-best replacement', () => {
  it.each(['tournament', 'random-mate', 'pimp'] as const)('never lets a slot get worse (%s)', async (selection) => {
    const { result, states } = await generations({ selection, replacement: 'keep-best', generations: 10 });
    let replaced = 0;
    for (let g = 1; g < states.length; g++) {
      states[g]!.population.forEach((p, i) => {
        const before = states[g - 1]!.population[i]!;
        expect(p.fitness!).toBeLessThanOrEqual(before.fitness!);
        if (p !== before) {
          replaced++;
          expect(p.fitness!).toBeLessThan(before.fitness!); // only a strictly better child takes a slot
        }
      });
    }
    expect(replaced).toBeGreaterThan(20);
    expect(result.stopReason).toBe('generations');
  });

  it('breeds a full population each generation (no elites) and is deterministic', async () => {
    const counted: number[] = [];
    const inner = new ReferenceEvaluator(task.train);
    const ev: Evaluator<Tree> = { evaluate: (g) => (counted.push(g.length), inner.evaluate(g)) };
    const a = await generations({ replacement: 'keep-best', crossoverRate: 1 }, ev);
    expect(counted.slice(1)).toEqual(new Array(6).fill(40)); // crossover always: every child is evaluated
    const b = await generations({ replacement: 'keep-best', crossoverRate: 1 });
    expect(JSON.stringify(b.result.history)).toBe(JSON.stringify(a.result.history));
  });
});

describe('budgets and stop reasons', () => {
  it('maxEvaluations stops before the generation that could exceed it, never past it', async () => {
    for (const [max, elites] of [
      [200, 1],
      [139, 0],
      [40, 1],
    ] as const) {
      const { result } = await generations({ maxEvaluations: max, elites, generations: 50, crossoverRate: 0.5 });
      expect(result.stopReason).toBe('evaluations');
      expect(result.evaluations).toBeLessThanOrEqual(max);
      expect(result.evaluations + 40 - elites).toBeGreaterThan(max);
    }
    const enough = await generations({ maxEvaluations: 40 * 7 });
    expect(enough.result.stopReason).toBe('generations');
    expect(enough.result.generations).toBe(6);
  });

  it('maxSeconds stops when the time so far plus the previous generation would pass it (a fake clock)', async () => {
    let clock = 0;
    const inner = new ReferenceEvaluator(task.train);
    const slow: Evaluator<Tree> = { evaluate: (g) => ((clock += 100), inner.evaluate(g)) };
    const r = await evolve(rep(), slow, { seed: 1, populationSize: 30, generations: 100, maxSeconds: 1 }, { now: () => clock });
    // 100 ms per generation: after generation 9 the clock reads 1000 and 1000 + 100 > 1000
    expect(r.stopReason).toBe('seconds');
    expect(r.generations).toBe(9);
    expect(r.stoppedEarly).toBe(true);
  });

  it('reports the target before the generation count', async () => {
    const r = await evolve(rep(), new ReferenceEvaluator(task.train), { seed: 1, populationSize: 30, generations: 3, stopFitness: 1e9 });
    expect(r.stopReason).toBe('target');
    expect(r.generations).toBe(0);
    const all = await evolve(rep(), new ReferenceEvaluator(task.train), { seed: 1, populationSize: 30, generations: 3 });
    expect([all.stopReason, all.stoppedEarly]).toEqual(['generations', false]);
  });
});

/**
 * A judge-like evaluator: its loss of a genome depends on the generation's "minibatch" (an offset of
 * 1000 per generation), so losses of different generations are not comparable.
 */
class MinibatchEvaluator implements Evaluator<Tree> {
  generation = 0;
  readonly calls: { generation: number; count: number }[] = [];
  private readonly inner = new ReferenceEvaluator(task.train);
  constructor(private readonly stale: boolean) {}
  beginGeneration(g: number): boolean {
    this.generation = g;
    return this.stale;
  }
  async evaluate(genomes: readonly Tree[]): Promise<Float64Array> {
    this.calls.push({ generation: this.generation, count: genomes.length });
    const base = await this.inner.evaluate(genomes);
    return base.map((v) => Math.min(v, 999) + 1000 * this.generation);
  }
}

describe('generation-dependent evaluators (beginGeneration)', () => {
  it('re-evaluates every parent when earlier losses are stale: elites and copies carry this generation\u2019s scores', async () => {
    const ev = new MinibatchEvaluator(true);
    const { result, states } = await generations({ elites: 3, crossoverRate: 0.5, mutationRate: 0.1 }, ev);
    for (const s of states) {
      for (const p of s.population) expect(Math.floor(p.fitness! / 1000)).toBe(s.generation);
    }
    // generation g: one call re-scoring all 40 parents, then one for the varied children
    for (let g = 1; g <= 6; g++) {
      const calls = ev.calls.filter((c) => c.generation === g);
      expect(calls[0]!.count).toBe(40);
      expect(calls.length).toBe(2);
    }
    expect(result.evaluations).toBe(ev.calls.reduce((s, c) => s + c.count, 0));
    expect(result.history.slice(1).every((h) => h.reevaluated === 40)).toBe(true);
    expect(result.history[0]!.reevaluated).toBeUndefined();
    expect(Math.floor(result.best.fitness! / 1000)).toBe(6); // the best on the last generation's items
  });

  it('re-evaluates nothing when the evaluator says earlier losses still hold', async () => {
    const ev = new MinibatchEvaluator(false);
    const { result } = await generations({}, ev);
    expect(result.history.every((h) => h.reevaluated === undefined)).toBe(true);
    expect(ev.calls.slice(1).every((c) => c.count < 40)).toBe(true);
  });

  it('counts the re-evaluations against maxEvaluations', async () => {
    const ev = new MinibatchEvaluator(true);
    const { result } = await generations({ maxEvaluations: 40 + 2 * 79 + 78, elites: 1, crossoverRate: 1 }, ev);
    // generation 0: 40; each later one at most 40 parents + 39 children
    expect(result.generations).toBe(2);
    expect(result.stopReason).toBe('evaluations');
  });
});

describe('per-case losses in the engine', () => {
  const scorer = () => new ScoringEvaluator(task.train, { fitness: 'rmse', cases: true });

  it.each(['tournament', 'random-mate', 'pimp'] as const)(
    'lexicase and pareto run with %s mate choice, deterministically',
    async (selection) => {
      for (const firstParent of ['lexicase', 'pareto'] as const) {
        const a = await generations({ selection, firstParent }, scorer());
        const b = await generations({ selection, firstParent }, scorer());
        expect(JSON.stringify(a.result.history)).toBe(JSON.stringify(b.result.history));
        for (const s of a.states) {
          for (const p of s.population) expect(p.cases?.length).toBe(task.train.rows);
        }
      }
    },
  );

  it('keeps no per-case losses when the selector does not need them', async () => {
    const { states } = await generations({}, scorer());
    for (const p of states[3]!.population) expect(p.cases).toBeUndefined();
  });

  it('copies share their parent\u2019s per-case losses, and the request asks for them', async () => {
    const requests: unknown[] = [];
    const inner = scorer();
    const ev: Evaluator<Tree> = {
      evaluate: (g) => inner.evaluate(g),
      evaluateDetailed: (g, request): Promise<Evaluation<Tree>> => (requests.push(request), inner.evaluateDetailed(g)),
    };
    const { states } = await generations({ firstParent: 'lexicase', crossoverRate: 0, mutationRate: 0.2 }, ev);
    expect(requests.every((r) => JSON.stringify(r) === '{"cases":true}')).toBe(true);
    const before = new Set(states[2]!.population.map((p) => p.cases));
    const shared = states[3]!.population.filter((p) => before.has(p.cases)).length;
    expect(shared).toBeGreaterThan(20);
  });
});
