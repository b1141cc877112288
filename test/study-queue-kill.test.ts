// End to end through Redis with real processes: a coordinator and three workers, SIGKILLed and restarted.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseJobId, QUEUE_NAME, QUEUE_PREFIX } from '../src/study/queue.js';
import { startRedis, type TestRedis } from './redis.js';
import { deterministicContent, KILL_STUDY, KILL_STUDY_RUNS, storeState, tempDir, writeStudy } from './study-helpers.js';
import { hasSystem } from './system.js';

const CLI = 'dist/src/cli/main.js';

const STUDY = KILL_STUDY;
const TOTAL = KILL_STUDY_RUNS;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Child {
  readonly p: ChildProcess;
  out: string;
  err: string;
  readonly exit: Promise<number | null>;
}

/** The test's temporary folder: the processes' own temporary files (a killed worker's data folder) land there. */
let scratch = tmpdir();

/** Every process a test started, so that a failed test leaves none running. */
const children: Child[] = [];

function start(args: string[]): Child {
  const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: scratch } });
  const c: Child = { p, out: '', err: '', exit: new Promise((r) => p.once('exit', (code) => r(code))) };
  p.stdout?.on('data', (b: Buffer) => (c.out += b.toString()));
  p.stderr?.on('data', (b: Buffer) => (c.err += b.toString()));
  children.push(c);
  return c;
}

/** Waits until the database holds `n` finished runs (or the process ended). */
async function untilDone(db: string, n: number, c?: Child): Promise<number> {
  for (;;) {
    let done = 0;
    try {
      done = storeState(db).done;
    } catch {
      // Not created yet, or mid-creation.
    }
    if (done >= n || (c !== undefined && c.p.exitCode !== null)) return done;
    await sleep(20);
  }
}

/** Waits (up to 30 s) until the worker process `pid` is running a job, and returns the job's id. */
async function runningOn(url: string, pid: number): Promise<string> {
  const q = new Queue(QUEUE_NAME, { connection: { url }, prefix: QUEUE_PREFIX });
  try {
    for (const t0 = performance.now(); performance.now() - t0 < 30_000;) {
      for (const job of await q.getJobs(['active'])) {
        if (job.processedBy?.split('/')[1] === String(pid)) return job.id as string;
      }
      await sleep(10);
    }
    throw new Error(`worker process ${pid} ran no job for 30 s`);
  } finally {
    await q.close();
  }
}

async function kill(c: Child): Promise<void> {
  c.p.kill('SIGKILL');
  await c.exit;
}

const redisThere = hasSystem('redis', 'queue end-to-end tests (coordinator and worker processes)');

