import { describe, expect, it } from 'vitest';
import { ReferenceEvaluator } from '../src/eval/reference.js';
import { makeDataset } from '../src/eval/dataset.js';
import { linearScaling, scaledRmse } from '../src/eval/loss.js';
import { evaluateTree, rmse, rSquared } from '../src/eval/reference.js';
import { semanticDistance } from '../src/eval/semantic.js';
import { parseInfix } from '../src/tree/parse.js';

const xs = [-2, -0.0005, 0, 0.0005, 0.5, 3];
const ys = [1, 2, -1, 0, 0.001, 4];
const data = makeDataset(['x', 'y'], [Float64Array.from(xs), Float64Array.from(ys)], new Float64Array(xs.length));
const out = (s: string) => Array.from(evaluateTree(parseInfix(s, ['x', 'y']), data.columns, data.rows));

describe('reference evaluator', () => {
  it('agrees with hand-computed values on arithmetic and transcendental trees', () => {
    expect(out('x + y * 2')).toEqual(xs.map((x, i) => x + ys[i]! * 2));
    expect(out('sin(x) - cos(y)')).toEqual(xs.map((x, i) => Math.sin(x) - Math.cos(ys[i]!)));
    expect(out('exp(neg(x)) * square(y)')).toEqual(xs.map((x, i) => Math.exp(-x) * (ys[i]! * ys[i]!)));
    expect(out('1.5')).toEqual(xs.map(() => 1.5));
  });

  it('applies the protected operators (gplearn definitions)', () => {
    // div: a / b when |b| > 0.001, else 1
    expect(out('y / x')).toEqual([1 / -2, 1, 1, 1, 0.001 / 0.5, 4 / 3]);
    // log: ln|a| when |a| > 0.001, else 0
    expect(out('log(x)')).toEqual([Math.log(2), 0, 0, 0, Math.log(0.5), Math.log(3)]);
    // sqrt: sqrt|a|
    expect(out('sqrt(x)')).toEqual(xs.map((x) => Math.sqrt(Math.abs(x))));
  });

  it('gives non-finite outputs for overflow, and RMSE turns them into +Infinity', () => {
    const o = out('exp(exp(exp(y)))');
    expect(o.some((v) => !Number.isFinite(v))).toBe(true);
    expect(rmse(o, new Float64Array(o.length))).toBe(Infinity);
  });

  it('computes RMSE and R^2', () => {
    const y = [1, 2, 3, 4];
    expect(rmse([1, 2, 3, 4], y)).toBe(0);
    expect(rmse([2, 3, 4, 5], y)).toBe(1);
    expect(rSquared([1, 2, 3, 4], y)).toBe(1);
    expect(rSquared([2.5, 2.5, 2.5, 2.5], y)).toBe(0);
    expect(rSquared([NaN, 2, 3, 4], y)).toBe(-Infinity);
  });

  it('linear scaling matches the closed form and removes any affine error', () => {
    const p = [0.5, 1, 2, 4, -1];
    const y = p.map((v) => 3 + 2 * v);
    const { offset, slope } = linearScaling(p, y);
    expect(offset).toBeCloseTo(3, 12);
    expect(slope).toBeCloseTo(2, 12);
    expect(scaledRmse(p, y)).toBeLessThan(1e-12);
    expect(linearScaling([2, 2, 2], [1, 2, 3])).toEqual({ offset: 2, slope: 0 });
    expect(scaledRmse([NaN, 1, 2], [1, 2, 3])).toBe(Infinity);
  });
});

describe('reference evaluator and semantic distance', () => {
  const target = makeDataset(
    ['x', 'y'],
    data.columns,
    Float64Array.from(xs, (x, i) => x * ys[i]!),
  );
  it('returns RMSE per tree, Infinity for failures', async () => {
    const trees = ['x * y', 'x', 'exp(exp(exp(exp(y * 100))))'].map((s) => parseInfix(s, ['x', 'y']));
    const f = await new ReferenceEvaluator(target).evaluate(trees);
    expect(f[0]).toBe(0);
    expect(f[1]).toBe(rmse(xs, target.y));
    expect(f[2]).toBe(Infinity);
  });

  it('semantic distance is the RMSE between outputs', () => {
    const d = semanticDistance(target);
    const a = parseInfix('x', ['x', 'y']);
    const b = parseInfix('x + 1', ['x', 'y']);
    expect(d(a, b)).toBe(1);
    expect(d(a, a)).toBe(0);
  });
});
