/**
 * Threads within a run (`npm run bench:threads`): the same `gpmate run` on 1 and on 2 evaluation
 * threads, wall seconds and the ratio, and whether the result files are byte-identical (they must be).
 * Data: a generated CSV of 12,000 rows (10,000 for training: f(x) = x0 x1 + sin(x2) + 0.5 x3^2 +
 * noise, five inputs; the JSON beside it names the rows), where a pool has work to share, and Pagie-1
 * (676 training rows), where the default is in-process. Each with constant optimisation off
 * (`--optimise 0`) and with the `--data` defaults.
 *
 *   npm run bench:threads [-- --population 1000 --generations 30 --seed 1 --repeat 1 --baseline PATH]
 *
 * Beside them: two 1-thread runs started together, which bound what 2 threads can reach on this
 * machine (see runPair).
 *
 * `--repeat N` runs each configuration N times, interleaved, and keeps the shortest wall time of each
 * (a busy machine only ever lengthens a run). `--baseline PATH` (another build's dist/src/cli/main.js)
 * also runs that build on 2 threads in the same rounds, for a before/after column.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/rng.js';
import { intFlag, machine } from './common.js';
import { srDataDir } from './sr-data.js';

const { values: v } = parseArgs({
  options: {
    population: { type: 'string', default: '1000' },
    generations: { type: 'string', default: '30' },
    seed: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '1' },
    baseline: { type: 'string' },
  },
});
const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const repeat = intFlag('repeat', v.repeat, 1);
const baseline = v.baseline;
const dir = mkdtempSync(join(tmpdir(), 'gpmate-bench-threads-'));

/** The generated data set: 12,000 rows, the first 10,000 for training. */
function writeBig(): string {
  const rng = new Rng(42);
  const lines = ['x0,x1,x2,x3,x4,y'];
  for (let r = 0; r < 12_000; r++) {
    const x = Array.from({ length: 5 }, () => rng.uniform(-3, 3));
    const [a, b, c, d] = x as [number, number, number, number, number];
    lines.push([...x, a * b + Math.sin(c) + 0.5 * d * d + 0.1 * rng.normal()].join(','));
  }
  const csv = join(dir, 'big.csv');
  writeFileSync(csv, lines.join('\n') + '\n');
  writeFileSync(
    join(dir, 'big.json'),
    JSON.stringify({ metadata: { target: 'y', training_rows: { start: 0, end: 10_000 }, test_rows: { start: 10_000, end: 12_000 } } }),
  );
  return csv;
}

/** GNU time, where present: the CPU seconds of a run (all its threads), which a busy machine stretches less than wall time. */
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function run(args: readonly string[], out: string, build = cli): { wall: number; cpu: number } {
  rmSync(out, { recursive: true, force: true });
  const t0 = performance.now();
  const cmd = [process.execPath, build, 'run', ...args, '--quiet', '--out', out];
  const r = TIME
    ? spawnSync(TIME, ['-f', 'cpu %U %S', ...cmd], { encoding: 'utf8' })
    : spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gpmate run ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const m = /cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { wall: (performance.now() - t0) / 1000, cpu: m ? Number(m[1]) + Number(m[2]) : NaN };
}

/**
 * Wall seconds of two 1-thread runs started together (both finished). The machine runs two runs in that
 * time, so a run on 2 threads, however well parallelised, takes at least half of it: `pair / (2 x 1
 * thread)` is the best 2 / 1 ratio this machine allows (1/2 only where two runs at once do not slow
 * each other down; cores that share caches, memory bandwidth or a physical core do).
 */
async function runPair(args: readonly string[], outs: readonly [string, string]): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    outs.map((out) => {
      rmSync(out, { recursive: true, force: true });
      const child = spawn(process.execPath, [cli, 'run', ...args, '--threads', '1', '--quiet', '--out', out], { stdio: 'ignore' });
      return new Promise<void>((resolve, reject) =>
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`gpmate run ${args.join(' ')} exited ${code}`)))),
      );
    }),
  );
  return (performance.now() - t0) / 1000;
}

const same = (a: string, b: string): boolean =>
  ['summary.json', 'generations.jsonl', 'model.json'].every((f) => readFileSync(join(a, f), 'utf8') === readFileSync(join(b, f), 'utf8'));

console.log(`bench:threads  ${machine()}`);
console.log(
  `population ${v.population}, generations ${v.generations}, seed ${v.seed}; wall seconds of a whole gpmate run process` +
    (repeat > 1 ? ` (shortest of ${repeat}, interleaved)` : '') +
    (baseline ? `; baseline build ${baseline}` : '') +
    '\n',
);
const baseHead = baseline ? ' baseline 2 threads s | baseline 2 / 1 |' : '';
console.log(
  `| data | training rows | constant optimisation | 1 thread s | 2 threads s | 2 / 1 |${baseHead} two 1-thread runs at once s | best 2 / 1 here | CPU s 1 / 2 threads | identical files |`,
);
console.log(`|---|---|---|---|---|---|${baseline ? '---|---|' : ''}---|---|---|---|`);
try {
  const sets: [string, string, number][] = [
    ['generated 12k', writeBig(), 10_000],
    ['Pagie-1', join(srDataDir(), 'Pagie-1.csv'), 676],
  ];
  for (const [name, csv, rows] of sets) {
    for (const [label, extra] of [
      ['off', ['--optimise', '0']],
      ['--data defaults', []],
    ] as const) {
      const args = [
        '--data',
        csv,
        '--population',
        v.population as string,
        '--generations',
        v.generations as string,
        '--seed',
        v.seed as string,
        ...extra,
      ];
      const a = join(dir, `${name}-${label}-1`.replace(/\W+/g, '_'));
      const b = join(dir, `${name}-${label}-2`.replace(/\W+/g, '_'));
      const c = join(dir, `${name}-${label}-base`.replace(/\W+/g, '_'));
      const shortest = (x: { wall: number; cpu: number } | undefined, y: { wall: number; cpu: number }) => (x && x.wall <= y.wall ? x : y);
      let t1: { wall: number; cpu: number } | undefined;
      let t2: { wall: number; cpu: number } | undefined;
      let tb: { wall: number; cpu: number } | undefined;
      let pair = Infinity;
      for (let k = 0; k < repeat; k++) {
        t1 = shortest(t1, run([...args, '--threads', '1'], a));
        t2 = shortest(t2, run([...args, '--threads', '2'], b));
        if (baseline) tb = shortest(tb, run([...args, '--threads', '2'], c, baseline));
        pair = Math.min(pair, await runPair(args, [`${a}-p1`, `${a}-p2`]));
      }
      const cpu = `${t1!.cpu.toFixed(2)} / ${t2!.cpu.toFixed(2)}`;
      const base = tb ? ` ${tb.wall.toFixed(2)} | ${(tb.wall / t1!.wall).toFixed(2)} |` : '';
      const bound = ` ${pair.toFixed(2)} | ${(pair / (2 * t1!.wall)).toFixed(2)} |`;
      console.log(
        `| ${name} | ${rows} | ${label} | ${t1!.wall.toFixed(2)} | ${t2!.wall.toFixed(2)} | ${(t2!.wall / t1!.wall).toFixed(2)} |${base}${bound} ${cpu} | ${same(a, b) ? 'yes' : 'NO'} |`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
