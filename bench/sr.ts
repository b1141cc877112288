/**
 * A whole regression run against Operon's (`npm run bench:sr`): gpmate on the shared sets
 * (../shared/data/sr; Operon's JSON beside each CSV names target and train/test rows) at settings
 * that match `operon_gp`'s command line, a few seeds each. Per set and selection mode: median wall
 * seconds of a whole `gpmate run` process (start-up, data read and result files included), the share
 * of the run spent evaluating trees (from a CPU profile of the first seed's run, bench/profile.ts: in
 * the WebAssembly kernel alone, and with the scoring around it: compiling, encoding, scaling),
 * fitness evaluations per wall second, the median test R^2 and the population's mean tree size in the
 * last generation. Given `--operon PATH` to an `operon_gp` binary it runs Operon with the same settings
 * on the same seeds and prints the ratio of median wall seconds gpmate / Operon (< 1: gpmate is faster),
 * from this one invocation, with Operon's mean tree length in its last generation (`avg_len`): the two
 * tools evolve trees of different sizes under the same limits, and larger trees cost more per
 * evaluation (Operon's variable nodes carry a weight, so its length counts a `c * x` as one node where
 * gpmate counts three). operon_gp's flags and the columns read from its statistics table were checked
 * against its source at commit 2ef6ee87 (cli/source/util.cpp, cli/source/reporter.hpp) and run against a
 * build of it (bench/PROFILE.md, "Against Operon, side by side").
 *
 * Matched settings (Operon's flag / gpmate's flag):
 *   population 1000            --population-size 1000 --pool-size 1000 / --population 1000
 *   generations 100            --generations 100 / --generations 100
 *   tournament 5, both parents --female-selector tournament:5 --male-selector tournament:5 / --tournament 5
 *                              (gpmate's `tournament` mode; `pimp` picks the mate by preference from 5)
 *   crossover 1.0, mutation 0.25  --crossover-probability 1 --mutation-probability 0.25 / --crossover-rate 1 --mutation-rate 0.25
 *   length limit 50, depth 10  --maxlength 50 --maxdepth 10 / --max-size 50 --max-depth 10
 *   function set + - * /       --enable-symbols add,sub,mul,div (Operon's default set) / --functions add,sub,mul,div
 *   linear scaling             on by default in Operon / --linear-scaling on
 *   no constant optimisation   --iterations 0 / --optimise 0
 *   one elite                  Operon's default / gpmate's default
 *   one thread                 --threads 1 / --threads 1
 * gpmate also runs without the interval robustness check and the clamping of predictions (Operon has
 * neither): --robust off --clamp off. Left as each tool's own: tree creation (Operon BTC with lengths
 * up to 50, gpmate ramped half-and-half depths 2-6), the mutation operators (Operon's default mix of
 * one-point, change-variable, change-function, replace/insert/remove-subtree and discrete-point,
 * gpmate's subtree mutation), the reinserter (Operon keep-best) and Operon's fitness (R^2 after
 * scaling; gpmate scaled RMSE, the same order).
 *
 *   npm run bench:sr [-- --sets Pagie-1,Poly-10 --seeds 1-3 --modes tournament,pimp --operon PATH
 *     --population 1000 --generations 100 --threads 1 --no-profile]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { breakdown } from './profile.js';
import { operonArgs, operonLastStats, operonMatchedFlags, OPERON_SETTINGS, type Meta } from './operon.js';
import { median, seedList, srDataDir } from './sr-data.js';

function timed(cmd: string, args: readonly string[]): { seconds: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { seconds, stdout: r.stdout };
}

/**
 * The population's mean tree size in a run's last generation (generations.jsonl): beside Operon's `avg_len`
 * it tells how much of a wall-time ratio is work (larger trees cost more to evaluate and vary) and how much speed.
 */
