import { Queue, QueueEvents, Worker } from 'bullmq';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/core/errors.js';
import { GPMATE_VERSION } from '../src/core/version.js';
import { coordinateStudy } from '../src/study/coordinator.js';
import type { RunTask } from '../src/study/execute.js';
import {
  decodeResult,
  encodeResult,
  JOB_FORMAT,
  jobId,
  maskSecret,
  maskUrl,
  parseJobId,
  parseQueueUrl,
  QUEUE_NAME,
  QUEUE_PREFIX,
  REFUSED_EVENT,
  type RunJob,
} from '../src/study/queue.js';
import { queueStatus } from '../src/study/queue-status.js';
import { startQueueWorker, type QueueWorker } from '../src/study/queue-worker.js';
import { runStudy, type StudyProgress } from '../src/study/runner.js';
import { parseStudy } from '../src/study/schema.js';
import { StudyStore, type RunRecord } from '../src/study/store.js';
import { CLI, SHARED } from './helpers.js';
import { startRedis, freePort, type TestRedis } from './redis.js';
import { deterministicContent, storeState, tempDir, tinyStudy, writeStudy } from './study-helpers.js';
import { hasSystem } from './system.js';

const record = (over: Partial<RunRecord> = {}): RunRecord => ({
  bestTrain: Infinity,
  bestTest: null,
  trainR2: -0,
  testR2: NaN,
  success: false,
  size: 3,
  depth: 2,
  expression: 'x + 1',
  preference: null,
  generations: 1,
  evaluations: 10,
  history: [
    {
      generation: 0,
      evaluations: 10,
      bestFitness: 1,
      medianFitness: 2,
      meanFitness: 3,
      invalidShare: 0,
      bestSize: 3,
      meanSize: 3,
      uniqueShare: 1,
    },
  ],
  wallMs: 5,
  ...over,
});

describe('queue: URLs, ids and results on the wire', () => {
  it('checks queue URLs and never shows the password', () => {
    expect(parseQueueUrl('redis://127.0.0.1:6379/2', {})).toEqual({ url: 'redis://127.0.0.1:6379/2', masked: 'redis://127.0.0.1:6379/2' });
    const q = parseQueueUrl('rediss://bob:p%40ss@redis.lab:6380/0', {});
    expect(q.masked).toBe('rediss://bob:***@redis.lab:6380/0');
    expect(q.password).toBe('p@ss');
    expect(maskSecret('AUTH p@ss failed; p%40ss', q)).toBe('AUTH *** failed; ***');
    // The password from the environment, for a URL that leaves it out.
    const env = parseQueueUrl('redis://bob@redis.lab/1', { GPMATE_QUEUE_PASSWORD: 'xyz' });
    expect(env).toMatchObject({ masked: 'redis://bob@redis.lab/1', password: 'xyz' });
    expect(env.url).toContain(':xyz@');
    for (const [bad, why] of [
      ['http://h:1', 'scheme "http" is not redis or rediss'],
      ['redis://h:1/x', 'database "x" is not a number'],
      ['redis://h/0?password=1', 'no query or fragment allowed'],
      ['localhost:6379', 'scheme "localhost" is not redis or rediss'],
      ['not a url', 'not a URL'],
    ] as const) {
      expect(() => parseQueueUrl(bad, {})).toThrow(ConfigError);
      expect(() => parseQueueUrl(bad, {})).toThrow(why);
    }
    expect(() => parseQueueUrl('redis://u:secret@h:x', {})).toThrow('"redis://u:***@h:x"');
    expect(maskUrl('redis://u:p@ss@h:1/0')).toBe('redis://u:***@h:1/0'); // an unencoded @ in the password
  });

  it('names a job by study, cell and seed, and reads the name back', () => {
    const id = jobId('paper.v2', '0123456789abcdef', 17);
    expect(id).toBe('paper.v2.0123456789abcdef.17');
    expect(id).not.toContain(':'); // BullMQ refuses custom ids with a colon
    expect(parseJobId(id)).toEqual({ study: 'paper.v2', cell: '0123456789abcdef', seed: 17 });
    expect(parseJobId('12')).toBeUndefined();
  });

  it('carries results exactly, Infinity, NaN and -0 included, and rejects what is not a result', () => {
    const r = record();
    const back = decodeResult(encodeResult(r));
    expect(back.bestTrain).toBe(Infinity);
    expect(Object.is(back.trainR2, -0)).toBe(true);
    expect(back.testR2).toBeNaN();
    expect(back).toEqual(r);
    expect(() => decodeResult('{"bestTrain": "1"}')).toThrow('malformed result from a worker');
    expect(() => decodeResult(42)).toThrow('malformed result from a worker');
    expect(() => decodeResult('{')).toThrow('malformed result from a worker');
    expect(() => decodeResult(encodeResult(record({ history: 'x' as never })))).toThrow('field history');
  });

  it('stores a result that arrives twice only once', () => {
    const dir = tempDir();
    const store = StudyStore.openForRun(join(dir, 'd.db'), parseStudy(tinyStudy({ selection: ['pimp'], seeds: 1 })));
    try {
      const cell = store.cells()[0]?.hash as string;
      expect(store.saveRun(cell, 1, record({ bestTrain: 1 }), 'a', 'b')).toBe(true);
      expect(store.saveRun(cell, 1, record({ bestTrain: 2, history: [] }), 'c', 'd')).toBe(false);
      store.saveFailure(cell, 1, 'late failure', 'e');
      const runs = store.runs();
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ status: 'done', best_train: 1, error: null, started_at: 'a' });
      expect(store.generations()).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});

describe('queue: the command line', () => {
  it('an unreachable queue, a bad URL or flags that do not go together: one line, exit 2, no password, nothing written', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ seeds: 1 }));
    const db = join(dir, 'q.db');
    const port = await freePort();
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'study', ...args], { encoding: 'utf8' });
    for (const [args, message] of [
      [
        ['run', file, '--db', db, '--queue', `redis://gp:hunter2@127.0.0.1:${port}/0`],
        `gpmate: queue redis://gp:***@127.0.0.1:${port}/0: cannot connect to Redis (connect ECONNREFUSED 127.0.0.1:${port})`,
      ],
      [
        ['worker', '--queue', `redis://:hunter2@127.0.0.1:${port}`],
        `gpmate: queue redis://:***@127.0.0.1:${port}: cannot connect to Redis`,
      ],
      [['run', file, '--db', db, '--queue', 'http://gp:hunter2@h'], 'gpmate: option --queue: scheme "http" is not redis or rediss'],
      [
        ['run', file, '--db', db, '--queue', 'redis://h', '--attempts', '0'],
        'gpmate: option --attempts: expected an integer from 1 to 100, got 0',
      ],
      [['run', file, '--db', db, '--queue', 'redis://h', '--threads', '2'], 'gpmate: option --threads: not with --queue'],
      [['run', file, '--db', db, '--job-timeout', '9'], 'gpmate: option --job-timeout: only with --queue'],
      [['status'], 'gpmate: study status: option --queue URL is required'],
    ] as const) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.startsWith(message), r.stderr).toBe(true);
      expect(r.stderr.trimEnd()).not.toContain('\n');
      expect(r.stderr).not.toContain('hunter2');
    }
    expect(existsSync(db)).toBe(false);
  }, 60_000);
});

