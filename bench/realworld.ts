/**
 * Real-world symbolic regression benchmark: every data set in ../shared/data/sr (Operon's JSON beside
 * each CSV names target and train/test rows), a fixed budget, several seeds, per data set and
 * selection mode: median and worst test R^2 (and the median without clamping), median training R^2,
 * median model size and median wall time per run, beside Operon's figures from the issue.
 *
 * Each run is the real `gpmate run --data SET.csv` (dist/src/cli/main.js, so `npm run build` first)
 * in a child process with one thread, `--jobs` of them at a time; its summary.json stays in `--out`,
 * and a run whose summary.json is already there (with the same arguments, kept in args.json) is read,
 * not rerun: an interrupted benchmark resumes.
 *
 *   npx tsx bench/realworld.ts [--data DIR[,DIR] | suite] [--sets A,B] [--modes pimp,tournament,random-mate]
 *     [--seeds 1-10] [--population 1000] [--generations 100] [--jobs 2] [--out DIR] [--json FILE]
 *     [--operon PATH] [-- extra run flags]
 *
 * `--data suite` runs the 26 sets of the tuning suite (../shared/data/sr and ../shared/data/pmlb, bench/SUITE.md);
 * after the table a line per mode counts the sets whose median is at or above Operon's and the runs below 0.
 *
 * `--operon PATH` (an `operon_gp` binary) also runs Operon on every set with the same seeds, population and
 * generations, at its own defaults without coefficient tuning (bench/operon.ts, operonDefaultArgs: the
 * settings of the pmlb README's figures), kept in `--out` as SET-operon-seedN.json and reused the same way;
 * the table then shows its median and worst beside the recorded figures, and the count is made against both.
 *
 * Defaults: the issue's grid (population 1000, 100 generations, seeds 1-10, all sets, all three modes)
 * with the `--data` defaults of `gpmate run`; flags after `--` go to every run (e.g. `-- --optimise 0`).
 * Figures, not pass/fail.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { intFlag } from './common.js';
import { operonDefaultArgs, operonLastStats, type Meta } from './operon.js';
import { median, operonFigures, seedList, srDataDir, suiteDirs } from './sr-data.js';

const { values: v, positionals } = parseArgs({
  options: {
    sets: { type: 'string' },
    modes: { type: 'string', default: 'pimp,tournament,random-mate' },
    seeds: { type: 'string', default: '1-10' },
    population: { type: 'string', default: '1000' },
    generations: { type: 'string', default: '100' },
    jobs: { type: 'string', default: '2' },
    out: { type: 'string', default: 'bench-realworld' },
    json: { type: 'string' },
    data: { type: 'string', default: srDataDir() },
    operon: { type: 'string' },
  },
  allowPositionals: true,
});

/** Operon's median and worst test R^2 per set (the issue's for the sr sets, the pmlb README's for the others). */
const OPERON = operonFigures();

/** --data: one folder or several, comma-separated (`suite`: the 26 sets of bench/suite.ts). */
const dataDirs = v.data === 'suite' ? suiteDirs() : (v.data as string).split(',');
const csvOf = new Map<string, string>();
for (const dir of dataDirs) {
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort())
    csvOf.set(basename(f, '.csv'), join(dir, f));
}
/** A set's CSV file: found in the --data folders, else (a set named by --sets) in the first of them. */
const csvFor = (set: string): string => csvOf.get(set) ?? join(dataDirs[0]!, `${set}.csv`);
const all = [...csvOf.keys()];
const sets = v.sets ? v.sets.split(',') : all;
const modes = (v.modes as string).split(',');
const seeds = seedList(v.seeds as string);
const jobs = intFlag('jobs', v.jobs, 1);
const outDir = v.out as string;
const extra = positionals;
const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);

interface Run {
  set: string;
  mode: string;
  seed: number;
  dir: string;
}
interface Outcome extends Run {
  testR2: number;
  testR2Unclamped: number;
  trainR2: number;
  size: number;
  wall: number;
}

const runs: Run[] = sets.flatMap((set) =>
  modes.flatMap((mode) => seeds.map((seed) => ({ set, mode, seed, dir: join(outDir, `${set}-${mode}-seed${seed}`) }))),
);

function read(r: Run): Outcome {
  const s = JSON.parse(readFileSync(join(r.dir, 'summary.json'), 'utf8')) as {
    best: { testR2?: number; testR2Unclamped?: number; trainR2: number; size: number };
  };
  const wall = existsSync(join(r.dir, 'wall.txt')) ? Number(readFileSync(join(r.dir, 'wall.txt'), 'utf8')) : NaN;
  const b = s.best;
  return { ...r, testR2: b.testR2 ?? NaN, testR2Unclamped: b.testR2Unclamped ?? b.testR2 ?? NaN, trainR2: b.trainR2, size: b.size, wall };
}

