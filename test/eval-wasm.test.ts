import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.js';
import { makeDataset } from '../src/eval/dataset.js';
import { Kernel } from '../src/eval/kernel.js';
import { WasmEvaluator, createEvaluator } from '../src/eval/wasm-evaluator.js';
import { scaledRmse } from '../src/eval/loss.js';
import { evaluateTree, rmse, treeRmse } from '../src/eval/reference.js';
import { parseInfix } from '../src/tree/parse.js';
import type { Tree } from '../src/tree/tree.js';
import { edgeDataset, randomTrees } from './eval-helpers.js';

/** Bitwise equality of two vectors (NaN equals NaN; 0 and -0 differ). */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe('WebAssembly evaluator agrees bitwise with the reference', () => {
  for (const [rows, block] of [
    [1037, 512],
    [3, 512],
    [250, 8],
    [64, 4],
  ] as const) {
    const count = rows > 1000 ? 700 : 2000;
    it(`outputs and fitness of ${count} random trees, ${rows} rows, block ${block}`, () => {
      const rng = new Rng(rows * 7 + block);
      const ds = edgeDataset(rng, rows);
      const trees = randomTrees(rng, count, 3);
      const rm = new WasmEvaluator(ds, { block });
      const sc = new WasmEvaluator(ds, { block, fitness: 'scaled-rmse' });
      const outs = rm.outputsSync(trees);
      const f = rm.evaluateSync(trees);
      const s = sc.evaluateSync(trees);
      let nonFinite = 0;
      trees.forEach((t, i) => {
        const ref = evaluateTree(t, ds.columns, ds.rows);
        expect(firstDifference(outs[i]!, ref), `outputs of tree ${i}`).toBe(-1);
        expect(Object.is(f[i], treeRmse(t, ds)), `rmse of tree ${i}: ${f[i]} vs ${treeRmse(t, ds)}`).toBe(true);
        expect(Object.is(s[i], scaledRmse(ref, ds.y)), `scaled rmse of tree ${i}`).toBe(true);
        if (!Number.isFinite(f[i]!)) nonFinite++;
      });
      // The edge values must actually exercise the non-finite path, and not only it.
      expect(nonFinite).toBeGreaterThan(0);
      expect(nonFinite).toBeLessThan(trees.length / 2);
    });
  }

  it('handles leaf roots, folded constants and protected division by a tiny constant', () => {
    const ds = makeDataset(
      ['x', 'y'],
      [Float64Array.of(1, -2, 0, 0.0005, 3), Float64Array.of(2, 0.001, -0.002, 5, 1e308)],
      Float64Array.of(1, 2, 3, 4, 5),
    );
    const ev = new WasmEvaluator(ds);
    const exprs = [
      'x',
      '1.5',
      'x / 0.0005',
      'x / 0.001',
      'x / -0.0011',
      '0.5 / y',
      'sin(2) * x',
      'log(0) + exp(800)',
      '(y * y) * y',
      'sqrt(neg(x))',
      'square(y) - y',
      '1 - x',
      'log(x) / cos(y)',
    ];
    const trees: Tree[] = exprs.map((e) => parseInfix(e, ds.names));
    const outs = ev.outputsSync(trees);
    const fit = ev.evaluateSync(trees);
    trees.forEach((t, i) => {
      const ref = evaluateTree(t, ds.columns, ds.rows);
      expect(firstDifference(outs[i]!, ref), exprs[i]).toBe(-1);
      expect(Object.is(fit[i], rmse(ref, ds.y))).toBe(true);
    });
    expect(fit[7]).toBe(Infinity);
  });

  it('gives copies of a tree the same fitness and outputs of a row range', async () => {
    const rng = new Rng(5);
    const ds = edgeDataset(rng, 100);
    const t = randomTrees(rng, 3, 3);
    const ev = createEvaluator(ds, { threads: 1 });
    const f = await ev.evaluate([t[0]!, t[1]!, t[0]!, t[2]!, t[1]!]);
    expect(Array.from(f)).toEqual([f[0], f[1], f[0], f[3], f[1]]);
    const [o] = await ev.outputs([t[2]!], { start: 13, end: 57 });
    expect(firstDifference(o!, evaluateTree(t[2]!, ds.columns, ds.rows).subarray(13, 57))).toBe(-1);
    await expect(ev.outputs([t[0]!], { start: 5, end: 101 })).rejects.toThrow(/rows/);
    await ev.close();
  });
});

