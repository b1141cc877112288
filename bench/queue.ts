// Studies through the Redis queue against the local runner: figures, not pass/fail. Starts its own
// redis-server on a free loopback port (no persistence) and worker processes on this machine.
// Usage: npx tsc -p tsconfig.json && npx tsx bench/queue.ts [overhead|throughput|studies|all] [repeats=3]
//   overhead    tiny runs: local runner (one at a time) vs coordinator + one worker process (one at a time)
//   throughput  no-op jobs (a stored result of paper size, no run): jobs stored per second with several workers
//   studies     studies/smoke.json and studies/paper-reduced.json: --threads 2 vs two worker processes
// Tables are checked equal to the local runner's wherever runs are real.
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { coordinateStudy } from '../src/study/coordinator.js';
import { executeRun } from '../src/study/execute.js';
import { startQueueWorker } from '../src/study/queue-worker.js';
import { runStudy } from '../src/study/runner.js';
import type { RunRecord } from '../src/study/store.js';
import { startRedis } from '../test/redis.js';
import { machine } from './common.js';

const CLI = resolve('dist/src/cli/main.js');

// A worker process doing no-op jobs: `bench/queue.ts noop-worker URL CONCURRENCY` (spawned below).
if (process.argv[2] === 'noop-worker') {
  const record = await paperSizedRecord();
  const w = await startQueueWorker({ queue: process.argv[3] as string, concurrency: Number(process.argv[4]), execute: async () => record });
  process.on('SIGTERM', () => void w.stop(true));
  await w.stopped;
  process.exit(0);
}

/** The record of one real run with 50 generations and the diversity measures: what a paper-study job returns. */
async function paperSizedRecord(): Promise<RunRecord> {
  return executeRun({
    problem: { name: 'koza-1', problem: 'koza-1' },
    options: { populationSize: 20, generations: 50, maxDepth: 8 },
    seed: 1,
    diversity: true,
  });
}

const part = process.argv[2] ?? 'all';
const repeats = Number(process.argv[3] ?? 3);
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const dir = mkdtempSync(join(tmpdir(), 'gpmate-bench-queue-'));
const redis = await startRedis();
let db = 0;
const nextQueue = (): string => `redis://127.0.0.1:${redis.port}/${++db % 16}`;
console.log(`${machine()}; redis-server on port ${redis.port}; load average ${load()}`);

