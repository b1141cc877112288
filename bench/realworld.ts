/**
 * Real-world symbolic regression benchmark: every data set in ../shared/data/sr (Operon's JSON beside
 * each CSV names target and train/test rows), a fixed budget, several seeds, per data set and
 * selection mode: median and worst test R^2, median model size, median wall time; optionally the
 * same grid without constant optimisation, to price it.
 *
 *   npx tsx bench/realworld.ts [--sets A,B] [--modes pimp,tournament,random-mate] [--seeds 1-10]
 *     [--population 1000] [--generations 100] [--optimise 10] [--select best|score|validation]
 *     [--objectives error|error-size] [--robust on|off] [--max-size S] [--without-optimise] [--json FILE]
 *
 * Defaults are the grid (population 1000, 100 generations, seeds 1-10, all sets, pimp and
 * tournament); on a shared 2-core machine use reductions. Figures, not pass/fail.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { csvTask } from '../problems/csv.js';
import { srDataDir } from './sr-data.js';
import type { SelectionMode } from '../src/core/types.js';
import type { ModelSelection } from '../src/sr/pareto.js';
import { runRegression } from '../src/sr/run.js';

const DATA = srDataDir();

const { values: v } = parseArgs({
  options: {
    sets: { type: 'string' },
    modes: { type: 'string', default: 'pimp,tournament' },
    seeds: { type: 'string', default: '1-10' },
    population: { type: 'string', default: '1000' },
    generations: { type: 'string', default: '100' },
    optimise: { type: 'string', default: '10' },
    select: { type: 'string', default: 'best' },
    objectives: { type: 'string', default: 'error' },
    robust: { type: 'string', default: 'on' },
    'max-size': { type: 'string', default: '256' },
    'without-optimise': { type: 'boolean', default: false },
    json: { type: 'string' },
    data: { type: 'string', default: DATA },
  },
});

function seedList(s: string): number[] {
  return s.split(',').flatMap((part) => {
    const m = /^(\d+)-(\d+)$/.exec(part);
    if (!m) return [Number(part)];
    const out: number[] = [];
    for (let i = Number(m[1]); i <= Number(m[2]); i++) out.push(i);
    return out;
  });
}

const dataDir = v.data as string;
const all = readdirSync(dataDir).filter((f) => f.endsWith('.csv')).map((f) => basename(f, '.csv')).sort();
const sets = v.sets ? v.sets.split(',') : all;
const modes = (v.modes as string).split(',') as SelectionMode[];
const seeds = seedList(v.seeds as string);
const optimiseLevels = v['without-optimise'] ? [Number(v.optimise), 0] : [Number(v.optimise)];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const f = (x: number) => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(3));

console.log(`# bench/realworld  population ${v.population}, generations ${v.generations}, seeds ${v.seeds}, select ${v.select}, objectives ${v.objectives}, robust ${v.robust}, max size ${v['max-size']}`);
console.log('| data set | mode | optimise | median test R2 | worst test R2 | median train R2 | median size | median wall s |');
console.log('|---|---|---|---|---|---|---|---|');
const rows: object[] = [];
for (const set of sets) {
  const task = csvTask(join(dataDir, `${set}.csv`));
  for (const mode of modes) {
    for (const opt of optimiseLevels) {
      const test: number[] = [];
      const train: number[] = [];
      const size: number[] = [];
      const wall: number[] = [];
      for (const seed of seeds) {
        const t0 = performance.now();
        const r = await runRegression(task, {
          seed,
          selection: mode,
          populationSize: Number(v.population),
          generations: Number(v.generations),
          linearScaling: true,
          robust: v.robust === 'on',
          optimiseIterations: opt,
          selectModel: v.select as ModelSelection,
          objectives: v.objectives as 'error' | 'error-size',
          maxSize: Number(v['max-size']),
        });
        wall.push((performance.now() - t0) / 1000);
        test.push(r.best.testR2 ?? NaN);
        train.push(r.best.trainR2);
        size.push(r.best.size);
        rows.push({ set, mode, optimise: opt, seed, testR2: r.best.testR2, trainR2: r.best.trainR2, size: r.best.size, wall: wall[wall.length - 1], expression: r.best.expression });
        process.stderr.write(`${set} ${mode} opt=${opt} seed ${seed}: test R2 ${f(r.best.testR2 ?? NaN)} train R2 ${f(r.best.trainR2)} size ${r.best.size} ${wall[wall.length - 1]!.toFixed(1)} s\n`);
      }
      console.log(`| ${set} | ${mode} | ${opt} | ${f(median(test))} | ${f(Math.min(...test))} | ${f(median(train))} | ${median(size)} | ${median(wall).toFixed(1)} |`);
    }
  }
}
if (v.json) writeFileSync(v.json, JSON.stringify(rows, null, 1));