function lastMeanSize(runDir: string): number {
  const lines = readFileSync(join(runDir, 'generations.jsonl'), 'utf8').trim().split('\n');
  return (JSON.parse(lines[lines.length - 1] as string) as { meanSize: number }).meanSize;
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const { values: v } = parseArgs({
    options: {
      sets: { type: 'string' },
      seeds: { type: 'string', default: '1-3' },
      modes: { type: 'string', default: 'tournament,pimp' },
      population: { type: 'string', default: '1000' },
      generations: { type: 'string', default: '100' },
      threads: { type: 'string', default: '1' },
      operon: { type: 'string' },
      'no-profile': { type: 'boolean' },
      data: { type: 'string', default: srDataDir() },
    },
  });
  const dataDir = v.data as string;
  const sets = v.sets
    ? v.sets.split(',')
    : readdirSync(dataDir)
        .filter((f) => f.endsWith('.csv'))
        .map((f) => basename(f, '.csv'))
        .sort();
  const seeds = seedList(v.seeds as string);
  const modes = (v.modes as string).split(',');
  const population = Number(v.population);
  const generations = Number(v.generations);
  const threads = Number(v.threads);
  const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'gpmate-bench-sr-'));
  const flags = operonMatchedFlags(OPERON_SETTINGS);
  console.log(
    `# bench/sr  population ${population}, generations ${generations}, seeds ${v.seeds}, ${threads} thread(s); gpmate flags: ${flags.join(' ')}`,
  );
  console.log(
    '| data set | mode | gpmate wall s | share in kernel / evaluating | evals/s | test R2 | mean size, last generation | Operon wall s | gpmate / Operon | Operon test R2 | Operon evals/s | Operon mean length, last generation |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  try {
    for (const set of sets) {
      const csv = join(dataDir, `${set}.csv`);
      const meta = JSON.parse(readFileSync(join(dataDir, `${set}.json`), 'utf8')) as Meta;
      let operon: { wall: number; r2: number; evals: number; length: number } | undefined;
      if (v.operon) {
        const runs = seeds.map((seed) => {
          const r = timed(v.operon as string, operonArgs(csv, meta, { population, generations, seed, threads }));
          const st = operonLastStats(r.stdout);
          return { wall: r.seconds, r2: st['r2_te'] ?? NaN, evals: (st['eval_cnt'] ?? NaN) / r.seconds, length: st['avg_len'] ?? NaN };
        });
        operon = {
          wall: median(runs.map((r) => r.wall)),
          r2: median(runs.map((r) => r.r2)),
          evals: median(runs.map((r) => r.evals)),
          length: median(runs.map((r) => r.length)),
        };
      }
      for (const mode of modes) {
        const out = join(dir, `${set}-${mode}`);
        const base = ['run', '--data', csv, '--selection', mode, '--population', String(population), '--generations', String(generations)];
        const runs = seeds.map((seed) => {
          const args = [...base, ...flags, '--seed', String(seed), '--threads', String(threads), '--quiet', '--out', `${out}-${seed}`];
          const r = timed(process.execPath, [cli, ...args]);
          const s = JSON.parse(readFileSync(join(`${out}-${seed}`, 'summary.json'), 'utf8')) as {
            evaluations: number;
            best: { testR2?: number };
          };
          return {
            wall: r.seconds,
            evals: s.evaluations / r.seconds,
            r2: s.best.testR2 ?? NaN,
            size: lastMeanSize(`${out}-${seed}`),
            args,
          };
        });
        let share = NaN;
        let evalShare = NaN;
        if (!v['no-profile']) {
          const args = runs[0]!.args;
          spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', 'p.cpuprofile', cli, ...args], {
            encoding: 'utf8',
          });
          const parts = breakdown(JSON.parse(readFileSync(join(dir, 'p.cpuprofile'), 'utf8')));
          const total = [...parts.values()].reduce((a, b) => a + b, 0);
          share = (parts.get('kernel evaluation') ?? 0) / total;
          evalShare = (['kernel evaluation', 'scoring calls', 'scaling'] as const).reduce((a, ph) => a + (parts.get(ph) ?? 0), 0) / total;
        }
        const wall = median(runs.map((r) => r.wall));
        const cells = [
          set,
          mode,
          wall.toFixed(2),
          Number.isNaN(share) ? '-' : `${(100 * share).toFixed(0)}% / ${(100 * evalShare).toFixed(0)}%`,
          median(runs.map((r) => r.evals)).toExponential(2),
          median(runs.map((r) => r.r2)).toFixed(3),
          median(runs.map((r) => r.size)).toFixed(1),
          operon ? operon.wall.toFixed(2) : '-',
          operon ? (wall / operon.wall).toFixed(2) : '-',
          operon ? operon.r2.toFixed(3) : '-',
          operon ? operon.evals.toExponential(2) : '-',
          operon ? operon.length.toFixed(1) : '-',
        ];
        console.log(`| ${cells.join(' | ')} |`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
