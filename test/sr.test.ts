import { describe, expect, it } from 'vitest';
import { crowdedOrder, crowdingDistance, dominates, nonDominatedSort } from '../src/core/nsga2.js';
import { evolve } from '../src/core/evolve.js';
import { Rng } from '../src/core/rng.js';
import type { Evaluation, Evaluator } from '../src/core/types.js';
import { makeDataset } from '../src/eval/dataset.js';
import { linearScaling, scaledRmse } from '../src/eval/loss.js';
import { evaluateTree, rmse } from '../src/eval/reference.js';
import { polishTree, scaledTree, scoreCandidate, ScoringEvaluator } from '../src/sr/scoring.js';
import { isRobust, robustBounds, treeInterval } from '../src/sr/interval.js';
import {
  constantIndices,
  constantsOf,
  forwardColumns,
  jsBackend,
  optimiseConstants,
  reverseAdjoints,
  rowStride,
  strideRows,
} from '../src/sr/optimise.js';
import { WasmEngine } from '../src/eval/wasm-engine.js';
import { clampPredictions } from '../src/sr/model.js';
import { descriptionLength, selectFromFront, updateFront } from '../src/sr/pareto.js';
import { runRegression } from '../src/sr/run.js';
import { randomTree } from '../src/tree/init.js';
import { parseInfix } from '../src/tree/parse.js';
import { Op, primitiveSet } from '../src/tree/primitives.js';
import { toInfix } from '../src/tree/print.js';
import { treeRepresentation } from '../src/tree/representation.js';
import type { Tree } from '../src/tree/tree.js';

const xs = Float64Array.from({ length: 60 }, (_, i) => -3 + (6 * i) / 59);
const data = (f: (x: number) => number) => makeDataset(['x'], [xs], Float64Array.from(xs, f));

describe('linear scaling (Keijzer 2003)', () => {
  it('scored loss equals the closed form, and the scaled model reproduces it', () => {
    const ds = data((x) => 3 + 2 * Math.sin(x) * x);
    const t = parseInfix('sin(x) * x', ['x']);
    const sc = scoreCandidate(t, ds, { fitness: 'scaled-rmse' });
    const pred = evaluateTree(t, ds.columns, ds.rows);
    const { offset, slope } = linearScaling(pred, ds.y);
    expect(sc.offset).toBe(offset);
    expect(sc.slope).toBe(slope);
    expect(sc.loss).toBeCloseTo(scaledRmse(pred, ds.y), 12);
    expect(offset).toBeCloseTo(3, 10);
    expect(slope).toBeCloseTo(2, 10);
    expect(sc.loss).toBeLessThan(1e-10);
    const model = scaledTree(sc, true);
    expect(rmse(evaluateTree(model, ds.columns, ds.rows), ds.y)).toBeCloseTo(sc.loss, 12);
    // without scaling the same tree is far off
    expect(scoreCandidate(t, ds, { fitness: 'rmse' }).loss).toBeGreaterThan(1);
  });
});

