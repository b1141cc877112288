import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/core/errors.js';
import {
  chiSquareSf,
  gammaP,
  gammaQ,
  holm,
  iqr,
  kruskalWallis,
  logGamma,
  mannWhitneyNullPmf,
  mannWhitneyU,
  median,
  normalQuantile,
  normalSf,
  pairwiseComparisons,
  quantile,
  rankData,
  summarize,
  varghaDelaneyA12,
  wilson,
  type Alternative,
  type MannWhitneyMethod,
} from '../src/stats/index.js';

/** Values written by test/fixtures/stats_reference.py (scipy / numpy). */
const ref = JSON.parse(readFileSync(new URL('./fixtures/stats_reference.json', import.meta.url), 'utf8')) as {
  mannWhitneyU: {
    name: string;
    x: number[];
    y: number[];
    alternative: Alternative;
    method: MannWhitneyMethod;
    continuity: boolean;
    U: number;
    p: number;
  }[];
  kruskalWallis: { name: string; groups: number[][]; H: number; p: number }[];
  holm: { p: number[]; adjusted: number[] }[];
  varghaDelaneyA12: { x: number[]; y: number[]; A12: number }[];
  wilson: { k: number; n: number; confidence: number; lo: number; hi: number }[];
  quantile: { xs: number[]; q: number[]; quantile: number[]; median: number; q1: number; q3: number; iqr: number }[];
  special: {
    gammaln: [number, number][];
    gammainc: [number, number, number, number][];
    normSf: [number, number][];
    normPpf: [number, number][];
    chi2Sf: [number, number, number][];
  };
};

/** |actual - expected| <= rtol |expected| + atol (atol matters only where the expected value is 0). */
function close(actual: number, expected: number, rtol: number, atol = 1e-15): void {
  if (Object.is(actual, expected)) return;
  const err = Math.abs(actual - expected);
  expect(err, `${actual} vs ${expected}`).toBeLessThanOrEqual(rtol * Math.abs(expected) + atol);
}

describe('special functions against scipy.special / scipy.stats', () => {
  it('logGamma', () => {
    for (const [x, v] of ref.special.gammaln) close(logGamma(x), v, 1e-13);
  });
  it('regularised incomplete gamma P and Q, both tails', () => {
    for (const [a, x, p, q] of ref.special.gammainc) {
      close(gammaP(a, x), p, 1e-12);
      close(gammaQ(a, x), q, 1e-11);
    }
  });
  it('normal survival function, far tails included', () => {
    for (const [z, v] of ref.special.normSf) close(normalSf(z), v, 1e-12);
  });
  it('normal quantile', () => {
    for (const [p, v] of ref.special.normPpf) close(normalQuantile(p), v, 1e-12);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
  });
  it('chi-square survival function', () => {
    for (const [x, df, v] of ref.special.chi2Sf) close(chiSquareSf(x, df), v, 1e-11);
    expect(chiSquareSf(0, 3)).toBe(1);
  });
});

describe('rankData', () => {
  it('averages tied ranks and reports tie groups', () => {
    const { ranks, ties } = rankData([10, 20, 10, 30, 20, 20]);
    expect([...ranks]).toEqual([1.5, 4, 1.5, 6, 4, 4]);
    expect(ties.sort()).toEqual([2, 3]);
  });
});

