import { QueueEventsProducer, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { resolveTask } from '../../problems/index.js';
import { ConfigError, optionError } from '../core/errors.js';
import { GPMATE_VERSION } from '../core/version.js';
import type { RunTask } from './execute.js';
import {
  closeQuietly,
  connectionOptions,
  encodeResult,
  fetchFile,
  JOB_FORMAT,
  maskSecret,
  openQueue,
  parseQueueUrl,
  QUEUE_NAME,
  QUEUE_PREFIX,
  REFUSED_EVENT,
  EVENTS_MAX_LEN,
  type FileRef,
  type RunJob,
} from './queue.js';
import { autoThreads, errorLine, runPool } from './runner.js';
import type { RunRecord } from './store.js';

/**
 * A job's lock lasts this long and is renewed at half of it by the worker's main thread, which stays free
 * because runs happen in worker threads. A worker killed mid-run stops renewing; within LOCK_MS +
 * STALLED_MS another worker's stalled-job check puts the job back in the queue.
 */
const LOCK_MS = 10_000;
const STALLED_MS = 5_000;
/** A job whose worker died this many times (a run that kills its process) fails instead of going back again. */
const MAX_STALLED = 2;

export interface QueueWorkerOptions {
  /** The queue: `redis://[user:password@]host[:port][/db]`. */
  readonly queue: string;
  /** Runs at once, each in its own worker thread; default: the idle cores, at least 1. */
  readonly concurrency?: number;
  /**
   * Does one run; default: a pool of `concurrency` worker threads running the local runner's code
   * (`workers/study-run.ts`). The signal aborts when the job's time is up (the pool then ends the thread).
   */
  readonly execute?: (task: RunTask, signal: AbortSignal) => Promise<RunRecord>;
  /** One line per event worth telling (started, run finished or failed, queue lost and back). */
  readonly onLog?: (line: string) => void;
}

export interface QueueWorker {
  /** host/pid/concurrency: how the coordinator and `study status` see this worker. */
  readonly name: string;
  readonly concurrency: number;
  /** Settles when the worker has stopped: undefined after {@link stop}, a ConfigError after refusing a job. */
  readonly stopped: Promise<Error | undefined>;
  /** Stops taking jobs and waits for the running ones (or, forced, leaves them to stall and go to another worker). */
  stop(force?: boolean): Promise<void>;
}

/**
 * Serves a study queue: takes run jobs from Redis, `concurrency` at a time, runs each with the same code as
 * the local runner and sends the result back through the queue. Data files come from Redis by content
 * hash (checked) into a private temporary folder, once per process. A job of another gpmate version is put
 * back for another worker and this worker stops with a ConfigError that says so.
 */
export async function startQueueWorker(o: QueueWorkerOptions): Promise<QueueWorker> {
  const q = parseQueueUrl(o.queue);
  const concurrency = o.concurrency ?? autoThreads();
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw optionError('concurrency', `expected an integer from 1 to 1024, got ${concurrency}`);
  }
  const log = (line: string): void => o.onLog?.(maskSecret(line, q));
  const { queue, link } = await openQueue(q);
  const client = await queue.client;
  const name = `${hostname().replace(/[^\w.-]/g, '_')}/${process.pid}/${concurrency}`;
  const pool = o.execute === undefined ? runPool(concurrency) : undefined;
  const execute = o.execute ?? ((task: RunTask, signal: AbortSignal) => (pool as NonNullable<typeof pool>).run(task, { signal }));
  const dataDir = mkdtempSync(join(tmpdir(), 'gpmate-worker-'));
  const files = new Map<string, Promise<string>>();
  const checked = new Map<string, Promise<void>>();
  let refusal: Error | undefined;

  /** A data file's local path: fetched from Redis and checked once per process. */
  const localFile = (ref: FileRef): Promise<string> => {
    let p = files.get(ref.sha256);
    if (p === undefined) {
      p = fetchFile(client, ref).then((bytes) => {
        const dir = join(dataDir, ref.sha256);
        mkdirSync(dir, { recursive: true });
        const path = join(dir, basename(ref.name).replace(/[^\w.-]/g, '_') || 'data');
        writeFileSync(path, bytes);
        return path;
      });
      p.catch(() => files.delete(ref.sha256));
      files.set(ref.sha256, p);
    }
    return p;
  };

  /** The job's run task, its problem loaded once per process so that a study this worker cannot load fails at once. */
  const taskOf = async (d: RunJob): Promise<RunTask> => {
    const data = d.files.data ? await localFile(d.files.data) : undefined;
    const meta = d.files.meta ? await localFile(d.files.meta) : undefined;
    const problem = { ...d.problem, ...(data !== undefined ? { data } : {}), ...(meta !== undefined ? { meta } : {}) };
    const key = JSON.stringify([d.problem, d.files]);
    let check = checked.get(key);
    if (check === undefined) {
      check = Promise.resolve().then(() => void resolveTask(problem, d.seed));
      checked.set(key, check);
    }
    await check;
    return { problem, options: d.options, seed: d.seed, diversity: d.diversity };
  };

  const label = (job: Job): string => {
    const d = job.data as Partial<RunJob>;
    return `${d.study ?? '?'} ${d.cell ?? '?'}/${d.seed ?? '?'}`;
  };

  let stopWorker: (() => Promise<void>) | undefined;
  const refuse = async (job: Job<RunJob, string>, token: string | undefined): Promise<never> => {
    const d = job.data as Partial<RunJob>;
    const message =
      `job ${job.id} was made by gpmate ${d.gpmate ?? '?'} (job format ${d.format ?? '?'}); this worker runs gpmate ${GPMATE_VERSION} ` +
      `(job format ${JOB_FORMAT}): install gpmate ${d.gpmate ?? 'of the coordinator'} on ${hostname()}; the job was put back for another worker`;
    await job.moveToWait(token);
    refusal ??= new ConfigError(message);
    const events = new QueueEventsProducer(QUEUE_NAME, { connection: connectionOptions(q), prefix: QUEUE_PREFIX });
    await events.publishEvent({ eventName: REFUSED_EVENT, worker: name, message }, EVENTS_MAX_LEN).catch(() => undefined);
    await events.close().catch(() => undefined);
    void stopWorker?.();
    throw new WaitingError();
  };

  const processor = async (job: Job<RunJob, string>, token?: string): Promise<string> => {
    const d = job.data;
    if (d === null || typeof d !== 'object' || d.format !== JOB_FORMAT || d.gpmate !== GPMATE_VERSION) return refuse(job, token);
    let task: RunTask;
    try {
      task = await taskOf(d);
    } catch (e) {
      // Deterministic: every worker would fail the same way, so no retries.
      throw new UnrecoverableError(`cannot load the run on ${hostname()}: ${errorLine(e)}`);
    }
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), d.timeoutS * 1000);
    const t0 = performance.now();
    try {
      const rec = await execute(task, ac.signal);
      log(`run ${label(job)}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return encodeResult(rec);
    } catch (e) {
      if (ac.signal.aborted) throw new Error(`run timed out after ${d.timeoutS} s on ${hostname()}`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  };

  const w = new Worker<RunJob, string>(QUEUE_NAME, processor, {
    connection: connectionOptions(q),
    prefix: QUEUE_PREFIX,
    concurrency,
    name,
    lockDuration: LOCK_MS,
    stalledInterval: STALLED_MS,
    maxStalledCount: MAX_STALLED,
    autorun: false,
  });
  let lastError = '';
  w.on('error', (e) => {
    link.noteError(e);
    if (link.lostSince === undefined && link.lastError !== lastError) log(`worker: ${link.lastError}`);
    lastError = link.lastError;
  });
  w.on('failed', (job, err) => {
    if (job === undefined || err.name === 'WaitingError') return;
    const attempts = job.opts.attempts ?? 1;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= attempts;
    log(`run ${label(job)}: attempt ${job.attemptsMade} of ${attempts} failed${final ? '' : ', to be retried'}: ${errorLine(err)}`);
  });
  // Says when the queue is lost and when it is back; checked every second and once more when asked to stop,
  // so that a worker stopped within a second of a reconnection still says so.
  let lostShown = false;
  const tellLink = (): void => {
    if (link.lostSince !== undefined && !lostShown)
      log(`lost the queue ${q.masked} (${link.lastError || 'connection closed'}); reconnecting`);
    else if (link.lostSince === undefined && lostShown) log(`queue ${q.masked} is back`);
    lostShown = link.lostSince !== undefined;
  };
  const watch = setInterval(tellLink, 1000);

  // Stopping: pause (no new jobs) and, unless forced or Redis is lost, wait for the running ones; then close
  // without QUIT (which would wait for ever on a lost Redis). Running jobs left behind stall and go to
  // another worker. Once closed, the rest is released whichever way the worker got there.
  const stop = async (force = false): Promise<void> => {
    tellLink();
    if (!force && link.lostSince === undefined) await Promise.race([w.pause(false).catch(() => undefined), untilLost()]);
    await w.close(true).catch(() => undefined);
  };
  const untilLost = (): Promise<void> =>
    new Promise((resolve) => {
      const t = setInterval(() => {
        if (link.lostSince !== undefined || w.closing) {
          clearInterval(t);
          resolve();
        }
      }, 250);
    });
  let released: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (released ??= (async () => {
      clearInterval(watch);
      await closeQuietly(queue, true);
      await pool?.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    })());
  stopWorker = stop;
  const stopped = new Promise<Error | undefined>((resolve) => {
    w.once('closed', () => void release().then(() => resolve(refusal)));
  });
  void w.run().catch((e: unknown) => link.noteError(e));
  await w.waitUntilReady();
  log(`worker ${name}: gpmate ${GPMATE_VERSION}, ${concurrency} run${concurrency === 1 ? '' : 's'} at a time, queue ${q.masked}`);
  return { name, concurrency, stopped, stop };
}