describe('constant optimisation (Levenberg-Marquardt, reverse-mode derivatives)', () => {
  it('reverse-mode adjoints match central differences', () => {
    const rng = new Rng(3);
    const ps = primitiveSet(['x'], {
      functions: ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log', 'sqrt', 'square', 'neg'],
      constantProbability: 0.5,
    });
    let checked = 0;
    for (let k = 0; k < 60; k++) {
      const t = randomTree(rng, ps, 4, false);
      const vals = forwardColumns(t, [xs], xs.length);
      const adj = reverseAdjoints(t, vals, xs.length);
      for (let i = 0; i < t.op.length; i++) {
        if (t.op[i] !== Op.Const) continue;
        const h = 1e-6;
        const up = Float64Array.from(t.arg);
        const dn = Float64Array.from(t.arg);
        up[i]! += h;
        dn[i]! -= h;
        const fu = evaluateTree({ op: t.op, arg: up }, [xs], xs.length);
        const fd = evaluateTree({ op: t.op, arg: dn }, [xs], xs.length);
        for (let r = 0; r < xs.length; r += 7) {
          const num = (fu[r]! - fd[r]!) / (2 * h);
          const a = adj[i]![r]!;
          if (!Number.isFinite(num) || Math.abs(num) > 1e6) continue;
          // skip rows at a kink of a protected operator (the finite difference straddles it)
          if (Math.abs(num - a) > 1e-3 * Math.max(1, Math.abs(num))) {
            const fc = evaluateTree(t, [xs], xs.length)[r]!;
            const oneSided = (fu[r]! - fc) / h;
            if (
              Math.abs(oneSided - a) > 1e-3 * Math.max(1, Math.abs(a)) &&
              Math.abs((fc - fd[r]!) / h - a) > 1e-3 * Math.max(1, Math.abs(a))
            ) {
              expect.fail(`${toInfix(t, ['x'])}: node ${i} row ${r}: adjoint ${a}, difference ${num}`);
            }
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("the WebAssembly pass gives the JavaScript pass's SSE, Gram matrix and residual products", () => {
    // 1,001 rows: several 256-row blocks and an odd tail
    const n = 1001;
    const x1 = Float64Array.from({ length: n }, (_, i) => -4 + (8 * i) / (n - 1));
    const x2 = Float64Array.from({ length: n }, (_, i) => Math.cos(i * 0.37) * 3);
    const y = Float64Array.from(x1, (v, i) => Math.sin(v) * x2[i]! + 0.3 * v * v);
    const core = new WasmEngine([x1, x2], y);
    const js = jsBackend([x1, x2], y);
    const rng = new Rng(11);
    const ps = primitiveSet(['x1', 'x2'], {
      functions: ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log', 'sqrt', 'square', 'neg'],
      constantProbability: 0.4,
    });
    let compared = 0;
    for (let k = 0; k < 80; k++) {
      const t = randomTree(rng, ps, 5, k % 2 === 0);
      const params = constantIndices(t);
      for (const scaling of [false, true]) {
        const m = params.length + (scaling ? 2 : 0);
        const g1 = new Float64Array(m * m);
        const r1 = new Float64Array(m);
        const g2 = new Float64Array(m * m);
        const r2 = new Float64Array(m);
        const s1 = js.pass(t, params, scaling, 0.5, 1.5, true, g1, r1);
        const s2 = core.lmPass(t, params, scaling, 0.5, 1.5, true, g2, r2);
        if (!Number.isFinite(s1)) {
          expect(Number.isFinite(s2)).toBe(false);
          continue;
        }
        const close = (a: number, b: number, scale: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, scale);
        expect(close(s1, s2, Math.abs(s1)), `${toInfix(t, ['x1', 'x2'])}: sse ${s1} vs ${s2}`).toBe(true);
        for (let a = 0; a < m; a++) {
          const da = Math.sqrt(Math.abs(g1[a * m + a]!));
          for (let b = 0; b <= a; b++) {
            const scale = da * Math.sqrt(Math.abs(g1[b * m + b]!));
            expect(close(g1[a * m + b]!, g2[a * m + b]!, scale), `${toInfix(t, ['x1', 'x2'])}: gram ${a},${b}`).toBe(true);
          }
          expect(close(r1[a]!, r2[a]!, da * Math.sqrt(s1)), `${toInfix(t, ['x1', 'x2'])}: rhs ${a}`).toBe(true);
        }
        expect(s2).toBe(core.lmPass(t, params, scaling, 0.5, 1.5, false, g2, r2));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
  });

  it("a search's later passes keep the columns of parameter-free subtrees and give a fresh kernel's numbers", () => {
    const rng = new Rng(23);
    const ps = primitiveSet(['x1', 'x2'], {
      functions: ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log', 'sqrt', 'square', 'neg'],
      constantProbability: 0.2,
    });
    let compared = 0;
    // 200 rows: one block; 1,001 rows: four blocks, each block's columns kept; 40,000 rows: past the kernel's
    // cap on kept columns for trees of more than 26 nodes, so those compute every node in every pass
    for (const [n, trees] of [
      [200, 60],
      [1001, 60],
      [40_000, 12],
    ] as const) {
      const x1 = Float64Array.from({ length: n }, (_, i) => -4 + (8 * i) / (n - 1));
      const x2 = Float64Array.from({ length: n }, (_, i) => Math.cos(i * 0.37) * 3);
      const y = Float64Array.from(x1, (v, i) => Math.sin(v) * x2[i]! + 0.3 * v * v);
      const kept = new WasmEngine([x1, x2], y);
      for (let k = 0; k < trees; k++) {
        const t = randomTree(rng, ps, 6, k % 2 === 0);
        const params = constantIndices(t);
        if (params.length === 0 || params.length === t.op.length) continue;
        const m = params.length + 2;
        // the same opcode array at two points, as a search passes it: the second pass may reuse columns
        const moved = Float64Array.from(t.arg);
        for (const c of params) moved[c] = (moved[c] as number) * 1.5 - 0.25;
        const at = { op: t.op, arg: moved };
        const g = [new Float64Array(m * m), new Float64Array(m * m)];
        const r = [new Float64Array(m), new Float64Array(m)];
        kept.lmPass(t, params, true, 0.5, 1.5, k % 3 === 0, g[0]!, r[0]!);
        const s1 = kept.lmPass(at, params, true, 0.1, 0.9, true, g[0]!, r[0]!);
        const s2 = new WasmEngine([x1, x2], y).lmPass(
          { op: Uint8Array.from(t.op), arg: moved },
          Int32Array.from(params),
          true,
          0.1,
          0.9,
          true,
          g[1]!,
          r[1]!,
        );
        expect(Object.is(s1, s2), `${toInfix(at, ['x1', 'x2'])}: sse ${s1} vs ${s2}`).toBe(true);
        if (!Number.isFinite(s1)) continue;
        expect([...g[0]!]).toEqual([...g[1]!]);
        expect([...r[0]!]).toEqual([...r[1]!]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(60);
  });

  it('Levenberg-Marquardt makes one pass over the rows per model evaluation', () => {
    const ds = data((x) => 4 + 0.5 * Math.exp(0.8 * x) + 0.1 * Math.sin(3 * x));
    const js = jsBackend(ds.columns, ds.y);
    let passes = 0;
    const counted = { pass: (...a: Parameters<typeof js.pass>) => (passes++, js.pass(...a)) };
    for (const text of ['exp((0.3 * x))', '((1.2 * x) + sin((0.5 * x))) * 0.7', 'log(((2 * x) + 9))']) {
      for (const iterations of [2, 5, 12]) {
        passes = 0;
        const r = optimiseConstants(
          parseInfix(text, ['x']),
          ds.columns,
          ds.y,
          { offset: 0, slope: 1 },
          { iterations, scaling: true },
          counted,
        );
        expect(r.evaluations).toBeGreaterThan(1);
        expect(passes, `${text}, ${iterations} evaluations`).toBe(r.evaluations);
      }
    }
  });

  it('with maxRows, fits on every k-th row and still scores on every row', () => {
    expect(rowStride(1000, 256)).toBe(4);
    expect(rowStride(200, 256)).toBe(1);
    expect(rowStride(200, undefined)).toBe(1);
    const sub = strideRows([Float64Array.of(0, 1, 2, 3, 4, 5, 6)], Float64Array.of(10, 11, 12, 13, 14, 15, 16), 3);
    expect([...sub.columns[0]!]).toEqual([0, 3, 6]);
    expect([...sub.y]).toEqual([10, 13, 16]);
    // noiseless data: 15 of 60 rows determine the constants; the loss is measured on all 60
    const ds = data((x) => 4 + 0.5 * Math.exp(0.8 * x));
    const t = parseInfix('exp((0.3 * x))', ['x']);
    const few = scoreCandidate(t, ds, { fitness: 'scaled-rmse', optimiser: { iterations: 40, maxRows: 15 } });
    expect(few.tree.arg[0]).toBeCloseTo(0.8, 6);
    expect(few.loss).toBeLessThan(1e-8);
    // on a subsample that misses the structure the fit differs from the full one, and the loss says so
    const noisy = data((x) => 4 + 0.5 * Math.exp(0.8 * x) + (Math.round(x * 29.5) % 4 === 0 ? 0.5 : 0));
    const all = scoreCandidate(t, noisy, { fitness: 'scaled-rmse', optimiser: { iterations: 40 } });
    const part = scoreCandidate(t, noisy, { fitness: 'scaled-rmse', optimiser: { iterations: 40, maxRows: 15 } });
    expect(part.tree.arg[0]).not.toBe(all.tree.arg[0]);
    expect(part.loss).toBeGreaterThanOrEqual(all.loss);
  });

  it('recovers a, b, c of a*sin(b*x)+c from a nearby start', () => {
    const ds = data((x) => 2.5 * Math.sin(1.3 * x) - 0.7);
    const t = parseInfix('(1 * sin((1 * x))) + 0', ['x']);
    const r = optimiseConstants(t, ds.columns, ds.y, undefined, { iterations: 60 });
    const consts = [...r.tree.arg].filter((_, i) => r.tree.op[i] === Op.Const);
    const [a, b, c] = consts as [number, number, number];
    // a*sin(b x) = (-a) sin(-b x): compare the identifiable pair
    expect(Math.abs(a)).toBeCloseTo(2.5, 6);
    expect(Math.abs(b)).toBeCloseTo(1.3, 6);
    expect(Math.sign(a * b)).toBe(1);
    expect(c).toBeCloseTo(-0.7, 6);
    expect(r.sse).toBeLessThan(1e-12);
  });

  it('with scaling, fits offset and slope together with the inner constants', () => {
    const ds = data((x) => 4 + 0.5 * Math.exp(0.8 * x));
    const t = parseInfix('exp((0.3 * x))', ['x']);
    const sc = scoreCandidate(t, ds, { fitness: 'scaled-rmse', optimiser: { iterations: 40 } });
    expect(sc.loss).toBeLessThan(1e-8);
    expect(sc.tree.arg[0]).toBeCloseTo(0.8, 6);
    expect(sc.slope).toBeCloseTo(0.5, 6);
    expect(sc.offset).toBeCloseTo(4, 6);
  });

  it("with scaling, the search does not depend on the target's units", () => {
    // y in units 2^20 times larger or smaller: the same inner constants, offset and slope scaled alike.
    // Scaling by a power of 2 is exact, so the two searches must agree bit for bit.
    const ds = data((x) => 4 + 0.5 * Math.exp(0.8 * x) + 0.05 * Math.sin(7 * x));
    const t = parseInfix('exp((0.3 * x)) / ((0.2 * x) + 3)', ['x']);
    const fit = (unit: number) => {
      const y = Float64Array.from(ds.y, (v) => v * unit);
      const { offset, slope } = linearScaling(evaluateTree(t, ds.columns, ds.rows), y);
      return optimiseConstants(t, ds.columns, y, { offset, slope }, { iterations: 10, scaling: true });
    };
    const one = fit(1);
    expect([...one.tree.arg]).not.toEqual([...t.arg]); // the search moved the inner constants
    for (const unit of [2 ** 20, 2 ** -20]) {
      const r = fit(unit);
      expect([...r.tree.arg]).toEqual([...one.tree.arg]);
      expect(r.offset).toBe(one.offset * unit);
      expect(r.slope).toBe(one.slope * unit);
      expect(r.sse).toBe(one.sse * unit * unit);
    }
  });

  it('beats steepest descent at the same budget on random trees (median loss)', () => {
    const rng = new Rng(9);
    const ps = primitiveSet(['x'], { constantProbability: 0.5, constantRange: [-2, 2] });
    const ds = data((x) => Math.sin(1.7 * x) * 0.8 + 0.3 * x * x);
    const ratios: number[] = [];
    for (let k = 0; k < 40; k++) {
      const t = randomTree(rng, ps, 4, k % 2 === 0);
      const lm = scoreCandidate(t, ds, { fitness: 'scaled-rmse', optimiser: { iterations: 10, method: 'lm' } });
      const gd = scoreCandidate(t, ds, { fitness: 'scaled-rmse', optimiser: { iterations: 10, method: 'gradient' } });
      const base = scoreCandidate(t, ds, { fitness: 'scaled-rmse' });
      expect(lm.loss).toBeLessThanOrEqual(base.loss + 1e-12);
      if (Number.isFinite(lm.loss) && Number.isFinite(gd.loss) && gd.loss > 1e-9) ratios.push(lm.loss / gd.loss);
    }
    ratios.sort((a, b) => a - b);
    expect(ratios[ratios.length >> 1]).toBeLessThanOrEqual(1);
    expect(ratios.filter((r) => r < 0.99).length).toBeGreaterThan(ratios.filter((r) => r > 1.01).length);
  });
});

describe('NSGA-II', () => {
  // (error, size) points: front 0 = {0, 1, 2}, front 1 = {3, 4}, front 2 = {5}
  const pts = [
    [1, 10],
    [2, 5],
    [5, 1],
    [3, 8],
    [6, 3],
    [7, 9],
  ];
  it('sorts constructed points into non-dominated fronts', () => {
    expect(dominates([1, 1], [1, 2])).toBe(true);
    expect(dominates([1, 2], [1, 2])).toBe(false);
    expect(dominates([1, 3], [2, 2])).toBe(false);
    expect(nonDominatedSort(pts)).toEqual([[0, 1, 2], [3, 4], [5]]);
  });
  it('crowding: extremes infinite, inner points by normalised gaps; order by rank then crowding', () => {
    const d = crowdingDistance(pts, [0, 1, 2]);
    expect(d[0]).toBe(Infinity);
    expect(d[2]).toBe(Infinity);
    expect(d[1]).toBeCloseTo((5 - 1) / 4 + (10 - 1) / 9, 12);
    const pts2 = [
      [1, 10],
      [2, 9],
      [3, 5],
      [4, 4.5],
      [5, 1],
    ];
    const { order, rank } = crowdedOrder(pts2);
    expect([...rank]).toEqual([0, 0, 0, 0, 0]);
    expect(order.slice(0, 2)).toEqual([0, 4]);
    expect(order[2]).toBe(1); // crowding 2/4 + 5/9, the largest inner gap
  });
  it('error-size evolution keeps a non-dominated, size-sorted front; the archive is best error per size', async () => {
    const ds = data((x) => x * x * x + x);
    const rep = treeRepresentation(['x'], {});
    const ev = new ScoringEvaluator(ds, { fitness: 'rmse' });
    let front = updateFront([], []);
    const r = await evolve(
      rep,
      ev,
      { seed: 4, populationSize: 60, generations: 8, objectives: 'error-size' },
      {
        onGeneration: (_s, st) => {
          front = updateFront(front, st.population);
        },
      },
    );
    expect(r.population.length).toBe(60);
    for (let i = 1; i < front.length; i++) {
      expect(front[i]!.size).toBeGreaterThan(front[i - 1]!.size);
      expect(front[i]!.loss).toBeLessThan(front[i - 1]!.loss);
    }
    // the final population's first rank is mutually non-dominated
    const pts = r.population.map((p) => [p.fitness!, p.genome.op.length]);
    const f0 = nonDominatedSort(pts)[0]!;
    for (const a of f0) for (const b of f0) expect(dominates(pts[a]!, pts[b]!)).toBe(false);
    expect(front[front.length - 1]!.loss).toBeLessThanOrEqual(r.best.fitness!);
    // model selection
    expect(selectFromFront(front, 'best')).toBe(front.length - 1);
    const k = selectFromFront(front, 'score');
    expect(front[k]!.loss).toBeLessThanOrEqual(1.5 * front[front.length - 1]!.loss);
  });
  it('aic and bic trade the error drop against fitted constants by the number of rows', () => {
    const names = ['x'];
    // RMSE 1.0 with 1 constant, 0.9 with 4, 0.895 with 6 (the sizes do not count)
    const front = [
      { tree: parseInfix('x * 2', names), loss: 1.0, size: 3 },
      { tree: parseInfix('((x * 2) + 3) * ((x * 4) + 5)', names), loss: 0.9, size: 11 },
      { tree: parseInfix('(((x * 2) + 3) * ((x * 4) + 5)) + ((x * 6) * (x + 7))', names), loss: 0.895, size: 19 },
    ];
    expect(front.map((e) => constantsOf(e.tree))).toEqual([1, 4, 6]);
    // n ln(MSE) + k p: at 20 rows the drop to 0.9 (-4.2) does not pay for 3 constants (+6 with k = 2)
    expect(selectFromFront(front, 'aic', undefined, 20)).toBe(0);
    // at 1000 rows it does (-210.7 against +6, +20.7 with k = ln 1000); the last step (-11.1) only under aic
    expect(selectFromFront(front, 'aic', undefined, 1000)).toBe(2);
    expect(selectFromFront(front, 'bic', undefined, 1000)).toBe(1);
    expect(() => selectFromFront(front, 'bic')).toThrow(/number of training rows/);
    // the choice does not depend on the target's units: the same front with every loss 1e-13 or 1e13 times
    for (const mode of ['aic', 'bic', 'score'] as const) {
      for (const rows of [20, 1000]) {
        const k = selectFromFront(front, mode, undefined, rows);
        for (const unit of [1e-13, 1e13]) {
          const scaled = front.map((e) => ({ ...e, loss: e.loss * unit }));
          expect(selectFromFront(scaled, mode, undefined, rows), `${mode}, ${rows} rows, losses x ${unit}`).toBe(k);
        }
      }
    }
    // an exact fit (loss 0) is chosen by its constants alone, not by ln 0 = -Infinity
    const exact = front.map((e, i) => ({ ...e, loss: i === 0 ? 1 : 0 }));
    expect(selectFromFront(exact, 'bic', undefined, 1000)).toBe(1);
  });
  it('mdl: the description length of Bartlett et al. (2023), and the member it chooses', () => {
    // y = 2x + 1 + noise on 60 rows; the model c * x + d
    const rng = new Rng(7);
    const noise = Float64Array.from(xs, () => rng.normal() * 0.3);
    const y = Float64Array.from(xs, (x, i) => 2 * x + 1 + (noise[i] as number));
    const t = parseInfix('(x * 1.9) + 1.1', ['x']);
    const n = xs.length;
    let sse = 0;
    let sxx = 0;
    xs.forEach((x, i) => {
      sse += ((y[i] as number) - (1.9 * x + 1.1)) ** 2;
      sxx += x * x;
    });
    const s2 = sse / n;
    // 5 nodes over 4 symbols (x, constant, *, +); Fisher information sum(x^2) / s2 and n / s2; minus ln 3 / 2 each
    const nll = (n / 2) * Math.log(2 * Math.PI * s2) + n / 2;
    const params = [
      [1.9, sxx / s2],
      [1.1, n / s2],
    ].reduce((a, [c, f]) => a + 0.5 * Math.log(f as number) + Math.log(c as number), 0);
    const expected = 5 * Math.log(4) + params - Math.log(3) + nll;
    const cols = [xs];
    expect(descriptionLength(t, cols, y)).toBeCloseTo(expected, 9);
    // a constant within one precision step sqrt(12 / f) of 0 costs nothing
    const tiny = parseInfix('(x * 1.9) + 1e-9', ['x']);
    let sseT = 0;
    xs.forEach((x, i) => (sseT += ((y[i] as number) - (1.9 * x + 1e-9)) ** 2));
    const s2T = sseT / n;
    const expectedTiny =
      5 * Math.log(4) + 0.5 * Math.log(sxx / s2T) + Math.log(1.9) - Math.log(3) + (n / 2) * Math.log(2 * Math.PI * s2T) + n / 2;
    expect(descriptionLength(tiny, cols, y)).toBeCloseTo(expectedTiny, 9);
    // over 10,000 rows (in blocks of rows) the same as one pass over all of them, done here by hand
    const many = Float64Array.from({ length: 10_000 }, (_, i) => (i % 97) / 10);
    const yMany = Float64Array.from(many, (x, i) => Math.sin(x) + 0.01 * (i % 7));
    const u = parseInfix('(sin(x * 1.01) * 0.98) + 0.03', ['x']);
    const values = forwardColumns(u, [many], many.length);
    const adj = reverseAdjoints(u, values, many.length);
    const out = values[values.length - 1]!;
    const s2u = out.reduce((a, v, i) => a + (v - (yMany[i] as number)) ** 2, 0) / many.length;
    // 8 nodes over 5 symbols (x, constant, *, sin, +)
    let byHand = 8 * Math.log(5) + (many.length / 2) * (Math.log(2 * Math.PI * s2u) + 1) - (3 / 2) * Math.log(3);
    for (const c of constantIndices(u)) {
      const f = adj[c]!.reduce((a, v) => a + v * v, 0) / s2u;
      byHand += 0.5 * Math.log(f) + Math.log(Math.abs(u.arg[c] as number));
    }
    const blocked = descriptionLength(u, [many], yMany);
    expect(Math.abs(blocked - byHand)).toBeLessThan(1e-9 * Math.abs(byHand));
    // a model that is not finite on the rows is never chosen over one that is
    expect(descriptionLength(parseInfix('exp(x * 1000)', ['x']), cols, y)).toBe(Infinity);

    // the front: a constant (underfit), the true form, and that form plus two terms that fit the noise
    // (each term's coefficient the least-squares projection of what is left, so the error drops)
    const meanX = xs.reduce((a, v) => a + v, 0) / n;
    const meanY = y.reduce((a, v) => a + v, 0) / n;
    let sxy = 0;
    let sxxc = 0;
    xs.forEach((x, i) => {
      sxy += (x - meanX) * ((y[i] as number) - meanY);
      sxxc += (x - meanX) ** 2;
    });
    const b = sxy / sxxc;
    const a = meanY - b * meanX;
    const left = Float64Array.from(xs, (x, i) => (y[i] as number) - (a + b * x));
    const project = (g: (x: number) => number) => {
      const col = Float64Array.from(xs, g);
      const c = col.reduce((acc, v, i) => acc + v * (left[i] as number), 0) / col.reduce((acc, v) => acc + v * v, 0);
      col.forEach((v, i) => (left[i]! -= c * v));
      return c;
    };
    const cs = project((x) => Math.sin(3.1 * x));
    const cc = project((x) => Math.cos(5.3 * x));
    const front = [
      { tree: parseInfix(String(meanY), ['x']), size: 1 },
      { tree: parseInfix(`(x * ${b}) + ${a}`, ['x']), size: 5 },
      { tree: parseInfix(`((x * ${b}) + ${a}) + ((sin(x * 3.1) * ${cs}) + (cos(x * 5.3) * ${cc}))`, ['x']), size: 17 },
    ].map((e) => {
      const f = evaluateTree(e.tree, cols, n);
      return { ...e, loss: Math.sqrt(f.reduce((acc, v, i) => acc + (v - (y[i] as number)) ** 2, 0) / n) };
    });
    expect(front[2]!.loss).toBeLessThan(front[1]!.loss);
    expect(selectFromFront(front, 'best')).toBe(2);
    expect(selectFromFront(front, 'mdl', undefined, n, { columns: cols, y })).toBe(1);
    expect(() => selectFromFront(front, 'mdl', undefined, n)).toThrow(/training rows/);
    // the target in other units (a power of 2: every product exact), the models' outer constants with it:
    // each length moves by the same n ln(unit), so the choice stays
    const unit = 2 ** 40;
    const yu = Float64Array.from(y, (v) => v * unit);
    const inUnits = [
      `${meanY * unit}`,
      `(x * ${b * unit}) + ${a * unit}`,
      `((x * ${b * unit}) + ${a * unit}) + ((sin(x * 3.1) * ${cs * unit}) + (cos(x * 5.3) * ${cc * unit}))`,
    ].map((text, i) => ({ ...front[i]!, tree: parseInfix(text, ['x']), loss: front[i]!.loss * unit }));
    expect(selectFromFront(inUnits, 'mdl', undefined, n, { columns: cols, y: yu })).toBe(1);
    const shift = n * Math.log(unit);
    inUnits.forEach((e, i) => {
      const d = descriptionLength(e.tree, cols, yu) - descriptionLength(front[i]!.tree, cols, y);
      expect(d).toBeCloseTo(shift, 6);
    });
  });
  it('single-objective results are unchanged by the engine extension (same seed, same best)', async () => {
    const ds = data((x) => x * x + 1);
    const a = await runRegression({ name: 'q', train: ds }, { seed: 7, populationSize: 50, generations: 5 });
    const b = await runRegression({ name: 'q', train: ds }, { seed: 7, populationSize: 50, generations: 5, objectives: 'error' });
    expect(a.best.expression).toBe(b.best.expression);
    expect(a.history).toEqual(b.history);
  });
});

describe('Lamarckian write-back through Evaluator.evaluateDetailed', () => {
  it('replaces genomes with the returned ones, and only when asked', async () => {
    const ds = data((x) => 1.234 * x + 0.5);
    const rep = treeRepresentation(['x'], { constantProbability: 0.6 });
    const seen: Tree[][] = [];
    const spy: Evaluator<Tree> = {
      evaluate: async () => new Float64Array(0),
      async evaluateDetailed(genomes): Promise<Evaluation<Tree>> {
        seen.push([...genomes]);
        return new ScoringEvaluator(ds, { fitness: 'rmse', optimiser: { iterations: 8 }, lamarckian: true }).evaluateDetailed(genomes);
      },
    };
    const r = await evolve(rep, spy, { seed: 2, populationSize: 30, generations: 3 });
    // every final genome is a fixed point of the optimiser's output format: its loss is its own rmse
    for (const p of r.population) {
      const own = rmse(evaluateTree(p.genome, ds.columns, ds.rows), ds.y);
      expect(p.fitness).toBe(Number.isFinite(own) ? own : Infinity);
    }
    const baldwin = new ScoringEvaluator(
      data((x) => 1.234 * x),
      { fitness: 'rmse', optimiser: { iterations: 8 } },
    );
    const d = await baldwin.evaluateDetailed([parseInfix('0.5 * x', ['x'])]);
    expect(d.genomes).toBeUndefined();
    expect(d.losses[0]).toBeLessThan(1e-6);
  });
});

describe('interval robustness check', () => {
  it('encloses sampled values of random trees over a box', () => {
    const rng = new Rng(21);
    const ps = primitiveSet(['x', 'y'], { functions: ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log', 'sqrt', 'square', 'neg'] });
    const box = [
      [-1, 2],
      [0.5, 3],
    ] as const;
    const n = 200;
    const cx = Float64Array.from({ length: n }, () => rng.uniform(-1, 2));
    const cy = Float64Array.from({ length: n }, () => rng.uniform(0.5, 3));
    for (let k = 0; k < 150; k++) {
      const t = randomTree(rng, ps, 4, k % 2 === 0);
      const [lo, hi] = treeInterval(t, box);
      const v = evaluateTree(t, [cx, cy], n);
      for (const x of v)
        if (Number.isFinite(x))
          expect(
            x >= lo - 1e-9 * Math.abs(lo) && x <= hi + 1e-9 * Math.abs(hi),
            `${toInfix(t, ['x', 'y'])}: ${x} not in [${lo}, ${hi}]`,
          ).toBe(true);
    }
  });
  it('flags a pole just outside the training range and passes a smooth model', () => {
    const train = makeDataset(
      ['x'],
      [Float64Array.from({ length: 50 }, (_, i) => 1 + i / 49)],
      Float64Array.from({ length: 50 }, (_, i) => 1 / (1 + i / 49 - 0.95)),
    );
    const b = robustBounds(train.columns, train.y);
    expect(isRobust(parseInfix('1 / (x - 0.95)', ['x']), b)).toBe(false);
    expect(isRobust(parseInfix('(x * 2) + 1', ['x']), b)).toBe(true);
    const sc = scoreCandidate(parseInfix('1 / (x - 0.95)', ['x']), train, { fitness: 'scaled-rmse', robust: b });
    expect(sc.loss).toBe(Infinity);
  });
});

describe('runRegression: front, model selection, scaling in the reported model', () => {
  it('refuses data sets that do not hold together before the search: non-finite inputs, short columns, other test columns', async () => {
    const x = Float64Array.from({ length: 10 }, (_, i) => i);
    const ds = makeDataset(
      ['x'],
      [x],
      Float64Array.from(x, (v) => v * v),
    );
    const o = { populationSize: 10, generations: 1 };
    const nan = makeDataset(['x'], [Float64Array.from(x, (v) => (v === 3 ? NaN : v))], ds.y);
    await expect(runRegression({ name: 'n', train: nan }, o)).rejects.toThrow(
      'n: the training data: column x, row 3 is not a finite number (NaN)',
    );
    const short = { ...ds, columns: [x.subarray(0, 5)] };
    await expect(runRegression({ name: 's', train: short }, o)).rejects.toThrow('s: the training data: column x has 5 values, not 10');
    const other = makeDataset(['z'], [x], ds.y);
    await expect(runRegression({ name: 't', train: ds, test: other }, o)).rejects.toThrow(
      "t: the test data's columns (z) are not the training data's (x)",
    );
  });

  it('reports a size-sorted front with exports; score, bic and validation selection pick members of it', async () => {
    const x = Float64Array.from({ length: 80 }, (_, i) => -2 + (4 * i) / 79);
    const ds = makeDataset(
      ['x'],
      [x],
      Float64Array.from(x, (v) => 5 + 3 * v * v * v - v),
    );
    const common = { seed: 3, populationSize: 80, generations: 6, linearScaling: true, optimiseIterations: 4, robust: true } as const;
    const best = await runRegression({ name: 'c', train: ds }, common);
    expect(best.front.length).toBeGreaterThan(1);
    expect(best.selected).toBe(best.front.length - 1);
    for (let i = 1; i < best.front.length; i++) expect(best.front[i]!.genomeSize).toBeGreaterThan(best.front[i - 1]!.genomeSize);
    // the reported model includes the scaling: its plain RMSE equals the scaled loss
    const last = best.front[best.front.length - 1]!;
    expect(last.trainRmse).toBeCloseTo(last.loss, 9);
    expect(last.sympy.length).toBeGreaterThan(0);
    const score = await runRegression({ name: 'c', train: ds }, { ...common, selectModel: 'score' });
    expect(score.front[score.selected]!.expression).toBe(score.best.expression);
    // an information criterion picks from the same front (the search does not change)
    const bic = await runRegression({ name: 'c', train: ds }, { ...common, selectModel: 'bic' });
    expect(bic.front.map((m) => m.expression)).toEqual(best.front.map((m) => m.expression));
    expect(bic.front[bic.selected]!.expression).toBe(bic.best.expression);
    // mdl: the member of least description length on the training rows, from the same front
    const mdl = await runRegression({ name: 'c', train: ds }, { ...common, selectModel: 'mdl' });
    expect(mdl.front.map((m) => m.expression)).toEqual(best.front.map((m) => m.expression));
    const lengths = mdl.front.map((m) => descriptionLength(m.tree, ds.columns, ds.y));
    expect(mdl.selected).toBe(lengths.indexOf(Math.min(...lengths)));
    expect(mdl.front[mdl.selected]!.expression).toBe(mdl.best.expression);
    const val = await runRegression({ name: 'c', train: ds }, { ...common, selectModel: 'validation' });
    expect(val.selected).toBeGreaterThanOrEqual(0);
    expect(val.best.trainR2).toBeGreaterThan(0.5);
    await expect(runRegression({ name: 'c', train: ds }, { ...common, selectModel: 'knee' as never })).rejects.toThrow(
      /option selectModel/,
    );
  }, 60_000);

  it('with linear scaling and constant optimisation, a target in other units runs the same search', async () => {
    // a power of 2 scales every step exactly: the same genomes, every loss times the unit (in units far smaller,
    // the constants' entries of J'J would fall below D's floor of 1e-12, and the search would move)
    const x = Float64Array.from({ length: 80 }, (_, i) => -2 + (4 * i) / 79);
    const y = Float64Array.from(x, (v) => 5 + 3 * Math.exp(0.7 * v) - v);
    const common = { seed: 2, populationSize: 60, generations: 5, linearScaling: true, optimiseIterations: 5, robust: true } as const;
    const run = (unit: number) =>
      runRegression(
        {
          name: 'u',
          train: makeDataset(
            ['x'],
            [x],
            y.map((v) => v * unit),
          ),
        },
        common,
      );
    const one = await run(1);
    for (const unit of [2 ** 30, 2 ** 10]) {
      const r = await run(unit);
      expect(r.front.map((m) => m.genomeSize)).toEqual(one.front.map((m) => m.genomeSize));
      expect(r.front.map((m) => m.loss)).toEqual(one.front.map((m) => m.loss * unit));
    }
  }, 60_000);

  it('polishes each front member on every training row: same search, losses never higher, still a front', async () => {
    const x = Float64Array.from({ length: 120 }, (_, i) => -2 + (4 * i) / 119);
    const ds = makeDataset(
      ['x'],
      [x],
      Float64Array.from(x, (v) => Math.sin(1.7 * v)),
    );
    // no constant optimisation in the search: the members' inner constants are as bred
    const common = { seed: 1, populationSize: 100, generations: 6, linearScaling: true, robust: true, selectModel: 'bic' } as const;
    const plain = await runRegression({ name: 'e', train: ds }, common);
    const polished = await runRegression({ name: 'e', train: ds }, { ...common, polishIterations: 30 });
    // the same front, less any member that polishing left no better than a smaller one: a front still
    let moved = 0;
    polished.front.forEach((m, i) => {
      const before = plain.front.find((p) => p.genomeSize === m.genomeSize)!;
      if (i > 0) expect(m.loss).toBeLessThan(polished.front[i - 1]!.loss);
      expect(m.loss).toBeLessThanOrEqual(before.trainRmse * (1 + 1e-12));
      // the loss is the reported model's RMSE on the training rows
      expect(m.loss).toBeCloseTo(rmse(evaluateTree(m.tree, ds.columns, ds.rows), ds.y), 12);
      if (m.loss < before.loss * (1 - 1e-6)) moved++;
    });
    expect(moved).toBeGreaterThan(0);
    expect(polished.front[polished.selected]!.expression).toBe(polished.best.expression);
    // polishTree alone: a sine with its constants off fits exactly once they are tuned; a tree without constants is kept
    const t = parseInfix('0.5 + 2 * sin(1.6 * x)', ['x']);
    const r = polishTree(t, ds, 30);
    expect(r.rmse).toBeLessThan(1e-8);
    const fitted = Array.from(r.tree.arg).filter((_, i) => r.tree.op[i] === Op.Const);
    [0, 1, 1.7].forEach((c, i) => expect(fitted[i]).toBeCloseTo(c, 6));
    const bare = parseInfix('sin(x)', ['x']);
    expect(polishTree(bare, ds, 30).tree).toBe(bare);
    // the robustness check refuses a polished tree that leaves the output bounds
    expect(polishTree(t, ds, 30, { box: [[-100, 100]], out: [0, 10] }).tree).toBe(t);
    await expect(runRegression({ name: 'e', train: ds }, { ...common, polishIterations: -1 })).rejects.toThrow(/option polishIterations/);
  }, 60_000);

  it('clamps every reported model to the training target range: never worse on training rows, bounded on test rows', async () => {
    // train on x in [-2, 2]; test rows run out to x = 4, where a cubic formula leaves the training range
    const x = Float64Array.from({ length: 80 }, (_, i) => -2 + (4 * i) / 79);
    const f = (v: number) => 5 + 3 * v * v * v - v;
    const ds = makeDataset(['x'], [x], Float64Array.from(x, f));
    const xt = Float64Array.from({ length: 40 }, (_, i) => -4 + (8 * i) / 39);
    const test = makeDataset(
      ['x'],
      [xt],
      Float64Array.from(xt, (v) => Math.min(Math.max(f(v), -17), 27)),
    );
    const o = { seed: 3, populationSize: 80, generations: 6, linearScaling: true } as const;
    const plain = await runRegression({ name: 'c', train: ds, test }, o);
    const clamped = await runRegression({ name: 'c', train: ds, test }, { ...o, clamp: true });
    expect(plain.bounds).toBeUndefined();
    expect(clamped.bounds).toEqual({ lo: f(-2), hi: f(2) });
    // the same search (clamping does not touch fitness), so the same formulas
    expect(clamped.front.map((m) => m.genomeSize)).toEqual(plain.front.map((m) => m.genomeSize));
    clamped.front.forEach((m, i) => {
      const p = plain.front[i]!;
      expect(m.trainRmse).toBeLessThanOrEqual(p.trainRmse);
      expect(m.testR2Unclamped).toBe(p.testR2);
      expect(m.expression).toBe(`clamp(${p.expression}, ${f(-2)}, ${f(2)})`);
      expect(m.sympy).toMatch(/^Min\(Max\(/);
      // clamped predictions stay in the bounds
      const pred = clampPredictions(evaluateTree(m.tree, test.columns, test.rows), clamped.bounds);
      expect(Math.min(...pred)).toBeGreaterThanOrEqual(f(-2));
      expect(Math.max(...pred)).toBeLessThanOrEqual(f(2));
    });
    expect(clamped.best.testR2!).toBeGreaterThanOrEqual(plain.best.testR2!);
  }, 60_000);
});

describe('the optimiser forward pass', () => {
  it('computes exactly the reference outputs (every function, edge inputs)', () => {
    const ps = primitiveSet(['x', 'y'], { functions: ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log', 'sqrt', 'neg', 'square'] });
    const xs = Float64Array.from({ length: 64 }, (_, i) => (i - 32) * 0.37 + (i % 5 === 0 ? 0.0005 : 0));
    const ys = Float64Array.from({ length: 64 }, (_, i) => Math.cos(i) * 40);
    const rng = new Rng('forward');
    for (let k = 0; k < 1500; k++) {
      const t = randomTree(rng, ps, 1 + (k % 6), k % 2 === 0);
      const values = forwardColumns(t, [xs, ys], 64);
      expect(Array.from(values[t.op.length - 1]!)).toEqual(Array.from(evaluateTree(t, [xs, ys], 64)));
    }
  });
});