/** `n` worker processes serving the queue; resolves once each has said it is ready. */
async function workers(queue: string, n: number, concurrency: number, noop = false): Promise<ChildProcess[]> {
  const args = noop
    ? [...process.execArgv, process.argv[1] as string, 'noop-worker', queue, String(concurrency)]
    : [CLI, 'study', 'worker', '--queue', queue, '--concurrency', String(concurrency), '--quiet'];
  const ps = Array.from({ length: n }, () => spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  // Ready when the worker's connection shows in CLIENT LIST: poll the status the coordinator would see.
  const { queueStatus } = await import('../src/study/queue-status.js');
  for (;;) {
    if (((await queueStatus(queue)).workers?.length ?? 0) >= n) return ps;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(ps: ChildProcess[]): Promise<void> {
  await Promise.all(
    ps.map(
      (p) =>
        new Promise<void>((r) => {
          p.once('exit', () => r());
          p.kill('SIGTERM');
        }),
    ),
  );
}

function tables(path: string): string {
  const d = new Database(path, { readonly: true });
  try {
    const cols =
      'cell, seed, status, best_train, best_test, train_r2, test_r2, success, size, depth, expression, preference, generations, evaluations, error';
    return JSON.stringify([
      d.prepare(`SELECT ${cols} FROM runs ORDER BY cell, seed`).all(),
      d.prepare('SELECT * FROM generations ORDER BY cell, seed, generation').all(),
    ]);
  } finally {
    d.close();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Wall seconds of `gpmate ARGS` as a child process (what a user waits for), failing on a non-zero exit. */
function timed(args: string[]): Promise<number> {
  const t0 = performance.now();
  const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((res, rej) =>
    p.once('exit', (code) =>
      code === 0 ? res((performance.now() - t0) / 1000) : rej(new Error(`gpmate ${args.join(' ')}: exit ${code}`)),
    ),
  );
}

/**
 * One study `reps` times locally and through the queue (`nWorkers` worker processes, one run at a time each),
 * the order alternating between repeats; seconds of each, the tables checked equal.
 */
async function sideBySide(
  name: string,
  reps: number,
  nWorkers: number,
  local: (db: string) => Promise<number>,
  queued: (db: string, queue: string) => Promise<number>,
): Promise<{ local: number[]; queued: number[] }> {
  const out = { local: [] as number[], queued: [] as number[] };
  for (let r = 0; r < reps; r++) {
    const queue = nextQueue();
    const ps = await workers(queue, nWorkers, 1);
    for (const how of r % 2 === 0 ? (['local', 'queued'] as const) : (['queued', 'local'] as const)) {
      const path = join(dir, `${name}-${how}-${r}.db`);
      out[how].push(how === 'local' ? await local(path) : await queued(path, queue));
      console.log(`  ${name} repeat ${r + 1} ${how}: ${out[how].at(-1)?.toFixed(2)} s, load average ${load()}`);
    }
    await stop(ps);
    if (tables(join(dir, `${name}-local-${r}.db`)) !== tables(join(dir, `${name}-queued-${r}.db`)))
      throw new Error(`${name}: tables differ`);
  }
  return out;
}

if (part === 'overhead' || part === 'all') {
  const runs = 120;
  const file = join(dir, 'tiny.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'tiny',
      problems: ['koza-1'],
      selection: ['pimp', 'tournament', 'random-mate'],
      settings: { populationSize: 10, generations: 2 },
      seeds: runs / 3,
    }),
  );
  const { local, queued } = await sideBySide(
    'tiny',
    repeats,
    1,
    (db) => timed(['study', 'run', file, '--db', db, '--threads', '1', '--quiet']),
    (db, queue) => timed(['study', 'run', file, '--db', db, '--queue', queue, '--quiet']),
  );
  const perRun = (xs: number[]): string => `${((median(xs) / runs) * 1000).toFixed(1)} ms/run`;
  console.log(
    `\noverhead: ${runs} tiny runs (koza-1, population 10, 2 generations), ${repeats} repeats, wall time of the gpmate process, load average now ${load()}`,
  );
  console.log(
    `  study run --threads 1 (in the main thread):           median ${median(local).toFixed(2)} s (${local.map((x) => x.toFixed(2)).join(', ')}), ${perRun(local)}`,
  );
  console.log(
    `  study run --queue + 1 worker process (1 at a time):   median ${median(queued).toFixed(2)} s (${queued.map((x) => x.toFixed(2)).join(', ')}), ${perRun(queued)}`,
  );
  console.log(`  difference per job: ${(((median(queued) - median(local)) / runs) * 1000).toFixed(1)} ms (tables identical)`);
}

if (part === 'throughput' || part === 'all') {
  const jobs = 2000;
  const file = join(dir, 'noop.json');
  writeFileSync(file, JSON.stringify({ name: 'noop', problems: ['koza-1'], selection: ['pimp', 'tournament'], seeds: jobs / 2 }));
  console.log(
    `\nthroughput: ${jobs} no-op jobs, each returning a paper-sized result (51 generation rows with diversity), load average ${load()}`,
  );
  // One worker, one job at a time: the queue's own cost per job (fetch, lock, completion; storing overlaps).
  for (const [n, c] of [
    [1, 1],
    [2, 8],
    [4, 16],
  ] as const) {
    const rates: number[] = [];
    const cpuPerJob: number[] = [];
    for (let r = 0; r < Math.max(1, repeats - 1); r++) {
      const queue = nextQueue();
      const ps = await workers(queue, n, c, true);
      const cpu0 = process.cpuUsage();
      const s = await coordinateStudy(file, { queue, db: join(dir, `noop-${n}-${r}.db`) });
      const cpu = process.cpuUsage(cpu0);
      await stop(ps);
      rates.push(s.done / s.wallS);
      cpuPerJob.push((cpu.user + cpu.system) / 1000 / s.done);
    }
    const each = n === 1 && c === 1 ? `; ${(1000 / median(rates)).toFixed(1)} ms per job` : '';
    const rate = `${rates.map((x) => x.toFixed(0)).join(', ')} jobs/s (median ${median(rates).toFixed(0)}${each})`;
    console.log(
      `  ${n} worker process${n === 1 ? '' : 'es'} x ${c} at a time: ${rate}; coordinator CPU ${median(cpuPerJob).toFixed(2)} ms per job`,
    );
  }
  console.log(`  load average after: ${load()}`);
}

if (part === 'studies' || part === 'all') {
  for (const name of ['smoke', 'paper-reduced']) {
    const file = resolve(`studies/${name}.json`);
    const { local, queued } = await sideBySide(
      name,
      name === 'smoke' ? repeats : 1,
      2,
      async (db) => (await runStudy(file, { db, threads: 2 })).wallS,
      async (db, queue) => (await coordinateStudy(file, { queue, db })).wallS,
    );
    console.log(
      `${name}: --threads 2 ${local.map((x) => x.toFixed(1)).join(', ')} s | coordinator + 2 worker processes (1 at a time each) ${queued.map((x) => x.toFixed(1)).join(', ')} s (tables identical)`,
    );
  }
}

await redis.stop();
rmSync(dir, { recursive: true, force: true });
