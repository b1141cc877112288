import { describe, expect, it } from 'vitest';
import { makeDataset } from '../src/eval/dataset.js';
import { acrossMeasures, solutionTree } from '../src/study/across.js';
import { topDownDistance } from '../src/tree/distance.js';
import { parseInfix } from '../src/tree/parse.js';
import { toInfix } from '../src/tree/print.js';
import { Op } from '../src/tree/primitives.js';
import { clampedText } from '../src/sr/model.js';

const names = ['x'];
const inputs = makeDataset(names, [Float64Array.of(-1, 0, 0.5, 2)], Float64Array.of(0, 0, 0, 0));
const sol = (expression: string) => ({ expression });

describe('diversity across runs (the best solutions of a cell)', () => {
  it('mean pairwise distance, its normalised form and the distinct behaviours, by hand', () => {
    // x + x and 2 * x behave alike; x * x differs: 2 behaviours of 3 solutions
    const texts = ['x + x', '2 * x', 'x * x'];
    const trees = texts.map((t) => parseInfix(t, names));
    const m = acrossMeasures(texts.map(sol), inputs, 'seed');
    expect(m.runs).toBe(3);
    const pairs = [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const;
    const d = pairs.map(([i, j]) => topDownDistance(trees[i]!, trees[j]!));
    expect(m.distance.value).toBeCloseTo((d[0]! + d[1]! + d[2]!) / 3, 14);
    const size = (i: number) => trees[i]!.op.length;
    expect(m.distanceNorm.value).toBeCloseTo(pairs.reduce((s, [i, j], k) => s + d[k]! / (size(i) + size(j)), 0) / 3, 14);
    // pairs that behave differently: (x + x, x * x) and (2 * x, x * x) of the three
    expect(m.distinct.value).toBe(2 / 3);
    expect(m.behaviours).toBe(2);
    for (const k of ['distance', 'distanceNorm', 'distinct'] as const) {
      expect(m[k].lo).toBeLessThanOrEqual(m[k].value + 1e-12);
      expect(m[k].hi).toBeGreaterThanOrEqual(m[k].value - 1e-12);
    }
  });

  it('identical solutions: distance 0 and one behaviour; all different: share 1 in every resample', () => {
    const same = acrossMeasures(['x * x', 'x * x', 'x * x', 'x * x'].map(sol), inputs, 's');
    expect(same.distance).toEqual({ value: 0, lo: 0, hi: 0 });
    expect(same.distinct).toEqual({ value: 0, lo: 0, hi: 0 });
    expect(same.behaviours).toBe(1);
    const differ = acrossMeasures(['x', 'x * x', 'sin(x)', 'exp(x)', '1.5'].map(sol), inputs, 's');
    expect(differ.distinct).toEqual({ value: 1, lo: 1, hi: 1 });
  });

  it('the intervals hold the value where repeats in a resample could bias them: 30 solutions in 15 pairs of twins', () => {
    const texts = Array.from({ length: 30 }, (_, i) => sol(`x * ${(i >> 1) + 2}`));
    const m = acrossMeasures(texts, inputs, 'twins');
    expect(m.behaviours).toBe(15);
    expect(m.distinct.value).toBeCloseTo(1 - 15 / ((30 * 29) / 2), 14);
    for (const k of ['distance', 'distanceNorm', 'distinct'] as const) {
      expect(m[k].lo, k).toBeLessThanOrEqual(m[k].value);
      expect(m[k].hi, k).toBeGreaterThanOrEqual(m[k].value);
    }
  });

  it('is deterministic per seed and leaves out fewer than two solutions', () => {
    const texts = ['x', 'x * x', 'sin(x)', 'x + 1', 'x * x * x', '1.5', 'cos(x) * x'].map(sol);
    expect(acrossMeasures(texts, inputs, 'a')).toEqual(acrossMeasures(texts, inputs, 'a'));
    const one = acrossMeasures([sol('x')], inputs, 'a');
    expect(one.runs).toBe(1);
    expect(one.distance.value).toBeNaN();
  });

  it('reads clamped expressions back and clamps their outputs', () => {
    const c = solutionTree('clamp(x * x, -1, 3)', names);
    expect(c?.lo).toBe(-1);
    expect(c?.hi).toBe(3);
    expect(c?.tree.op.length).toBe(3);
    // x * x and clamp(x * x, -1, 3) differ only at x = 2 (4 against 3); clamp(x * x, -1, 5) equals x * x on these inputs
    expect(acrossMeasures(['x * x', 'clamp(x * x, -1, 3)'].map(sol), inputs, 's').distinct.value).toBe(1);
    expect(acrossMeasures(['x * x', 'clamp(x * x, -1, 5)'].map(sol), inputs, 's').distinct.value).toBe(0);
    expect(solutionTree('not an expression (', names)).toBeUndefined();
    // a stored expression over column names that are not identifiers (printed between backticks) reads back
    const odd = ['rate (%)', 'my col'];
    const stored = clampedText.infix(toInfix(parseInfix('`rate (%)` * `my col`', odd), odd), { lo: -1, hi: 3 }, odd);
    expect(solutionTree(stored, odd)?.tree.op).toEqual(Uint8Array.of(Op.Var, Op.Var, Op.Mul));
    // a linear envelope L = 2x widens the upper bound at x = 2 to 4: the same behaviour as x * x there
    const env = 'clamp(x * x, min(-1, (x * 2) + 0), max(3, (x * 2) + 0))';
    expect(solutionTree(env, names)?.line?.op.length).toBe(5);
    expect(acrossMeasures(['x * x', env].map(sol), inputs, 's').distinct.value).toBe(0);
    expect(acrossMeasures(['clamp(x * x, -1, 3)', env].map(sol), inputs, 's').distinct.value).toBe(1);
  });
});
