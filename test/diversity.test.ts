import { describe, expect, it } from 'vitest';
import { benchmarkTask } from '../problems/benchmarks.js';
import { ConfigError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import type { Individual } from '../src/core/types.js';
import {
  classCounts,
  depthBalance,
  DIVERSITY_KEYS,
  entropyBits,
  roundVector,
  structuralDiversities,
  structuralDiversity,
  treeDiversity,
  treeOutputs,
  type TreeOutputs,
} from '../src/diversity/index.js';
import { makeDataset } from '../src/eval/dataset.js';
import { runRegression } from '../src/sr/run.js';
import { sizeLowerBound, topDownDistance } from '../src/tree/distance.js';
import { Op } from '../src/tree/primitives.js';
import { children, subtreeSizes } from '../src/tree/tree.js';
import { parseInfix } from '../src/tree/parse.js';
import { treeRepresentation } from '../src/tree/representation.js';
import type { Tree } from '../src/tree/tree.js';

const names = ['x'];
const train = makeDataset(names, [Float64Array.of(0, 1, 2)], Float64Array.of(0, 1, 8));
const t = (s: string): Tree => parseInfix(s, names);
const H = (...p: number[]) => -p.reduce((s, q) => s + q * Math.log2(q), 0);

/**
 * Hand-computed population:       size depth balance outputs on x = 0, 1, 2
 *   A  x                            1    0     1       0 1 2
 *   A' x                            1    0     1       0 1 2
 *   B  x + 0                        3    1     1       0 1 2      (same behaviour as x)
 *   C  sin(cos(x))                  3    2     1/2     sin(cos(.))
 *   D  x * x * x = (x*x)*x          5    2     1       0 1 8
 */
const genomes = ['x', 'x', 'x + 0', 'sin(cos(x))', 'x * x * x'].map(t);
const fitness = [0.5, 0.5004, 0.51, Infinity, Infinity];
const prefs = ['x', '1.5', 'sin(x)', 'x', 'x * x'].map(t);
const population: Individual<Tree>[] = genomes.map((genome, i) => ({ genome, fitness: fitness[i] as number }));
const withPrefs: Individual<Tree>[] = genomes.map((genome, i) => ({ genome, preference: prefs[i] as Tree, fitness: fitness[i] as number }));

describe('treeDiversity on a hand-computed population', () => {
  const m = treeDiversity(train)(population, 0);

  it('returns exactly the documented keys', () => {
    expect(Object.keys(m)).toEqual([...DIVERSITY_KEYS]);
  });

  it('uniqueShare: 4 distinct genotypes of 5', () => {
    expect(m.uniqueShare).toBe(4 / 5);
  });

  it('structuralDiversity: mean top-down distance over all 10 pairs = 35/10', () => {
    // Hand-computed Selkow distances: d(A,A') = 0; d(A,B) = 3 (relabel + insert 2 leaves);
    // d(A,C) = 3; d(A,D) = 5; d(B,C) = 4; d(B,D) = 5; d(C,D) = 4. Sum 0 + 2(3+3+5) + 4+5+4 = 35.
    expect(topDownDistance(genomes[1] as Tree, genomes[2] as Tree)).toBe(3);
    expect(topDownDistance(genomes[2] as Tree, genomes[4] as Tree)).toBe(5);
    expect(topDownDistance(genomes[3] as Tree, genomes[4] as Tree)).toBe(4);
    expect(m.structuralDiversity).toBeCloseTo(3.5, 14);
  });

  it('structuralDiversityNorm: each pair distance over the two sizes, mean over the 10 pairs = 31/48', () => {
    // sizes A 1, A' 1, B 3, C 3, D 5: 0/2 + 2(3/4 + 3/4 + 5/6) + 4/6 + 5/8 + 4/8 = 155/24, over 10 pairs
    expect(m.structuralDiversityNorm).toBeCloseTo(31 / 48, 14);
  });

  it('structuralDiversityNorm of two trees is d / (|a| + |b|), in [0, 1): 0 for equal trees, below 1 for trees sharing nothing', () => {
    const pairs: [string, string][] = [
      ['x', 'x'],
      ['x', '1.5'],
      ['sin(x)', 'x * x * x'],
      ['x * x * x * x', 'cos(cos(cos(1.5)))'],
      ['(x + 1) * (x - 2)', 'x'],
    ];
    for (const [a, b] of pairs) {
      const [ta, tb] = [t(a), t(b)];
      const r = structuralDiversities([ta, tb], 100, new Rng(0));
      expect(r.mean).toBe(topDownDistance(ta, tb));
      expect(r.normalised).toBe(r.mean / (ta.op.length + tb.op.length));
      expect(r.normalised).toBeGreaterThanOrEqual(0);
      expect(r.normalised).toBeLessThan(1);
    }
    expect(structuralDiversities([t('x'), t('x')], 100, new Rng(0)).normalised).toBe(0);
  });

  it("behaviour: classes {A, A', B}, {C}, {D}", () => {
    expect(m.behaviouralUnique).toBe(3 / 5);
    expect(m.behaviouralEntropy).toBeCloseTo(H(0.6, 0.2, 0.2), 14);
  });

  it('fitnessEntropy: 3 significant digits gives {0.500, 0.500}, {0.510}, {non-finite x2}', () => {
    expect(m.fitnessEntropy).toBeCloseTo(H(0.4, 0.2, 0.4), 14);
    expect(treeDiversity(train, { fitnessDigits: 4 })(population, 0).fitnessEntropy).toBeCloseTo(H(0.2, 0.2, 0.2, 0.4), 14);
  });

  it('size, depth and depth balance', () => {
    expect(m.meanSize).toBeCloseTo(13 / 5, 14);
    expect(m.medianSize).toBe(3);
    expect(m.meanDepth).toBe(1);
    expect(m.medianDepth).toBe(1);
    expect(m.depthBalance).toBeCloseTo((1 + 1 + 1 + 0.5 + 1) / 5, 14);
  });

  it('preference statistics are NaN without preferences, hand values with them', () => {
    expect(m.prefMeanSize).toBeNaN();
    expect(m.prefMeanDepth).toBeNaN();
    expect(m.prefSingleNodeShare).toBeNaN();
    const p = treeDiversity(train)(withPrefs, 0);
    expect(p.prefMeanSize).toBeCloseTo(8 / 5, 14); // sizes 1 1 2 1 3
    expect(p.prefMeanDepth).toBeCloseTo(2 / 5, 14); // depths 0 0 1 0 1
    expect(p.prefSingleNodeShare).toBe(3 / 5);
    // the genome measures do not depend on the preferences
    expect({ ...p, prefMeanSize: 0, prefMeanDepth: 0, prefSingleNodeShare: 0 }).toEqual({
      ...m,
      prefMeanSize: 0,
      prefMeanDepth: 0,
      prefSingleNodeShare: 0,
    });
  });

  it('NaN where a measure does not apply: one individual, no fitness, empty population', () => {
    const one = treeDiversity(train)([{ genome: t('x'), fitness: 1 }], 0);
    expect(one.structuralDiversity).toBeNaN();
    expect(one.uniqueShare).toBe(1);
    expect(one.behaviouralEntropy).toBe(0);
    expect(one.fitnessEntropy).toBe(0);
    expect(treeDiversity(train)([{ genome: t('x') }, { genome: t('x') }], 0).fitnessEntropy).toBeNaN();
    const empty = treeDiversity(train)([], 0);
    for (const k of DIVERSITY_KEYS) expect(empty[k], k).toBeNaN();
  });
});

describe('behavioural rounding', () => {
  it('outputs equal to `decimals` places fall in one class', () => {
    const pop: Individual<Tree>[] = [t('x'), t('x + 0.0000001')].map((genome) => ({ genome, fitness: 1 }));
    expect(treeDiversity(train)(pop, 0).behaviouralUnique).toBe(1 / 2);
    expect(treeDiversity(train, { decimals: 8 })(pop, 0).behaviouralUnique).toBe(1);
  });
  it('roundVector: -0 becomes 0, NaN and infinities kept, huge values untouched', () => {
    const r = roundVector(Float64Array.of(-0.0000001, NaN, Infinity, 1e300, 1.23456789), 6);
    expect(Object.is(r[0], 0)).toBe(true);
    expect(r[1]).toBeNaN();
    expect(r[2]).toBe(Infinity);
    expect(r[3]).toBe(1e300);
    expect(r[4]).toBe(1.234568);
  });
  it('classCounts: NaN equals NaN, hashing collisions cannot merge different vectors', () => {
    const v = (...xs: number[]) => Float64Array.from(xs);
    expect(classCounts([v(NaN, 1), v(NaN, 1), v(1, NaN), v(0), v(0, 0)])).toEqual([2, 1, 1, 1]);
  });
  it('entropyBits: 0 for one class, log2 k for k equal classes', () => {
    expect(entropyBits([7])).toBe(0);
    expect(entropyBits([3, 3, 3, 3])).toBeCloseTo(2, 15);
  });
});

describe('depthBalance', () => {
  it('is minimal depth floor(log2 size) over depth', () => {
    expect(depthBalance(1, 0)).toBe(1);
    expect(depthBalance(7, 2)).toBe(1); // full binary tree of depth 2
    expect(depthBalance(7, 6)).toBeCloseTo(2 / 6, 15); // a chain of 7 unary nodes
    expect(depthBalance(8, 3)).toBe(1);
  });
});

describe('sampling and determinism', () => {
  const rep = treeRepresentation(names, {});
  const rng = new Rng(7);
  const big: Individual<Tree>[] = Array.from({ length: 40 }, (_, i) => ({ genome: rep.random(rng, i, 40), fitness: i }));

  it('same seed and generation give the same sample; the generation changes it', () => {
    const a = treeDiversity(train, { sampleSize: 30, seed: 5 });
    const b = treeDiversity(train, { sampleSize: 30, seed: 5 });
    expect(a(big, 3)).toEqual(b(big, 3));
    expect(a(big, 3).structuralDiversity).not.toBe(a(big, 4).structuralDiversity);
    expect(treeDiversity(train, { sampleSize: 30, seed: 6 })(big, 3).structuralDiversity).not.toBe(a(big, 3).structuralDiversity);
  });

  it('the sampled mean estimates the all-pairs mean', () => {
    const trees = big.map((p) => p.genome);
    const exact = structuralDiversity(trees, 1000, new Rng(0)); // 780 pairs <= 1000: all of them
    let s = 0;
    for (let i = 0; i < 40; i++) for (let j = i + 1; j < 40; j++) s += topDownDistance(trees[i] as Tree, trees[j] as Tree);
    expect(exact).toBeCloseTo(s / 780, 12);
    const sampled = structuralDiversity(trees, 4000, new Rng(1)); // 4000 > 780: sampled
    const sd = Math.sqrt(
      trees.reduce((acc, a, i) => acc + trees.slice(i + 1).reduce((q, b) => q + (topDownDistance(a, b) - exact) ** 2, 0), 0) / 780,
    );
    expect(Math.abs(sampled - exact)).toBeLessThan(4 * (sd / Math.sqrt(4000)));
  });

  it('the output computation can be swapped, and genotypes seen last generation are not re-evaluated', () => {
    let evaluated = 0;
    const counting: TreeOutputs = (trees, data) => {
      evaluated += trees.length;
      return treeOutputs(trees, data);
    };
    const m = treeDiversity(train, { outputs: counting });
    const first = m(population, 0);
    expect(evaluated).toBe(4); // 4 distinct genotypes
    expect(m(population, 1).behaviouralUnique).toBe(first.behaviouralUnique);
    expect(evaluated).toBe(4);
  });

  it('rejects bad options with a ConfigError naming the option', () => {
    expect(() => treeDiversity(train, { sampleSize: 0 })).toThrow(ConfigError);
    expect(() => treeDiversity(train, { sampleSize: 0 })).toThrow('option diversity.sampleSize');
    expect(() => treeDiversity(train, { decimals: -1 })).toThrow('option diversity.decimals');
    expect(() => treeDiversity(train, { fitnessDigits: 0 })).toThrow('option diversity.fitnessDigits');
  });
});

describe('runRegression with diversity measures', () => {
  const task = benchmarkTask('nguyen-1', 1);
  const base = { seed: 11, populationSize: 60, generations: 6, selection: 'pimp' as const };

  it('adds every measure to every generation and leaves the run itself unchanged', async () => {
    const off = await runRegression(task, base);
    const on = await runRegression(task, { ...base, diversity: { sampleSize: 20 } });
    expect(on.best.expression).toBe(off.best.expression);
    expect(on.best.trainRmse).toBe(off.best.trainRmse);
    expect(on.evaluations).toBe(off.evaluations);
    expect(on.history.map((h) => h.bestFitness)).toEqual(off.history.map((h) => h.bestFitness));
    expect(on.history.map((h) => h.medianFitness)).toEqual(off.history.map((h) => h.medianFitness));
    expect(on.history.map((h) => h.preference)).toEqual(off.history.map((h) => h.preference));
    for (const h of on.history) {
      for (const k of DIVERSITY_KEYS) expect(Number.isFinite(h.extra?.[k]), `${k} at generation ${h.generation}`).toBe(true);
      expect(h.extra?.['uniqueShare']).toBe(h.uniqueShare);
      expect(h.extra?.['meanSize']).toBeCloseTo(h.meanSize, 12);
      expect(h.extra?.['prefMeanSize']).toBeCloseTo(h.preference?.meanSize as number, 12);
      expect(h.extra?.['prefSingleNodeShare']).toBe(h.preference?.singleNodeShare);
    }
    expect(off.history[0]?.extra?.['structuralDiversity']).toBeUndefined();
    // and the measures themselves are deterministic
    const again = await runRegression(task, { ...base, diversity: { sampleSize: 20 } });
    expect(again.history.map((h) => h.extra)).toEqual(on.history.map((h) => h.extra));
  });

  it('rejects a malformed diversity option with a ConfigError naming it', async () => {
    await expect(runRegression(task, { ...base, diversity: 'yes' as unknown as boolean })).rejects.toThrow(
      'option diversity: expected true, false or an object',
    );
    await expect(runRegression(task, { ...base, diversity: { samples: 3 } as never })).rejects.toThrow('option diversity.samples: unknown');
    await expect(runRegression(task, { ...base, diversity: { sampleSize: -1 } })).rejects.toThrow(ConfigError);
  });

  it('tournament selection: preference measures are NaN', async () => {
    const r = await runRegression(task, { ...base, selection: 'tournament', generations: 1, diversity: true });
    expect(r.history[1]?.extra?.['prefMeanSize']).toBeNaN();
    expect(r.history[1]?.extra?.['behaviouralUnique']).toBeGreaterThan(0);
  });
});

/** Selkow's distance written as the textbook recursion with a full alignment table per node pair. */
function textbookDistance(a: Tree, b: Tree): number {
  const sa = subtreeSizes(a);
  const sb = subtreeSizes(b);
  const relabel = (i: number, j: number): number => {
    const oa = a.op[i]!;
    if (oa !== b.op[j]) return 1;
    if (oa === Op.Var) return a.arg[i] === b.arg[j] ? 0 : 1;
    if (oa === Op.Const) return Math.min(1, Math.abs(a.arg[i]! - b.arg[j]!));
    return 0;
  };
  const d = (i: number, j: number): number => {
    const ca = children(a, i, sa);
    const cb = children(b, j, sb);
    const D = Array.from({ length: ca.length + 1 }, () => new Array<number>(cb.length + 1).fill(0));
    for (let x = 1; x <= ca.length; x++) D[x]![0] = D[x - 1]![0]! + sa[ca[x - 1]!]!;
    for (let y = 1; y <= cb.length; y++) D[0]![y] = D[0]![y - 1]! + sb[cb[y - 1]!]!;
    for (let x = 1; x <= ca.length; x++) {
      for (let y = 1; y <= cb.length; y++) {
        D[x]![y] = Math.min(
          D[x - 1]![y]! + sa[ca[x - 1]!]!,
          D[x]![y - 1]! + sb[cb[y - 1]!]!,
          D[x - 1]![y - 1]! + d(ca[x - 1]!, cb[y - 1]!),
        );
      }
    }
    return relabel(i, j) + D[ca.length]![cb.length]!;
  };
  return d(a.op.length - 1, b.op.length - 1);
}

describe('topDownDistance (unrolled) against the textbook recursion', () => {
  it('agrees exactly on random trees (constants included)', () => {
    const rep = treeRepresentation(['x', 'y'], { functions: ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log', 'neg', 'square'] });
    const rng = new Rng('distance');
    let trees = Array.from({ length: 60 }, (_, i) => rep.random(rng, i, 60));
    trees = trees.concat(trees.slice(0, 30).map((g) => rep.mutate(rng, g)));
    trees.push(t('x'), t('1.25'), t('0.5'));
    // fractional relabel costs between constants are exercised
    expect(trees.filter((g) => g.op.includes(0 /* Op.Const */)).length).toBeGreaterThan(20);
    for (let i = 0; i < trees.length; i++) {
      for (let j = 0; j < trees.length; j += 4) {
        const a = trees[i] as Tree;
        const b = trees[j] as Tree;
        expect(topDownDistance(a, b), `${i} ${j}`).toBe(textbookDistance(a, b));
      }
    }
  });

  it('with a bound: exact up to the bound, above it when the distance is', () => {
    const rep = treeRepresentation(['x', 'y'], { functions: ['add', 'sub', 'mul', 'div', 'sin', 'exp', 'neg'] });
    const rng = new Rng('bounded distance');
    const trees = Array.from({ length: 60 }, (_, i) => rep.random(rng, i, 60));
    let cut = 0;
    for (let i = 0; i < trees.length; i++) {
      for (let j = 0; j < trees.length; j += 3) {
        const a = trees[i] as Tree;
        const b = trees[j] as Tree;
        const exact = topDownDistance(a, b);
        for (const bound of [0, 0.5, exact - 1, exact - 1e-12, exact, exact + 0.25, 3, 10]) {
          const d = topDownDistance(a, b, bound);
          if (exact <= bound) expect(d, `${i} ${j} bound ${bound}`).toBe(exact);
          else {
            expect(d, `${i} ${j} bound ${bound}`).toBeGreaterThan(bound);
            if (d !== exact) cut++;
          }
        }
      }
    }
    // the bound does cut computations short (the result is then only a lower bound)
    expect(cut).toBeGreaterThan(100);
  });

  it('sizeLowerBound is a lower bound (with constants too), and reached where one tree is a leaf', () => {
    const rep = treeRepresentation(['x', 'y'], { functions: ['add', 'sub', 'mul', 'div', 'sin', 'exp', 'neg'], constantProbability: 0.5 });
    const rng = new Rng('size bound');
    const trees = Array.from({ length: 60 }, (_, i) => rep.random(rng, i, 60));
    let below = 0;
    for (const a of trees)
      for (const b of trees) {
        const d = topDownDistance(a, b);
        expect(sizeLowerBound(a, b)).toBeLessThanOrEqual(d);
        if (sizeLowerBound(a, b) < d) below++;
      }
    expect(below).toBeGreaterThan(1000);
    expect(sizeLowerBound(t('x'), t('(x + x) + x'))).toBe(5);
    expect(topDownDistance(t('x'), t('(x + x) + x'))).toBe(5);
    expect(sizeLowerBound(t('1.5'), t('1.25'))).toBe(0.25);
    expect(sizeLowerBound(t('x'), t('0.5'))).toBe(1);
    expect(sizeLowerBound(t('x + (x + x)'), t('(x + x) + x'))).toBe(0);
    expect(topDownDistance(t('x + (x + x)'), t('(x + x) + x'))).toBe(2);
  });
});

describe('default output vectors', () => {
  it('come from the fast kernel and equal the reference evaluator exactly', () => {
    const task = benchmarkTask('pagie-1', 3);
    const rep = treeRepresentation(task.train.names, { functions: ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log'] });
    const rng = new Rng('outputs');
    const pop: Individual<Tree>[] = Array.from({ length: 120 }, (_, i) => ({ genome: rep.random(rng, i, 120), fitness: i }));
    const fast = treeDiversity(task.train, { seed: 1 })(pop, 0);
    const reference = treeDiversity(task.train, { seed: 1, outputs: treeOutputs })(pop, 0);
    expect(fast).toEqual(reference);
    expect(fast.behaviouralUnique).toBeGreaterThan(0.3);
  });
});
