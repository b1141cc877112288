import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.js';
import { caseEpsilons, epsilonLexicase, firstParentSelector, medianOf, paretoOverCases, tournament } from '../src/core/selection.js';

const rows = (...vs: number[][]) => vs.map((v) => Float64Array.from(v));

function histogram(pick: (rng: Rng) => number, n: number, draws: number, seed = 1): number[] {
  const rng = new Rng(seed);
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < draws; i++) counts[pick(rng)]!++;
  return counts;
}

describe('medians and epsilons', () => {
  it('medianOf is the sorted median, for odd and even lengths and with ties', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 300; trial++) {
      const m = 1 + rng.int(40);
      const a = Float64Array.from({ length: m }, () => (trial % 3 === 0 ? rng.int(4) : rng.normal()));
      const sorted = [...a].sort((x, y) => x - y);
      const h = m >> 1;
      const expected = m % 2 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
      expect(medianOf(Float64Array.from(a), m)).toBe(expected);
    }
  });

  it('each case epsilon is the median absolute deviation over the population, without non-finite losses', () => {
    const eps = caseEpsilons(rows([1, Infinity, 0], [2, Infinity, 0], [4, Infinity, 0], [10, 3, 0], [NaN, 5, 0]));
    // case 0: median 3, deviations 2 1 1 7 -> 1.5; case 1: median of {3, 5} = 4, deviations 1 1 -> 1; case 2: 0
    expect([...eps]).toEqual([1.5, 1, 0]);
    expect([...caseEpsilons(rows([Infinity], [Infinity]))]).toEqual([0]);
  });
});

describe('epsilon-lexicase selection', () => {
  it('picks specialists, which a tournament on mean loss passes over', () => {
    // individual 3 is the best on mean loss and never the best on a case
    const cases = rows([0, 10, 10], [10, 0, 10], [10, 10, 0], [5, 5, 5]);
    const lex = histogram(epsilonLexicase(cases), 4, 30_000);
    expect(lex[3]).toBe(0);
    for (const c of lex.slice(0, 3)) expect(Math.abs(c - 10_000)).toBeLessThan(450);
    const mean = cases.map((c) => c.reduce((s, v) => s + v, 0) / c.length);
    const tour = histogram((rng) => tournament(rng, mean, 2), 4, 30_000);
    expect(tour[3]! / 30_000).toBeGreaterThan(0.4); // 1 - (3/4)^2 = 0.4375
  });

  it('is semi-dynamic: the pass threshold is the best loss in the remaining pool plus the population epsilon', () => {
    // eps = [1, 1]. Case 0 first: best 0 -> {A}. Case 1 first: best 0, limit 1 -> {B, C}; then case 0
    // in that pool: best 5, limit 6 -> {B, C} (a static threshold, 0 + 1, would keep nobody).
    const cases = rows([0, 100], [5, 0], [6, 1]);
    expect([...caseEpsilons(cases)]).toEqual([1, 1]);
    const counts = histogram(epsilonLexicase(cases), 3, 40_000, 2);
    expect(Math.abs(counts[0]! - 20_000)).toBeLessThan(600);
    expect(Math.abs(counts[1]! - 10_000)).toBeLessThan(500);
    expect(Math.abs(counts[2]! - 10_000)).toBeLessThan(500);
  });

  it('lets near-elite candidates within epsilon through, and ties go to a uniform pick', () => {
    // case 0: median 1.2, eps 1: A (0) and B (0.4) pass, C (2) and D do not; case 1 (all equal) keeps everyone
    const cases = rows([0, 1], [0.4, 1], [2, 1], [2.5, 1]);
    const counts = histogram(epsilonLexicase(cases), 4, 20_000, 3);
    expect(counts[2]! + counts[3]!).toBe(0);
    expect(Math.abs(counts[0]! - 10_000)).toBeLessThan(450);
  });

  it('is deterministic for a seed', () => {
    const rng = new Rng(9);
    const cases = Array.from({ length: 50 }, () => Float64Array.from({ length: 30 }, () => rng.next()));
    const a = histogram(epsilonLexicase(cases), 50, 500, 4);
    const b = histogram(epsilonLexicase(cases), 50, 500, 4);
    expect(a).toEqual(b);
  });

  it('refuses individuals without per-case losses or with vectors of different lengths', () => {
    const sel = firstParentSelector('lexicase', { tournamentSize: 2 });
    expect(() =>
      sel(
        [
          { genome: 0, fitness: 1 },
          { genome: 1, fitness: 1 },
        ],
        [1, 1],
      ),
    ).toThrow(/per-case losses/);
    const pop = [
      { genome: 0, fitness: 1, cases: Float64Array.of(1, 2) },
      { genome: 1, fitness: 1, cases: Float64Array.of(1) },
    ];
    expect(() => sel(pop, [1, 1])).toThrow(/individual 1 has 1 per-case losses, individual 0 has 2/);
  });
});

describe('pareto selection over cases (GEPA)', () => {
  it('draws the best-on-some-case candidates in proportion to their number of cases, dominated ones removed', () => {
    // A best on cases 0 and 1, B on case 2, D only ties A on case 0 (dominated), C best on none
    const cases = rows([0, 0, 5], [3, 3, 0], [1, 1, 1], [0, 9, 9]);
    const fitness = [1, 2, 3, 0.5]; // D's aggregate is the best: dominance, not fitness, removes it
    const counts = histogram(paretoOverCases(cases, fitness), 4, 30_000);
    expect(counts[2]! + counts[3]!).toBe(0);
    expect(Math.abs(counts[0]! - 20_000)).toBeLessThan(500);
    expect(Math.abs(counts[1]! - 10_000)).toBeLessThan(500);
  });

  it('keeps one of two identical candidates (the earlier at equal fitness), removing the other first', () => {
    const cases = rows([0, 5], [0, 5], [5, 0]);
    const counts = histogram(paretoOverCases(cases, [1, 1, 1]), 3, 20_000);
    expect(counts[1]).toBe(0);
    expect(Math.abs(counts[0]! - 10_000)).toBeLessThan(450);
  });

  it('leaves out cases nobody has a finite loss on, and falls back to the lowest fitness when none is left', () => {
    const counts = histogram(paretoOverCases(rows([Infinity, 1], [Infinity, 2]), [5, 1]), 2, 1000);
    expect(counts).toEqual([1000, 0]);
    const fallback = paretoOverCases(rows([Infinity], [Infinity], [Infinity]), [3, 1, 1]);
    expect(histogram(fallback, 3, 100)).toEqual([0, 100, 0]);
  });
});