function execute(r: Run): Promise<Outcome> {
  const args = [
    cli,
    'run',
    '--data',
    csvFor(r.set),
    '--selection',
    r.mode,
    '--population',
    v.population as string,
    '--generations',
    v.generations as string,
  ];
  args.push('--seed', String(r.seed), '--threads', '1', '--quiet', '--out', r.dir, ...extra);
  // a finished run is reused only when it was run with the same arguments
  const argsFile = join(r.dir, 'args.json');
  const argsText = JSON.stringify(args.slice(1));
  if (existsSync(join(r.dir, 'summary.json'))) {
    if (existsSync(argsFile) && readFileSync(argsFile, 'utf8') === argsText) return Promise.resolve(read(r));
    throw new Error(`${r.dir}: holds a run with other arguments (or none recorded); give another --out`);
  }
  mkdirSync(r.dir, { recursive: true });
  writeFileSync(argsFile, argsText);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${r.set} ${r.mode} seed ${r.seed}: gpmate run exited ${code}: ${err.trim()}`));
      writeFileSync(join(r.dir, 'wall.txt'), ((performance.now() - t0) / 1000).toFixed(1));
      resolve(read(r));
    });
  });
}

const f = (x: number) =>
  !Number.isFinite(x) ? String(x) : Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(3);

/** `work` on every item, `jobs` at a time; the results in the items' order. */
async function inTurn<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(jobs, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}

const outcomes = await inTurn(runs, async (r) => {
  const o = await execute(r);
  process.stderr.write(
    `${o.set} ${o.mode} seed ${o.seed}: test R2 ${f(o.testR2)} (unclamped ${f(o.testR2Unclamped)}) train R2 ${f(o.trainR2)} size ${o.size} ${o.wall.toFixed(1)} s\n`,
  );
  return o;
});

/** One Operon run (`--operon`) per set and seed: its test R^2, reused from `--out` when run with the same arguments. */
interface OperonRun {
  set: string;
  seed: number;
  testR2: number;
}

function operonRun(set: string, seed: number): Promise<OperonRun> {
  const csv = csvFor(set);
  const meta = JSON.parse(readFileSync(csv.replace(/\.csv$/, '.json'), 'utf8')) as Meta;
  const args = operonDefaultArgs(csv, meta, { population: Number(v.population), generations: Number(v.generations), seed, threads: 1 });
  const file = join(outDir, `${set}-operon-seed${seed}.json`);
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as { args: string[]; testR2: number };
    if (JSON.stringify(kept.args) === JSON.stringify(args)) return Promise.resolve({ set, seed, testR2: kept.testR2 });
    throw new Error(`${file}: holds an Operon run with other arguments; give another --out`);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(v.operon as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const testR2 = operonLastStats(out)['r2_te'];
      if (code !== 0 || testR2 === undefined) return reject(new Error(`${set} Operon seed ${seed}: exited ${code}: ${err.trim()}`));
      mkdirSync(outDir, { recursive: true });
      writeFileSync(file, JSON.stringify({ args, testR2 }) + '\n');
      resolve({ set, seed, testR2 });
    });
  });
}

const operonJobs = v.operon ? sets.flatMap((set) => seeds.map((seed) => ({ set, seed }))) : [];
const operonRuns = await inTurn(operonJobs, ({ set, seed }) => operonRun(set, seed));
/** Median and worst test R^2 of the Operon runs made here, per set. */
const operonHere = new Map(
  sets.map((set) => {
    const r2 = operonRuns.filter((r) => r.set === set).map((r) => r.testR2);
    return [set, r2.length ? ([median(r2), Math.min(...r2)] as const) : undefined] as const;
  }),
);

console.log(
  `# bench/realworld  population ${v.population}, generations ${v.generations}, seeds ${v.seeds}, ${jobs} runs at a time; run flags: ${extra.join(' ') || '(the --data defaults)'}`,
);
const hereHead = v.operon ? ` Operon run here (seeds ${v.seeds}) median / worst |` : '';
console.log(
  `| data set | mode | runs | median test R2 | worst test R2 | median test R2 unclamped | median train R2 | median size | median wall s | Operon median / worst |${hereHead}`,
);
console.log(`|---|---|---|---|---|---|---|---|---|---|${v.operon ? '---|' : ''}`);
for (const set of sets) {
  for (const mode of modes) {
    const os = outcomes.filter((o) => o.set === set && o.mode === mode);
    const test = os.map((o) => o.testR2);
    const op = OPERON.get(set);
    const here = operonHere.get(set);
    const hereCell = v.operon ? ` ${here ? `${f(here[0])} / ${f(here[1])}` : '-'} |` : '';
    console.log(
      `| ${set} | ${mode} | ${os.length} | ${f(median(test))} | ${f(Math.min(...test))} | ${f(median(os.map((o) => o.testR2Unclamped)))} | ${f(median(os.map((o) => o.trainR2)))} | ${median(os.map((o) => o.size))} | ${median(os.map((o) => o.wall)).toFixed(1)} | ${op ? `${op[0]} / ${op[1]}` : '-'} |${hereCell}`,
    );
  }
}
for (const mode of modes) {
  const os = outcomes.filter((o) => o.mode === mode);
  let level = 0;
  let compared = 0;
  let levelHere = 0;
  for (const set of sets) {
    const op = OPERON.get(set);
    const m = median(os.filter((o) => o.set === set).map((o) => o.testR2));
    // Operon's figures have three decimals: level means at or above them at that precision
    const m3 = Math.round(m * 1000) / 1000;
    if (op) {
      compared++;
      if (m3 >= op[0]) level++;
    }
    const here = operonHere.get(set);
    if (here && m3 >= Math.round(here[0] * 1000) / 1000) levelHere++;
  }
  const hereText = v.operon ? ` (Operon run here on the same seeds: ${levelHere} of ${sets.length})` : '';
  const below0 = os.filter((o) => !(o.testR2 >= 0));
  console.log(
    `${mode}: median at or above Operon's on ${level} of ${compared} sets${hereText}; ${below0.length} of ${os.length} runs below 0${below0.length ? ` (${below0.map((o) => `${o.set} seed ${o.seed} ${f(o.testR2)}`).join(', ')})` : ''}; mean wall ${(os.reduce((a, o) => a + o.wall, 0) / os.length).toFixed(1)} s per run`,
  );
}
if (v.json) writeFileSync(v.json, JSON.stringify(outcomes, null, 1) + '\n');
