/**
 * Scoring cost on fixed trees (`npm run bench:scoring`): the same candidates scored by this build and,
 * with `--baseline`, by another, in alternating rounds. Whole runs of two builds that differ in any
 * result follow different searches (other trees, other sizes), so their wall times mix the change's cost
 * with the search's; here both builds score one list of trees, and the figures separate by far less.
 *
 * Per set: a `gpmate run --data SET.csv` of this build (population P, G generations, seed 1, one thread,
 * the `--data` defaults) is checkpointed at its end; N children are bred from that population by subtree
 * crossover (fixed seed, the preset's size limit), as a generation's offspring would be. Each build's
 * in-process regression scorer (src/sr/scoring.ts, the scoring settings of the `--data` defaults:
 * scaled fitness, Levenberg-Marquardt, the interval check) scores the list once to warm up, then once per
 * round. Printed: the median milliseconds over the rounds, throughput as node-evals/s (each tree's nodes
 * x training rows, once per tree), the ratio to the baseline, and whether the two builds' losses are
 * bit-identical (a change meant to keep every result must keep these); where they are not, how many
 * differ and each build's median loss.
 *
 *   npm run bench:scoring [-- --sets Pagie-1,Poly-10 --population 1000 --generations 30 --trees 1000
 *                          --rounds 15 --baseline OTHER/dist/src/cli/main.js]
 *
 * Sets: the six of ../shared/data/sr by default (names of ../shared/data/sr or ../shared/data/pmlb).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { intFlag, machine } from './common.js';
import { median, suiteDirs } from './sr-data.js';

const { values: v } = parseArgs({
  options: {
    sets: { type: 'string', default: 'AirfoilSelfNoise,Concrete,Nikuradse_1,Pagie-1,Poly-10,Vladislavleva-4' },
    population: { type: 'string', default: '1000' },
    generations: { type: 'string', default: '30' },
    trees: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '15' },
    baseline: { type: 'string' },
  },
});
const population = intFlag('population', v.population, 2);
const generations = intFlag('generations', v.generations, 1);
const trees = intFlag('trees', v.trees, 1);
const rounds = intFlag('rounds', v.rounds, 1);

/** A build's dist/ from its dist/src/cli/main.js. */
const distOf = (cli: string): string => resolve(dirname(cli), '..', '..');
const here = fileURLToPath(new URL('.', import.meta.url));
const dist = join(here, '..', 'dist');
const cli = join(dist, 'src', 'cli', 'main.js');
if (!existsSync(cli)) throw new Error(`${cli} is missing: npm run build first`);
if (v.baseline !== undefined && !existsSync(v.baseline)) throw new Error(`--baseline: no such file ${v.baseline}`);

/** A module of a build's compiled dist/ (both builds' scorers run compiled code alike). */
const from = <T>(d: string, path: string): Promise<T> => import(pathToFileURL(join(d, path)).href) as Promise<T>;
type Scoring = typeof import('../src/sr/scoring.js');
const mine = await from<Scoring>(dist, 'src/sr/scoring.js');
const other = v.baseline !== undefined ? await from<Scoring>(distOf(v.baseline), 'src/sr/scoring.js') : undefined;
// the rest from this build: the data, the settings, the population and its children
const { csvTask } = await from<typeof import('../problems/csv.js')>(dist, 'problems/csv.js');
const { readCheckpoint } = await from<typeof import('../src/sr/checkpoint.js')>(dist, 'src/sr/checkpoint.js');
const { resolveRegressionOptions } = await from<typeof import('../src/sr/options.js')>(dist, 'src/sr/options.js');
const { scoreSettings } = await from<typeof import('../src/sr/run.js')>(dist, 'src/sr/run.js');
const { Rng } = await from<typeof import('../src/core/rng.js')>(dist, 'src/core/rng.js');
const { subtreeCrossover } = await from<typeof import('../src/tree/variation.js')>(dist, 'src/tree/variation.js');

const dataPath = (set: string): string => {
  for (const d of suiteDirs()) {
    const f = join(d, `${set}.csv`);
    if (existsSync(f)) return f;
  }
  throw new Error(`--sets: no data set ${set} in ${suiteDirs().join(' or ')}`);
};
const sets = (v.sets as string).split(',').map((s) => [s, dataPath(s)] as const);

const work = mkdtempSync(join(tmpdir(), 'gpmate-bench-scoring-'));
const bits = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let differ = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differ++;
  return differ;
};
const medianFinite = (l: ArrayLike<number>): number => median(Array.from(l).filter(Number.isFinite));

console.log(`bench:scoring  ${machine()}`);
console.log(
  `trees bred from a checkpointed --data run (population ${population}, ${generations} generations, seed 1); ${trees} children by subtree crossover; median of ${rounds} rounds` +
    (other ? `, alternating with ${v.baseline}` : ''),
);
console.log('');
console.log(
  other
    ? '| set | training rows | mean nodes | ms | node-evals/s | baseline ms | ratio | losses identical |\n|---|---|---|---|---|---|---|---|'
    : '| set | training rows | mean nodes | ms | node-evals/s |\n|---|---|---|---|---|',
);
const s = resolveRegressionOptions({}, 'data');
const limits = { maxSize: s.maxSize, maxDepth: s.maxDepth };
const builds = other ? [mine, other] : [mine];
try {
  for (const [set, path] of sets) {
    const out = join(work, set);
    const args = ['run', '--data', path, '--population', String(population), '--generations', String(generations)];
    args.push('--seed', '1', '--threads', '1', '--quiet', '--checkpoint-every', String(generations), '--out', out);
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gpmate run on ${set} failed: ${r.stderr}`);
    const parents = readCheckpoint(join(out, 'checkpoint.json')).snapshot.state.population.map((i) => i.genome);
    const task = csvTask(path);
    const rng = new Rng(7);
    const list = Array.from({ length: trees }, () =>
      subtreeCrossover(rng, parents[rng.int(parents.length)]!, parents[rng.int(parents.length)]!, limits),
    );
    const nodes = list.reduce((a, t) => a + t.op.length, 0);
    const settings = scoreSettings(task.train, s);
    const scorers = builds.map((b) => new b.ScoringEvaluator(task.train, settings));
    const losses: ArrayLike<number>[] = [];
    for (const e of scorers) losses.push(await e.evaluate(list));
    const ms: number[][] = scorers.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (let b = 0; b < scorers.length; b++) {
        const t0 = performance.now();
        await scorers[b]!.evaluate(list);
        ms[b]!.push(performance.now() - t0);
      }
    }
    const mid = ms.map(median);
    const rate = (nodes * task.train.rows) / (mid[0]! / 1000);
    const row = [set, task.train.rows, (nodes / trees).toFixed(1), mid[0]!.toFixed(1), rate.toExponential(2)];
    if (other) {
      const differ = bits(losses[0]!, losses[1]!);
      const same =
        differ === 0
          ? 'yes'
          : `no: ${differ} differ; median loss ${medianFinite(losses[0]!).toPrecision(6)} / ${medianFinite(losses[1]!).toPrecision(6)}`;
      row.push(mid[1]!.toFixed(1), (mid[0]! / mid[1]!).toFixed(3), same);
    }
    console.log(`| ${row.join(' | ')} |`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