const redisThere = hasSystem('redis', 'queue tests (coordinator and workers through Redis)');

describe.skipIf(!redisThere)('queue: coordinator and workers through a real redis-server', () => {
  let redis: TestRedis;
  let db = 0;
  /** A fresh Redis database per test, so that tests do not see each other's jobs. */
  const url = (): string => `redis://127.0.0.1:${redis.port}/${++db}`;
  const workers: QueueWorker[] = [];
  const serve = async (queue: string, o: { concurrency?: number; execute?: (t: RunTask, s: AbortSignal) => Promise<RunRecord> } = {}) => {
    const w = await startQueueWorker({ queue, ...o });
    workers.push(w);
    return w;
  };
  const stopWorkers = async (): Promise<void> => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await stopWorkers();
    await redis?.stop();
  });

  it('gives the same tables as a local run: benchmark and CSV problems, two workers in threads', async () => {
    const dir = tempDir();
    const csv = relative(dir, join(SHARED, 'data/sr/Concrete.csv'));
    const file = writeStudy(
      dir,
      tinyStudy({
        problems: ['koza-1', { name: 'concrete', data: csv }],
        selection: ['pimp', 'tournament'],
        settings: { populationSize: 20, generations: 3, maxDepth: 6, maxSize: 32, initDepth: [1, 3] },
      }),
    );
    await runStudy(file, { db: join(dir, 'local.db'), threads: 1 });
    const queue = url();
    await serve(queue, { concurrency: 1 });
    await serve(queue, { concurrency: 1 });
    const seen: StudyProgress[] = [];
    const s = await coordinateStudy(file, { queue, db: join(dir, 'queue.db'), onProgress: (p) => seen.push(p) });
    expect(s).toMatchObject({ total: 8, skipped: 0, done: 8, failed: 0, queue });
    expect(s.workers).toBe(2);
    expect(deterministicContent(join(dir, 'queue.db'))).toEqual(deterministicContent(join(dir, 'local.db')));
    expect(seen.some((p) => p.running !== undefined && p.running > 0)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ done: 8, running: 0, waiting: 0, workers: 2 });
    // Nothing left behind: no jobs, no claim; the workers still connected.
    const st = await queueStatus(queue);
    expect(st.counts).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 });
    expect(st.coordinators).toEqual([]);
    expect(st.workers?.map((w) => w.name).sort()).toEqual(workers.map((w) => w.name).sort());
    // A second coordinator finds everything stored and adds no job.
    const again = await coordinateStudy(file, { queue, db: join(dir, 'queue.db') });
    expect(again).toMatchObject({ total: 8, skipped: 8, done: 0 });
    await stopWorkers();
  }, 60_000);

  it('retries a run that throws, then stores it failed with its error; a hung run times out; a rerun retries them', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ selection: ['pimp'], seeds: 4 }));
    const queue = url();
    const tries = new Map<number, number>();
    const { executeRun } = await import('../src/study/execute.js');
    await serve(queue, {
      concurrency: 2,
      execute: async (t, signal) => {
        tries.set(t.seed, (tries.get(t.seed) ?? 0) + 1);
        if (t.seed === 2) throw new Error('synthetic failure\nsecond line');
        if (t.seed === 3) await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
        return executeRun(t);
      },
    });
    const db = join(dir, 'q.db');
    const s = await coordinateStudy(file, { queue, db, attempts: 2, jobTimeoutS: 0.5 });
    expect(s).toMatchObject({ total: 4, done: 2, failed: 2 });
    expect(tries.get(2)).toBe(2);
    expect(tries.get(3)).toBe(2);
    const runs = deterministicContent(db).runs as { seed: number; status: string; error: string | null }[];
    expect(runs.map((r) => [r.seed, r.status, r.error])).toEqual([
      [1, 'done', null],
      [2, 'failed', 'synthetic failure'],
      [3, 'failed', expect.stringMatching(/^run timed out after 0\.5 s on /)],
      [4, 'done', null],
    ]);
    expect(storeState(db).orphanGenerations).toBe(0);
    await stopWorkers();
    // Retried on the next invocation, by a worker that can do them: the table then equals a local run's.
    await serve(queue);
    const rerun = await coordinateStudy(file, { queue, db });
    expect(rerun).toMatchObject({ skipped: 2, done: 2, failed: 0 });
    await runStudy(file, { db: join(dir, 'local.db'), threads: 1 });
    expect(deterministicContent(db)).toEqual(deterministicContent(join(dir, 'local.db')));
    await stopWorkers();
  }, 60_000);

  it('a real run past its timeout is stopped (its worker thread ended) and the worker goes on with the next job', async () => {
    const dir = tempDir();
    const file = writeStudy(
      dir,
      tinyStudy({
        selection: ['tournament'],
        seeds: 1,
        variants: { slow: { populationSize: 3000, generations: 500 }, fast: { populationSize: 10, generations: 2 } },
      }),
    );
    const queue = url();
    const lines: string[] = [];
    workers.push(await startQueueWorker({ queue, concurrency: 1, onLog: (l) => lines.push(l) }));
    const t0 = performance.now();
    const s = await coordinateStudy(file, { queue, db: join(dir, 'q.db'), attempts: 1, jobTimeoutS: 3 });
    expect(s).toMatchObject({ total: 2, done: 1, failed: 1 });
    expect(performance.now() - t0).toBeLessThan(60_000);
    const runs = deterministicContent(join(dir, 'q.db')).runs as { status: string; error: string | null }[];
    expect(runs.map((r) => r.error).sort()).toEqual([null, expect.stringMatching(/^run timed out after 3 s on /)]);
    expect(lines.some((l) => /attempt 1 of 1 failed: run timed out after 3 s/.test(l))).toBe(true);
    await stopWorkers();
  }, 90_000);

  it('ignores a result that arrives for a run already stored', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ selection: ['pimp'], seeds: 1 }));
    const queue = url();
    await serve(queue, { concurrency: 1 });
    const db = join(dir, 'q.db');
    await coordinateStudy(file, { queue, db });
    await stopWorkers();
    const before = deterministicContent(db);
    // The same job id once more (a retried job whose first result was stored), finished with another result.
    const cell = (before.runs[0] as { cell: string }).cell;
    const q = new Queue(QUEUE_NAME, { connection: { url: queue }, prefix: QUEUE_PREFIX });
    await q.add('run', { dummy: true } as never, { jobId: jobId('tiny', cell, 1) });
    const fake = new Worker(QUEUE_NAME, async () => encodeResult(record({ bestTrain: 123 })), {
      connection: { url: queue },
      prefix: QUEUE_PREFIX,
    });
    await new Promise<void>((r) => fake.once('completed', () => r()));
    await fake.close();
    expect(await q.getJobCounts('completed')).toEqual({ completed: 1 });
    const s = await coordinateStudy(file, { queue, db });
    expect(s).toMatchObject({ skipped: 1, done: 0 });
    expect(deterministicContent(db)).toEqual(before);
    expect(await q.getJobCounts('completed')).toEqual({ completed: 0 });
    await q.close();
  }, 60_000);

  it('a worker refuses a job of another gpmate version (put back, clear error) and fails one it cannot load', async () => {
    const queue = url();
    const q = new Queue<RunJob>(QUEUE_NAME, { connection: { url: queue }, prefix: QUEUE_PREFIX });
    const base: RunJob = {
      format: JOB_FORMAT,
      gpmate: GPMATE_VERSION,
      study: 'other',
      studyHash: '0',
      cell: '0123456789abcdef',
      seed: 1,
      problem: { name: 'c', data: '' } as never,
      files: { data: { sha256: 'f'.repeat(64), name: 'c.csv', bytes: 10 } },
      options: { populationSize: 10, generations: 1 },
      diversity: false,
      timeoutS: 60,
    };
    await q.add('run', base, { jobId: jobId('other', base.cell, 1), attempts: 3 });
    const w = await serve(queue, { concurrency: 1 });
    let job = await q.getJob(jobId('other', base.cell, 1));
    for (let i = 0; i < 100 && (await job?.getState()) !== 'failed'; i++) await new Promise((r) => setTimeout(r, 50));
    job = await q.getJob(jobId('other', base.cell, 1));
    expect(job?.failedReason).toMatch(/^cannot load the run on .*: data file c\.csv \(sha256 ffffffffffff\) is not in Redis/);
    expect(job?.attemptsMade).toBe(1); // not retried: every worker would fail the same way

    // The coordinator hears of the refusal through the queue's event stream.
    const events = new QueueEvents(QUEUE_NAME, { connection: { url: queue }, prefix: QUEUE_PREFIX });
    await events.waitUntilReady();
    const heard = new Promise<{ worker: string; message: string }>((r) => events.on(REFUSED_EVENT as 'error', r as never));
    await q.add('run', { ...base, gpmate: '0.0.0-old', seed: 2 }, { jobId: jobId('other', base.cell, 2) });
    const refusal = await w.stopped;
    expect(await heard).toEqual({ worker: w.name, message: refusal?.message });
    await events.close();
    expect(refusal).toBeInstanceOf(ConfigError);
    expect(refusal?.message).toContain(
      `was made by gpmate 0.0.0-old (job format ${JOB_FORMAT}); this worker runs gpmate ${GPMATE_VERSION}`,
    );
    expect(refusal?.message).toContain('the job was put back for another worker');
    expect(await (await q.getJob(jobId('other', base.cell, 2)))?.getState()).toBe('waiting');
    workers.splice(0);
    await q.close();
  }, 60_000);

  it('refuses an unreachable queue and a study coordinated elsewhere with one line, writing nothing', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ seeds: 1 }));
    const db = join(dir, 'q.db');
    const port = await freePort();
    const e = await coordinateStudy(file, { queue: `redis://gp:hunter2@127.0.0.1:${port}/0`, db }).catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toBe(
      `queue redis://gp:***@127.0.0.1:${port}/0: cannot connect to Redis (connect ECONNREFUSED 127.0.0.1:${port})`,
    );
    expect(existsSync(db)).toBe(false);

    // Another coordinator (here: a claim by a live process on this host) holds the study.
    const queue = url();
    const q = new Queue(QUEUE_NAME, { connection: { url: queue }, prefix: QUEUE_PREFIX });
    const client = await q.client;
    await client.set(
      'gpmate-study:coordinator:tiny',
      JSON.stringify({ host: (await import('node:os')).hostname(), pid: process.ppid, db: '/x.db' }),
    );
    const e2 = await coordinateStudy(file, { queue, db }).catch((x: unknown) => x as Error);
    expect((e2 as Error).message).toMatch(
      new RegExp(`^queue ${queue}: study "tiny" is already coordinated by pid ${process.ppid} on .* \\(database /x\\.db\\)`),
    );
    // A claim left by a killed coordinator of this host is taken over at once.
    await client.set(
      'gpmate-study:coordinator:tiny',
      JSON.stringify({ host: (await import('node:os')).hostname(), pid: 2 ** 22 + 1, db: '/x.db' }),
    );
    await serve(queue, { concurrency: 1 });
    expect(await coordinateStudy(file, { queue, db })).toMatchObject({ done: 3 });
    await stopWorkers();
    await q.close();
  }, 60_000);
});
