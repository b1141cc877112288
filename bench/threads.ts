/**
 * Threads within a run (`npm run bench:threads`): the same `gpmate run` on 1 and on 2 evaluation
 * threads, wall seconds and the ratio, and whether the result files are byte-identical (they must be).
 * Data: a generated CSV of 12,000 rows (10,000 for training: f(x) = x0 x1 + sin(x2) + 0.5 x3^2 +
 * noise, five inputs; the JSON beside it names the rows), where a pool has work to share, and Pagie-1
 * (676 training rows), where the default is in-process. Each with constant optimisation off
 * (`--optimise 0`) and with the `--data` defaults.
 *
 *   npm run bench:threads [-- --population 1000 --generations 30 --seed 1]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/rng.js';
import { machine } from './common.js';
import { srDataDir } from './sr-data.js';

const { values: v } = parseArgs({
  options: {
    population: { type: 'string', default: '1000' },
    generations: { type: 'string', default: '30' },
    seed: { type: 'string', default: '1' },
  },
});
const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
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

function run(args: readonly string[], out: string): { wall: number; cpu: number } {
  const t0 = performance.now();
  const cmd = [process.execPath, cli, 'run', ...args, '--quiet', '--out', out];
  const r = TIME
    ? spawnSync(TIME, ['-f', 'cpu %U %S', ...cmd], { encoding: 'utf8' })
    : spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gpmate run ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const m = /cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { wall: (performance.now() - t0) / 1000, cpu: m ? Number(m[1]) + Number(m[2]) : NaN };
}

const same = (a: string, b: string): boolean =>
  ['summary.json', 'generations.jsonl', 'model.json'].every((f) => readFileSync(join(a, f), 'utf8') === readFileSync(join(b, f), 'utf8'));

console.log(`bench:threads  ${machine()}`);
console.log(`population ${v.population}, generations ${v.generations}, seed ${v.seed}; wall seconds of a whole gpmate run process\n`);
console.log('| data | training rows | constant optimisation | 1 thread s | 2 threads s | 2 / 1 | CPU s 1 / 2 threads | identical files |');
console.log('|---|---|---|---|---|---|---|---|');
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
      const t1 = run([...args, '--threads', '1'], a);
      const t2 = run([...args, '--threads', '2'], b);
      const cpu = `${t1.cpu.toFixed(2)} / ${t2.cpu.toFixed(2)}`;
      console.log(
        `| ${name} | ${rows} | ${label} | ${t1.wall.toFixed(2)} | ${t2.wall.toFixed(2)} | ${(t2.wall / t1.wall).toFixed(2)} | ${cpu} | ${same(a, b) ? 'yes' : 'NO'} |`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
