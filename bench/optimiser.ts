/**
 * Constant optimisation: Levenberg-Marquardt (reverse-mode Jacobian) against the simpler baseline
 * (steepest descent with backtracking) at equal budgets of model evaluations, on random trees over a
 * real data set. Prints the median loss after optimisation relative to the unoptimised loss, the
 * share of trees each method improves, and time per tree (noisy on a shared machine); then the
 * optimiser's passes in JavaScript against the WebAssembly kernel, side by side.
 *
 *   npx tsx bench/optimiser.ts [--set Concrete] [--trees 300] [--budgets 5,10,20]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { csvTask } from '../problems/csv.js';
import { srDataDir } from './sr-data.js';
import { Rng } from '../src/core/rng.js';
import { coreScoreData, scoreCandidate, type ScoreData } from '../src/sr/scoring.js';
import { jsBackend, type LmBackend } from '../src/sr/optimise.js';
import { WasmEngine } from '../src/eval/wasm-engine.js';
import { randomTree } from '../src/tree/init.js';
import { primitiveSet } from '../src/tree/primitives.js';

const { values: v } = parseArgs({
  options: {
    set: { type: 'string', default: 'Concrete' },
    trees: { type: 'string', default: '300' },
    budgets: { type: 'string', default: '5,10,20' },
  },
});
const task = csvTask(join(srDataDir(), `${v.set}.csv`));
const ps = primitiveSet(task.train.names, { constantProbability: 0.4 });
const rng = new Rng(1);
// trees with at least two constants (the optimiser has nothing to do otherwise), depths 3-6
const trees: ReturnType<typeof randomTree>[] = [];
for (let i = 0; trees.length < Number(v.trees); i++) {
  const t = randomTree(rng, ps, 3 + (i % 4), i % 2 === 0);
  if (t.op.filter((o) => o === 0).length >= 2) trees.push(t);
}
const base = trees.map((t) => scoreCandidate(t, task.train, { fitness: 'scaled-rmse' }).loss);
const nodes = trees.reduce((s, t) => s + t.op.length, 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(
  `# ${v.set}: ${trees.length} random trees (${(nodes / trees.length).toFixed(1)} nodes mean), ${task.train.rows} rows, scaled RMSE`,
);
console.log(
  '| budget | method | median loss / initial | mean loss / initial | trees improved >1% | ms per tree | node evals/s (forward passes) |',
);
console.log('|---|---|---|---|---|---|---|');
for (const budget of (v.budgets as string).split(',').map(Number)) {
  for (const method of ['lm', 'gradient'] as const) {
    const t0 = performance.now();
    const ratios: number[] = [];
    let improved = 0;
    trees.forEach((t, i) => {
      const r = scoreCandidate(t, task.train, { fitness: 'scaled-rmse', optimiser: { method, iterations: budget } });
      if (Number.isFinite(base[i]!) && base[i]! > 0) {
        ratios.push(r.loss / base[i]!);
        if (r.loss < 0.99 * base[i]!) improved++;
      }
    });
    const ms = performance.now() - t0;
    const evals = (nodes * task.train.rows * budget) / (ms / 1000);
    console.log(
      `| ${budget} | ${method} | ${median(ratios).toFixed(4)} | ${mean(ratios).toFixed(4)} | ${((100 * improved) / ratios.length).toFixed(0)}% | ${(ms / trees.length).toFixed(2)} | ${evals.toExponential(2)} |`,
    );
  }
}

// Where the optimiser's passes run: the JavaScript reference (forwardColumns + reverseAdjoints, whole
// columns) against the WebAssembly kernel (lmPass: forward, reverse and J'J, J'r per 256-row block,
// f64x2), on the same trees with the same LM budget, side by side. Every pass is one forward and one
// reverse sweep; node evals/s = (nodes of the trees passed) x rows / s, counting the passes actually
// run (LM may stop early), while the time also covers scoring each tree before and after.
{
  const { columns, y, rows } = task.train;
  let work = 0;
  const counted =
    (make: (step: number) => LmBackend) =>
    (step: number): LmBackend => {
      const b = make(step);
      return {
        pass: (t, ...rest) => {
          work += t.op.length;
          return b.pass(t, ...rest);
        },
      };
    };
  const kernelData = coreScoreData(new WasmEngine(columns, y), columns, y);
  const variants: [string, ScoreData][] = [
    ['JavaScript', { ...kernelData, lm: counted(() => jsBackend(columns, y)) }],
    ['WebAssembly kernel', { ...kernelData, lm: counted(kernelData.lm!) }],
  ];
  const budget = 10;
  console.log(
    `\n| LM passes (${budget} evaluations, ${rows} rows) | ms per tree | node evals/s in passes | median relative loss difference to JavaScript |`,
  );
  console.log('|---|---|---|---|');
  const losses: number[][] = [];
  for (const [name, data] of variants) {
    work = 0;
    const t0 = performance.now();
    const out = trees.map((t) => scoreCandidate(t, data, { fitness: 'scaled-rmse', optimiser: { iterations: budget } }).loss);
    const ms = performance.now() - t0;
    losses.push(out);
    const diffs = out.map((l, i) => (Number.isFinite(l) && l > 0 ? Math.abs(l - losses[0]![i]!) / l : 0));
    console.log(
      `| ${name} | ${(ms / trees.length).toFixed(2)} | ${((work * rows) / (ms / 1000)).toExponential(2)} | ${median(diffs).toExponential(1)} |`,
    );
  }
}

// Known structures with perturbed constants on noiseless synthetic data: share of starts from which
// each method recovers the truth (scaled RMSE < 1e-6; targets are O(1)) within the budget.
import { makeDataset } from '../src/eval/dataset.js';
import { parseInfix } from '../src/tree/parse.js';
const xs = Float64Array.from({ length: 200 }, (_, i) => -2 + (4 * i) / 199);
const structures: [string, (x: number) => number][] = [
  ['sin((1 * x) + 0)', (x) => Math.sin(1.7 * x + 0.4)],
  ['exp((1 * x))', (x) => Math.exp(0.6 * x)],
  ['1 / (1 + (1 * square(x)))', (x) => 1 / (1 + 2.5 * x * x)],
  ['(1 * x) * cos((1 * x))', (x) => 0.8 * x * Math.cos(1.9 * x)],
];
console.log('\n| structure | budget | lm recovered | gradient recovered |');
console.log('|---|---|---|---|');
for (const [src, fn] of structures) {
  const ds = makeDataset(['x'], [xs], Float64Array.from(xs, fn));
  const t = parseInfix(src, ['x']);
  for (const budget of [10, 30]) {
    const ok = { lm: 0, gradient: 0 };
    const starts = 50;
    const r2 = new Rng(7);
    for (let k = 0; k < starts; k++) {
      const arg = Float64Array.from(t.arg, (a, i) => (t.op[i] === 0 ? a + r2.uniform(-0.8, 0.8) : a));
      for (const method of ['lm', 'gradient'] as const) {
        const r = scoreCandidate({ op: t.op, arg }, ds, { fitness: 'scaled-rmse', optimiser: { method, iterations: budget } });
        if (r.loss < 1e-6) ok[method]++;
      }
    }
    console.log(`| ${src} | ${budget} | ${ok.lm}/${starts} | ${ok.gradient}/${starts} |`);
  }
}