describe('mannWhitneyU', () => {
  it(`matches scipy.stats.mannwhitneyu on ${ref.mannWhitneyU.length} cases`, () => {
    for (const c of ref.mannWhitneyU) {
      const r = mannWhitneyU(c.x, c.y, { alternative: c.alternative, method: c.method, continuity: c.continuity });
      const label = `${c.name} ${c.alternative} ${c.method} cc=${c.continuity}`;
      expect(r.U, label).toBeCloseTo(c.U, 9);
      // exact p-values are sums of a few hundred terms: allow a little more than the asymptotic ones
      expect(Math.abs(r.p - c.p), `${label}: p ${r.p} vs ${c.p}`).toBeLessThanOrEqual(1e-11 * Math.max(c.p, 1e-300) + 1e-15);
    }
  });

  it("chooses the method by scipy's rule: exact iff some n <= 8 and no ties", () => {
    const a = (n: number, shift = 0) => Array.from({ length: n }, (_, i) => i * 1.1 + shift);
    expect(mannWhitneyU(a(8), a(9, 0.5)).method).toBe('exact');
    expect(mannWhitneyU(a(9), a(8, 0.5)).method).toBe('exact');
    expect(mannWhitneyU(a(8), a(100, 0.5)).method).toBe('exact');
    expect(mannWhitneyU(a(9), a(9, 0.5)).method).toBe('asymptotic');
    expect(mannWhitneyU([1, 2, 2], [3, 4]).method).toBe('asymptotic'); // tie inside x
    expect(mannWhitneyU([1, 2], [2, 4]).method).toBe('asymptotic'); // tie across samples
  });

  it('worked example (scipy docs, males vs females): U = 17, exact two-sided p = 14/126', () => {
    // Hand count: U_y = 3; P(U <= 3) for sizes 5 and 4 = (1 + 1 + 2 + 3) / C(9, 4) = 7/126.
    const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    expect(r).toEqual({ U: 17, p: expect.closeTo(14 / 126, 14), method: 'exact' });
    expect(mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12], { alternative: 'greater' }).p).toBeCloseTo(7 / 126, 14);
  });

  it('exact null distribution is a symmetric pmf with the counts of the Gaussian binomial', () => {
    const pmf = mannWhitneyNullPmf(3, 4);
    // Number of ways U = u for m = 3, n = 4: partitions of u into at most 3 parts each <= 4.
    const counts = [1, 1, 2, 3, 4, 4, 5, 4, 4, 3, 2, 1, 1];
    expect(pmf.length).toBe(13);
    counts.forEach((c, u) => expect(pmf[u]).toBeCloseTo(c / 35, 15));
    expect(mannWhitneyNullPmf(4, 3)).toBe(pmf);
  });

  it('all-equal samples give p = 1 (auto and asymptotic, any alternative; exact two-sided)', () => {
    for (const method of ['auto', 'asymptotic'] as const) {
      for (const alternative of ['two-sided', 'less', 'greater'] as const) {
        for (const continuity of [true, false]) {
          const r = mannWhitneyU([2, 2, 2], [2, 2], { method, alternative, continuity });
          expect(r).toEqual({ U: 3, p: 1, method: 'asymptotic' });
        }
      }
    }
    expect(mannWhitneyU([2, 2, 2], [2, 2], { method: 'exact' }).p).toBe(1);
  });

  it('handles infinite losses (failed runs) as the largest values', () => {
    const r = mannWhitneyU([1, 2, Infinity], [Infinity, Infinity, 5, 6]);
    expect(r.U).toBe(mannWhitneyU([1, 2, 1e308], [1e308, 1e308, 5, 6]).U);
  });

  it('rejects empty samples, NaN and unknown options with a ConfigError naming the input', () => {
    expect(() => mannWhitneyU([], [1])).toThrow(ConfigError);
    expect(() => mannWhitneyU([], [1])).toThrow('mannWhitneyU: x is empty');
    expect(() => mannWhitneyU([1], [])).toThrow('mannWhitneyU: y is empty');
    expect(() => mannWhitneyU([1, NaN], [1])).toThrow('mannWhitneyU: x[1] is NaN');
    expect(() => mannWhitneyU([1], [1], { alternative: 'bigger' as Alternative })).toThrow(/alternative/);
    expect(() => mannWhitneyU([1], [1], { method: 'fast' as MannWhitneyMethod })).toThrow(/method/);
  });
});