describe('WebAssembly evaluator as the default of runRegression', () => {
  it('gives the same run as the reference evaluator', async () => {
    const { runRegression } = await import('../src/sr/run.js');
    const { ReferenceEvaluator } = await import('../src/eval/reference.js');
    const { benchmarkTask } = await import('../problems/benchmarks.js');
    const task = benchmarkTask('keijzer-6', 1);
    const o = { seed: 4, populationSize: 60, generations: 5 };
    const fast = await runRegression(task, o);
    const ref = await runRegression(task, o, {}, new ReferenceEvaluator(task.train));
    expect(fast.history).toEqual(ref.history);
    expect(fast.best.expression).toBe(ref.best.expression);
  });
});

describe('WebAssembly evaluator on large trees and odd inputs', () => {
  it('grows its slots and code buffers for deep and long trees', () => {
    const rng = new Rng(9);
    const ds = edgeDataset(rng, 2100, 2);
    // A right-leaning chain keeps ~n/2 values on the stack: sin(x0) - (x1 * (x0 / (... ))).
    let e = 'x1';
    for (let i = 0; i < 150; i++) e = `${['sin(x0)', 'x1', '0.75', 'x0'][i % 4]} ${['-', '*', '/', '+'][i % 4]} (${e})`;
    const chain = parseInfix(e, ds.names);
    const big = randomTrees(rng, 300, 2, undefined, 400).filter((t) => t.op.length > 64);
    const trees = [chain, ...big];
    const ev = new WasmEvaluator(ds);
    const outs = ev.outputsSync(trees);
    const fit = ev.evaluateSync(trees);
    trees.forEach((t, i) => {
      const ref = evaluateTree(t, ds.columns, ds.rows);
      expect(firstDifference(outs[i]!, ref), `tree ${i} (${t.op.length} nodes)`).toBe(-1);
      expect(Object.is(fit[i], rmse(ref, ds.y))).toBe(true);
    });
  });

  it('reads a unary function of an input from a column computed once, and computes it where those columns would be too large', () => {
    const rng = new Rng(12);
    // 4 inputs x 1,500 rows: derived columns held; 300 inputs x 3,000 rows: 5 x 300 x 3,004 x 8 bytes > 32 MiB, none
    for (const [vars, rows, held] of [
      [4, 1500, 4],
      [300, 3000, 0],
    ] as const) {
      const ds = edgeDataset(rng, rows, vars);
      expect(new Kernel(ds.columns, ds.y).derived).toBe(held);
      // every unary function of inputs, nested (log(sqrt(x))), at the root and under binary operators
      const exprs = ['sin(x0)', 'cos(x1) * exp(x2)', 'log(x3) + sqrt(x0)', 'log(sqrt(x1))', 'exp(x2) / log(x0) - cos(x3)', 'x1 - sin(x2)'];
      const trees = [...exprs.map((e) => parseInfix(e, ds.names)), ...randomTrees(rng, 200, 4)];
      const ev = new WasmEvaluator(ds);
      const sc = new WasmEvaluator(ds, { fitness: 'scaled-rmse' });
      const outs = ev.outputsSync(trees);
      const s = sc.evaluateSync(trees);
      trees.forEach((t, i) => {
        const ref = evaluateTree(t, ds.columns, ds.rows);
        expect(firstDifference(outs[i]!, ref), `${vars} inputs, tree ${i}`).toBe(-1);
        expect(Object.is(s[i], scaledRmse(ref, ds.y)), `${vars} inputs, scaled rmse of tree ${i}`).toBe(true);
      });
    }
  });

  it('handles an empty batch and a data set of one row', async () => {
    const ds = makeDataset(['x'], [Float64Array.of(2)], Float64Array.of(3));
    const ev = new WasmEvaluator(ds);
    expect(ev.evaluateSync([]).length).toBe(0);
    const t = parseInfix('x * x', ['x']);
    expect(ev.evaluateSync([t])[0]).toBe(1);
    const sc = new WasmEvaluator(ds, { fitness: 'scaled-rmse' });
    expect(Object.is(sc.evaluateSync([t])[0], scaledRmse([4], [3]))).toBe(true);
  });
});
