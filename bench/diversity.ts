/**
 * Cost of the per-generation diversity measures against the cost of evaluating the same population
 * (run on demand: `npx tsx bench/diversity.ts`). Populations come from a real PIMP run so sizes are
 * realistic; figures are wall-clock on whatever machine runs it (noisy on a shared box).
 */
import { benchmarkTask } from '../problems/benchmarks.js';
import { ReferenceEvaluator } from '../src/eval/reference.js';
import { treeDiversity } from '../src/diversity/index.js';
import { runRegression } from '../src/sr/run.js';
import type { Tree } from '../src/tree/tree.js';

const problem = (process.argv[2] ?? 'keijzer-6') as Parameters<typeof benchmarkTask>[0];
const task = benchmarkTask(problem, 1);
const populationSize = Number(process.argv[3] ?? 500);
const run = await runRegression(task, { seed: 3, populationSize, generations: 20, selection: 'pimp' });
const pop = run.population;
const genomes = pop.map((p) => p.genome as Tree);
const nodes = genomes.reduce((s, g) => s + g.op.length, 0);

function time(label: string, reps: number, f: () => unknown): number {
  f(); // warm-up
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) f();
  const ms = (performance.now() - t0) / reps;
  console.log(`${label.padEnd(44)} ${ms.toFixed(2).padStart(9)} ms`);
  return ms;
}

console.log(`${problem}: N = ${pop.length}, ${task.train.rows} training rows, mean size ${(nodes / pop.length).toFixed(1)}`);
const evaluator = new ReferenceEvaluator(task.train);
const evalMs = time('fitness evaluation (ReferenceEvaluator, reference)', 5, () => evaluator.evaluate(genomes));
console.log(`  = ${((nodes * task.train.rows) / (evalMs / 1000) / 1e6).toFixed(1)} M node evaluations/s`);
for (const sampleSize of [50, 100, 400]) {
  time(`measures, cold (sampleSize ${sampleSize})`, 5, () => treeDiversity(task.train, { sampleSize })(pop, 1));
}
const warm = treeDiversity(task.train);
warm(pop, 0);
time('measures, same genotypes as last generation', 5, () => warm(pop, 1));
time('all but the output vectors (sampleSize 100)', 5, () =>
  treeDiversity(task.train, { outputs: (trees) => trees.map(() => new Float64Array(0)) })(pop, 1),
);

// Whole runs: the overhead of leaving the measures on (same seed, same result).
for (const diversity of [false, true]) {
  const t0 = performance.now();
  const r = await runRegression(task, { seed: 4, populationSize, generations: 10, selection: 'pimp', diversity });
  const s = (performance.now() - t0) / 1000;
  console.log(`run of 10 generations, diversity ${diversity ? 'on ' : 'off'}: ${s.toFixed(2)} s (best ${r.best.trainRmse.toPrecision(4)})`);
}