describe('kruskalWallis', () => {
  it(`matches scipy.stats.kruskal on ${ref.kruskalWallis.length} cases`, () => {
    for (const c of ref.kruskalWallis) {
      const r = kruskalWallis(c.groups);
      close(r.H, c.H, 1e-12);
      close(r.p, c.p, 1e-11);
      expect(r.df).toBe(c.groups.length - 1);
    }
  });

  it('worked example by hand: ranks 1..10 alternating, H = 3/11', () => {
    // R1 = 25, R2 = 30, N = 10: H = 12/110 (625/5 + 900/5) - 33 = 3/11; chi2(1) sf = erfc(sqrt(H/2)).
    const r = kruskalWallis([
      [1, 3, 5, 7, 9],
      [2, 4, 6, 8, 10],
    ]);
    expect(r.H).toBeCloseTo(3 / 11, 13);
    expect(r.p).toBeCloseTo(0.6015081344405895, 13);
  });

  it('all values equal: H = 0, p = 1 (scipy returns NaN)', () => {
    expect(kruskalWallis([[4, 4], [4], [4, 4, 4]])).toEqual({ H: 0, df: 2, p: 1 });
  });

  it('rejects fewer than two groups, an empty group, NaN', () => {
    expect(() => kruskalWallis([[1, 2]])).toThrow('kruskalWallis: groups: expected at least 2 groups, got 1');
    expect(() => kruskalWallis([[1, 2], []])).toThrow('kruskalWallis: groups[1] is empty');
    expect(() => kruskalWallis([[1, NaN], [2]])).toThrow(ConfigError);
  });
});

