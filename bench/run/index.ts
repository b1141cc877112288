/**
 * End-to-end: gpmate against DEAP's eaSimple on Keijzer-6 and Pagie-1 with equal settings (population,
 * generations, tournament size, crossover and mutation rates, ramped half-and-half 2..6, subtree
 * crossover and mutation (new subtrees of depth <= 4), depth limit 17, the benchmark's function set,
 * constants in [-1, 1]). Both use plain tournament selection; gpmate keeps no elite (eaSimple has none).
 * DEAP evaluates RMSE vectorised over numpy columns. Prints wall time per generation and the ratio.
 *
 * Usage: npm run bench:run [-- --population 500 --generations 30 --seeds 2 --python /usr/bin/python3]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchmarkTask } from '../../problems/benchmarks.js';
import { createEvaluator } from '../../src/eval/wasm-evaluator.js';
import { DEFAULT_FUNCTIONS } from '../../src/tree/primitives.js';
import { runRegression, type RegressionOptions } from '../../src/sr/run.js';
import { machine } from '../common.js';

const { values: v } = parseArgs({
  options: { population: { type: 'string' }, generations: { type: 'string' }, seeds: { type: 'string' }, python: { type: 'string' } },
});
const population = Number(v.population ?? 500);
const generations = Number(v.generations ?? 30);
const seeds = Number(v.seeds ?? 2);
const python = v.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const script = new URL('../../../bench/run/deap_run.py', import.meta.url).pathname;
const threads = availableParallelism();
const settings = { tournamentSize: 5, crossoverRate: 0.9, mutationRate: 0.1 };

console.log(`bench:run  ${machine()}`);
console.log(
  `population ${population}, generations ${generations}, tournament ${settings.tournamentSize}, crossover ${settings.crossoverRate}, mutation ${settings.mutationRate}; mean over ${seeds} seeds`,
);
console.log('wall time per generation (ms) and the ratio DEAP / gpmate (> 1: gpmate is faster)\n');
console.log(
  ['problem', 'rows', 'DEAP', 'gpmate 1t', 'ratio', `gpmate ${threads}t`, 'ratio', 'best DEAP', 'best gpmate']
    .map((s) => s.padStart(12))
    .join(''),
);

const dir = mkdtempSync(join(tmpdir(), 'gpmate-bench-run-'));
try {
  for (const problem of ['keijzer-6', 'pagie-1'] as const) {
    let deapS = 0;
    let ours1 = 0;
    let oursN = 0;
    let bestDeap = 0;
    let bestOurs = 0;
    let rows = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const task = benchmarkTask(problem, seed);
      rows = task.train.rows;
      const functions = task.functions ?? DEFAULT_FUNCTIONS;
      const o: RegressionOptions = {
        seed,
        selection: 'tournament',
        populationSize: population,
        generations,
        elites: 0,
        ...settings,
        functions,
        mutationDepth: 4,
        initDepth: [2, 6],
        maxDepth: 17,
      };
      let t0 = performance.now();
      const r1 = await runRegression(task, o);
      ours1 += (performance.now() - t0) / 1000;
      bestOurs += r1.best.trainRmse / seeds;
      const ev = createEvaluator(task.train, { threads });
      t0 = performance.now();
      await runRegression(task, o, {}, ev);
      oursN += (performance.now() - t0) / 1000;
      await ev.close();

      const csv = [[...task.train.names, 'y'].join(',')];
      for (let r = 0; r < rows; r++) csv.push([...task.train.columns.map((c) => c[r]), task.train.y[r]].join(','));
      writeFileSync(join(dir, 'train.csv'), csv.join('\n') + '\n');
      const p = spawnSync(
        python,
        [
          script,
          join(dir, 'train.csv'),
          functions.join(','),
          String(population),
          String(generations),
          String(settings.tournamentSize),
          String(settings.crossoverRate),
          String(settings.mutationRate),
          String(seed),
        ],
        { encoding: 'utf8' },
      );
      if (p.status !== 0) throw new Error(`deap_run.py failed: ${p.stderr}`);
      const d = JSON.parse(p.stdout.replace(/Infinity/g, '1e999')) as { seconds: number; best: number };
      deapS += d.seconds;
      bestDeap += d.best / seeds;
    }
    const per = (s: number): number => (1000 * s) / seeds / generations;
    const row = [
      problem,
      String(rows),
      per(deapS).toFixed(1),
      per(ours1).toFixed(1),
      (deapS / ours1).toFixed(2) + 'x',
      per(oursN).toFixed(1),
      (deapS / oursN).toFixed(2) + 'x',
      bestDeap.toPrecision(4),
      bestOurs.toPrecision(4),
    ];
    console.log(row.map((x) => x.padStart(12)).join(''));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
