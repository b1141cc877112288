/**
 * Tree evaluation throughput (node evaluations per second = nodes x rows / s), the Operon-style
 * workload: 1,000 random trees of lengths uniform in [1, 64] over 10 inputs, one set with + - * /, one
 * adding sin cos exp log; rows 10, 1,000, 10,000, 100,000; fitness = RMSE (f64). For 1 thread (the
 * in-process evaluator) and for all threads (the worker pool). Medians of repeated runs.
 *
 * Usage: npm run bench:eval [-- --threads N --block B --rows 10,1000 --quick --gpu]
 * --gpu adds the GPU back end (bench/eval/gpu.ts) on the same workloads, at 1k..1M rows by default.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { createEvaluator } from '../../src/eval/wasm-evaluator.js';
import { ARITH, benchDataset, machine, nodesOf, ROW_COUNTS, sci, timeIt, TRIG, workload } from '../common.js';

const { values: v } = parseArgs({
  options: {
    threads: { type: 'string' },
    block: { type: 'string' },
    rows: { type: 'string' },
    quick: { type: 'boolean' },
    gpu: { type: 'boolean' },
  },
});
const all = v.threads ? Number(v.threads) : availableParallelism();
const block = v.block ? Number(v.block) : undefined;
const rowCounts = v.rows ? v.rows.split(',').map(Number) : [...ROW_COUNTS];
const minSeconds = v.quick ? 0.15 : 0.5;

console.log(`bench:eval  ${machine()}`);
console.log(`workload: 1000 random trees, lengths uniform in [1, 64], 10 inputs, RMSE in f64; node-evals/s (median)\n`);
console.log(['set', 'rows', 'trees', '1 thread', `${all} threads`, 'speed-up'].map((s) => s.padStart(12)).join(''));
const VARS = 10;
for (const [name, fns] of [
  ['arith', ARITH],
  ['+trig', TRIG],
] as const) {
  const trees = workload(name === 'arith' ? 1 : 2, fns, VARS);
  const nodes = nodesOf(trees);
  for (const rows of rowCounts) {
    // Bounded work per call (<= ~1e8 node-evals) keeps the whole bench within a few minutes: at large
    // row counts the first trees of the same 1,000 are used (the rate is per node and row either way).
    const count = Math.min(trees.length, Math.max(20, Math.ceil(1e8 / ((nodes / trees.length) * rows))));
    const use = trees.slice(0, count);
    const useNodes = nodesOf(use);
    const ds = benchDataset(3, rows, VARS);
    const rates: number[] = [];
    for (const threads of all > 1 ? [1, all] : [1]) {
      const ev = createEvaluator(ds, { threads, ...(block ? { block } : {}) });
      const s = await timeIt(() => ev.evaluate(use), minSeconds);
      rates.push((useNodes * rows) / s);
      await ev.close();
    }
    const speedup = rates.length > 1 ? (rates[1]! / rates[0]!).toFixed(2) + 'x' : '';
    console.log(
      [name, String(rows), String(count), sci(rates[0]!), rates[1] ? sci(rates[1]) : '-', speedup].map((s) => s.padStart(12)).join(''),
    );
  }
}

if (v.gpu) {
  // The GPU back end on the same workloads: one launch evaluates all 1,000 trees (upload and readback included).
  const { benchGpu } = await import('./gpu.js');
  console.log('\ngpu back end (gpu.js webgpu mode): f32 on the device; node-evals/s per launch (median)');
  for (const [name, fns] of [
    ['arith', ARITH],
    ['+trig', TRIG],
  ] as const) {
    await benchGpu({
      population: workload(name === 'arith' ? 1 : 2, fns, VARS),
      data: (rows) => benchDataset(3, rows, VARS),
      rows: v.rows ? rowCounts : [1_000, 10_000, 100_000, 1_000_000],
      repeats: v.quick ? 3 : 5,
      label: name.padEnd(6),
    });
  }
}