describe('holm', () => {
  it('matches an independent implementation of the definition', () => {
    for (const c of ref.holm) {
      const adj = holm(c.p);
      expect(adj.length).toBe(c.adjusted.length);
      adj.forEach((v, i) => close(v, c.adjusted[i] as number, 1e-15));
    }
  });

  it('worked example (Wikipedia, Holm-Bonferroni): 0.01, 0.04, 0.03, 0.005', () => {
    const adj = holm([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((v, i) => expect(adj[i]).toBeCloseTo(v, 15));
  });

  it('is monotone in p and capped at 1', () => {
    const p = [0.2, 0.01, 0.9, 0.04, 0.5, 0.04];
    const adj = holm(p);
    for (let i = 0; i < p.length; i++) {
      expect(adj[i]).toBeGreaterThanOrEqual(p[i] as number);
      expect(adj[i]).toBeLessThanOrEqual(1);
      for (let j = 0; j < p.length; j++) if ((p[i] as number) <= (p[j] as number)) expect(adj[i]).toBeLessThanOrEqual(adj[j] as number);
    }
    expect(holm([])).toEqual([]);
  });

  it('rejects values outside [0, 1] and NaN', () => {
    expect(() => holm([0.5, 1.5])).toThrow('holm: p[1] is 1.5, expected a p-value in [0, 1]');
    expect(() => holm([NaN])).toThrow(ConfigError);
  });
});

describe('varghaDelaneyA12', () => {
  it('matches brute-force pair counting (and scipy U / (n1 n2))', () => {
    for (const c of ref.varghaDelaneyA12) close(varghaDelaneyA12(c.x, c.y), c.A12, 1e-14);
  });
  it('is 1 - A12 with the samples swapped; 0.5 for identical samples', () => {
    expect(varghaDelaneyA12([1, 5, 7], [2, 3])).toBeCloseTo(1 - varghaDelaneyA12([2, 3], [1, 5, 7]), 15);
    expect(varghaDelaneyA12([3, 3, 3], [3, 3])).toBe(0.5);
  });
  it('rejects empty samples', () => {
    expect(() => varghaDelaneyA12([1], [])).toThrow('varghaDelaneyA12: y is empty');
  });
});

describe('wilson', () => {
  it('matches scipy binomtest(...).proportion_ci(method="wilson")', () => {
    for (const c of ref.wilson) {
      const r = wilson(c.k, c.n, c.confidence);
      expect(r.rate).toBe(c.k / c.n);
      close(r.lo, c.lo, 1e-13);
      close(r.hi, c.hi, 1e-13);
    }
  });
  it('published worked examples (Newcombe 1998, Stat. Med. 17:857, method 3, 95%)', () => {
    const cases: [number, number, number, number][] = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
    ];
    for (const [k, n, lo, hi] of cases) {
      const r = wilson(k, n);
      expect(r.lo).toBeCloseTo(lo, 4);
      expect(r.hi).toBeCloseTo(hi, 4);
    }
  });
  it('rejects impossible counts and confidences', () => {
    expect(() => wilson(1, 0)).toThrow('wilson: n must be a positive integer, got 0');
    expect(() => wilson(5, 4)).toThrow('wilson: successes must be an integer in [0, 4], got 5');
    expect(() => wilson(1.5, 4)).toThrow(ConfigError);
    expect(() => wilson(1, 4, 1)).toThrow('wilson: confidence must be in (0, 1), got 1');
  });
});

describe('median, quantile, iqr (numpy linear interpolation)', () => {
  it('matches numpy.quantile / numpy.median / scipy.stats.iqr', () => {
    for (const c of ref.quantile) {
      c.q.forEach((q, i) => close(quantile(c.xs, q), c.quantile[i] as number, 1e-14));
      close(median(c.xs), c.median, 1e-15);
      const r = iqr(c.xs);
      close(r.q1, c.q1, 1e-14);
      close(r.q3, c.q3, 1e-14);
      close(r.iqr, c.iqr, 1e-13);
    }
  });
  it('does not reorder its input; copes with infinities', () => {
    const xs = [3, 1, 2];
    expect(median(xs)).toBe(2);
    expect(xs).toEqual([3, 1, 2]);
    expect(median([1, Infinity, Infinity, Infinity])).toBe(Infinity);
  });
  it('rejects empty input, NaN and q outside [0, 1]', () => {
    expect(() => median([])).toThrow('median: xs is empty');
    expect(() => iqr([1, NaN])).toThrow('iqr: xs[1] is NaN');
    expect(() => quantile([1], 1.5)).toThrow('quantile: q must be in [0, 1], got 1.5');
  });
});

describe('summarize and pairwiseComparisons', () => {
  it('summarize gives n, mean, median, quartiles, extremes', () => {
    expect(summarize([4, 1, 3, 2])).toEqual({ n: 4, mean: 2.5, median: 2.5, q1: 1.75, q3: 3.25, min: 1, max: 4 });
    expect(() => summarize([])).toThrow('summarize: xs is empty');
  });

  it('tests every pair, Holm-adjusts over the family, and names the winner by direction', () => {
    const low = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((v) => v + 0.1);
    const high = low.map((v) => v + 20);
    const mid = low.map((v) => v + 0.35);
    const groups = [
      { name: 'pimp', values: low },
      { name: 'tournament', values: high },
      { name: 'random-mate', values: mid },
    ];
    const rows = pairwiseComparisons(groups);
    expect(rows.map((r) => `${r.a}/${r.b}`)).toEqual(['pimp/tournament', 'pimp/random-mate', 'tournament/random-mate']);
    const p = rows.map((r) => mannWhitneyU(groups.find((g) => g.name === r.a)!.values, groups.find((g) => g.name === r.b)!.values).p);
    expect(rows.map((r) => r.p)).toEqual(p);
    expect(rows.map((r) => r.pHolm)).toEqual(holm(p));
    expect(rows[0]).toMatchObject({ a12: 0, winner: 'pimp' }); // lower is better
    expect(rows[1]?.winner).toBeUndefined(); // overlapping samples: no significant difference
    expect(rows[2]).toMatchObject({ a12: 1, winner: 'random-mate' });
    expect(pairwiseComparisons(groups, { better: 'higher' })[0]?.winner).toBe('tournament');
    expect(() =>
      pairwiseComparisons([
        { name: 'a', values: [] },
        { name: 'b', values: [1] },
      ]),
    ).toThrow('pairwiseComparisons: a is empty');
  });
});