describe.skipIf(!redisThere)('study through a queue, end to end (processes, SIGKILL, a real redis-server)', () => {
  let redis: TestRedis;
  let dir: string;
  let file: string;
  let reference: ReturnType<typeof deterministicContent>;

  beforeAll(async () => {
    redis = await startRedis();
    dir = tempDir();
    scratch = dir;
    file = writeStudy(dir, STUDY);
    const ref = join(dir, 'ref.db');
    const r = spawnSync(process.execPath, [CLI, 'study', 'run', file, '--db', ref, '--threads', '1', '--quiet'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    reference = deterministicContent(ref);
    expect(reference.runs).toHaveLength(TOTAL);
  }, 60_000);
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.p.exitCode === null && c.p.signalCode === null) await kill(c);
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('coordinator and three workers, one worker and the coordinator SIGKILLed and restarted: the local run table', async () => {
    const queue = `${redis.url.replace(/\/0$/, '')}/1`;
    const db = join(dir, 'queue.db');
    const worker = (): Child => start(['study', 'worker', '--queue', queue, '--concurrency', '1']);
    const coordinator = (): Child => start(['study', 'run', file, '--db', db, '--queue', queue]);
    const workers = [worker(), worker(), worker()];
    const first = coordinator();
    // Kill one worker mid-run: its job stalls and another worker gets it once its lock lapses.
    await untilDone(db, 3, first);
    const pid = (workers[0] as Child).p.pid as number;
    await runningOn(queue, pid);
    await kill(workers[0] as Child);
    // The job it held (it may have moved on to the next one between the look and the kill) stays active until it stalls.
    const victim = await runningOn(queue, pid);
    // Kill the coordinator mid-study: the workers carry on, their results wait in Redis.
    await untilDone(db, 7, first);
    await kill(first);
    const atKill = storeState(db).done;
    expect(atKill).toBeLessThan(TOTAL);
    await sleep(500);
    expect(storeState(db).done).toBe(atKill); // nobody stores while the coordinator is down
    workers[0] = worker();
    const second = coordinator();
    expect(await second.exit).toBe(0);
    expect(second.out).toMatch(
      new RegExp(
        `^study: ${TOTAL} runs, ${atKill} already stored, ${TOTAL - atKill} run now in \\d+s \\(queue ${queue}, up to [1-3] workers?\\)`,
      ),
    );
    expect(second.err).toMatch(/\d+ running {2}\d+ waiting {2}[1-3] workers/);
    const { cell, seed } = parseJobId(victim) as { cell: string; seed: number };
    expect(first.err + second.err).toContain(`run ${cell}/${seed}: its worker stopped answering; back in the queue for another worker`);
    const final = deterministicContent(db);
    expect(final.runs).toHaveLength(TOTAL);
    expect(final).toEqual(reference);
    expect(storeState(db)).toMatchObject({ done: TOTAL, other: 0, orphanGenerations: 0 });

    // Status: no jobs left, three workers connected, no coordinator.
    const st = spawnSync(process.execPath, [CLI, 'study', 'status', '--queue', queue], { encoding: 'utf8' });
    expect(st.status).toBe(0);
    expect(st.stdout).toMatch(/all +0 +0 +0 +0 +0\n/);
    expect(st.stdout).toContain('workers: 3\n');
    expect(st.stdout).toContain('coordinators: 0\n');

    // Workers stop on SIGINT once idle, exit 0.
    for (const w of workers) w.p.kill('SIGINT');
    expect(await Promise.all(workers.map((w) => w.exit))).toEqual([0, 0, 0]);
    for (const w of workers) expect(w.err).toMatch(/^worker [^ ]+\/\d+\/1: gpmate /);
  }, 120_000);

  it('Redis lost mid-study: the coordinator says so, waits, stops keeping what it stored; restarted, it finishes', async () => {
    const db = join(dir, 'lost.db');
    const queue = `${redis.url.replace(/\/0$/, '')}/2`;
    const w = start(['study', 'worker', '--queue', queue, '--concurrency', '1']);
    const w2 = start(['study', 'worker', '--queue', queue, '--concurrency', '1']);
    const c = start(['study', 'run', file, '--db', db, '--queue', queue, '--queue-wait', '2']);
    await untilDone(db, 3, c);
    while (!w2.err.includes('worker ')) await sleep(20); // its signal handlers are in place
    await redis.stop(true);
    expect(await c.exit).toBe(1);
    // A worker stopped while Redis is away does not wait for it.
    w2.p.kill('SIGINT');
    expect(await w2.exit).toBe(0);
    expect(c.err).toMatch(new RegExp(`lost the queue ${queue} \\([^)]*\\); retrying, giving up in \\d s`));
    expect(c.err).toMatch(
      new RegExp(
        `gpmate: lost the queue ${queue} for \\d+ s \\(.*\\); stopped with \\d+ of ${TOTAL} runs stored in ${db}; run the same command again to continue\\n$`,
      ),
    );
    const s = storeState(db);
    expect(s.done).toBeGreaterThanOrEqual(3);
    expect(s.orphanGenerations).toBe(0);

    // Redis back (empty: no persistence), the same command again; the worker reconnected by itself.
    redis = await startRedis(redis.port);
    const again = start(['study', 'run', file, '--db', db, '--queue', queue]);
    expect(await again.exit).toBe(0);
    expect(deterministicContent(db)).toEqual(reference);
    w.p.kill('SIGINT');
    expect(await w.exit).toBe(0);
    expect(w.err).toContain(`lost the queue ${queue}`);
    expect(w.err).toContain(`queue ${queue} is back`);
  }, 120_000);
});
