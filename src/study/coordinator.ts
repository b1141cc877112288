import { QueueEvents, type Job, type Queue } from 'bullmq';
import { hostname } from 'node:os';
import { ConfigError, optionError } from '../core/errors.js';
import { GPMATE_VERSION } from '../core/version.js';
import { studyHash, type RunKey } from './grid.js';
import {
  closeQuietly,
  connectionOptions,
  decodeResult,
  JOB_FORMAT,
  jobId,
  KEY_COORDINATOR,
  maskSecret,
  openQueue,
  parseJobId,
  parseQueueUrl,
  publishFiles,
  QUEUE_NAME,
  QUEUE_PREFIX,
  readStudyFiles,
  REFUSED_EVENT,
  type LinkWatch,
  type QueueUrl,
  type RunJob,
  type StudyFiles,
} from './queue.js';
import {
  errorLine,
  loadStudy,
  pendingRuns,
  ProgressCounter,
  withStudyStore,
  type LoadedStudy,
  type StudyProgress,
  type StudyRunOptions,
} from './runner.js';
import { processAlive, type StudyStore } from './store.js';

/** Attempts per run before it is stored as failed (a throw, a timeout, a worker that died twice). */
export const DEFAULT_ATTEMPTS = 3;
/** A run still running after this long is stopped: a hung run must not hold up the study for ever. */
export const DEFAULT_JOB_TIMEOUT_S = 3600;
/** How long the coordinator waits for a lost Redis before it stops. */
export const DEFAULT_QUEUE_WAIT_S = 60;
/** The coordinator's claim on a study lapses this long after its last refresh (a killed coordinator elsewhere). */
const CLAIM_TTL_S = 30;
/** Jobs added to Redis per call. */
const ADD_CHUNK = 500;
/** Finished jobs fetched from Redis at once. */
const SWEEP_CHUNK = 100;

export interface CoordinatorOptions extends Pick<StudyRunOptions, 'db' | 'extend' | 'maxPages' | 'onProgress'> {
  /** The queue: `redis://[user:password@]host[:port][/db]`. */
  readonly queue: string;
  /** Tries per run; default {@link DEFAULT_ATTEMPTS}. */
  readonly attempts?: number;
  /** Seconds a run may take on a worker; default {@link DEFAULT_JOB_TIMEOUT_S}. */
  readonly jobTimeoutS?: number;
  /** Seconds to wait for a lost queue before stopping; default {@link DEFAULT_QUEUE_WAIT_S}. */
  readonly queueWaitS?: number;
}

export interface QueueRunSummary {
  readonly db: string;
  /** The queue URL, masked. */
  readonly queue: string;
  readonly total: number;
  readonly skipped: number;
  readonly done: number;
  readonly failed: number;
  /** The most workers seen connected at once. */
  readonly workers: number;
  readonly wallS: number;
}

/**
 * Runs a study through a queue: this process owns the SQLite file, adds every unfinished (cell, seed) as a
 * BullMQ job to Redis, and stores each result that workers (`gpmate study worker`, on any machine) send
 * back, one transaction per run, as the local runner does; the tables come out the same. Killed and
 * restarted, it adds only what is still missing (job ids are fixed) and collects results that arrived
 * meanwhile. A lost Redis is waited for `queueWaitS`, then the coordinator stops with what it stored.
 */
export async function coordinateStudy(studyPath: string, o: CoordinatorOptions): Promise<QueueRunSummary> {
  const q = parseQueueUrl(o.queue);
  const attempts = o.attempts ?? DEFAULT_ATTEMPTS;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100)
    throw optionError('attempts', `expected an integer from 1 to 100, got ${attempts}`);
  const timeoutS = o.jobTimeoutS ?? DEFAULT_JOB_TIMEOUT_S;
  if (!(timeoutS > 0 && timeoutS <= 7 * 24 * 3600)) throw optionError('jobTimeoutS', `expected seconds in (0, 604800], got ${timeoutS}`);
  const waitS = o.queueWaitS ?? DEFAULT_QUEUE_WAIT_S;
  if (!(waitS >= 0 && waitS <= 24 * 3600)) throw optionError('queueWaitS', `expected seconds in [0, 86400], got ${waitS}`);
  const study = loadStudy(studyPath);
  const files = readStudyFiles(study);
  // Connect before the database is touched: an unreachable queue leaves nothing written.
  const { queue, link } = await openQueue(q);
  try {
    return await withStudyStore(study, o, (store) =>
      new Coordinator(study, store, files, q, queue, link, { attempts, timeoutS, waitS }, o.onProgress).run(),
    );
  } catch (e) {
    if (e instanceof Error) e.message = maskSecret(e.message, q);
    throw e;
  } finally {
    await closeQuietly(queue, link.lostSince !== undefined);
  }
}

interface Settings {
  readonly attempts: number;
  readonly timeoutS: number;
  readonly waitS: number;
}

class Coordinator {
  /** Job id -> run, for every run not yet stored by this invocation. */
  private outstanding = new Map<string, RunKey>();
  private progress!: ProgressCounter;
  private readonly claimValue: string;
  private readonly studyHash: string;
  private stopReason: string | undefined;
  private stopNow: () => void = () => undefined;
  private readonly stopped = new Promise<undefined>((resolve) => (this.stopNow = () => resolve(undefined)));
  private wake: () => void = () => (this.woken = true);
  private woken = false;
  private syncedReconnects = 0;
  /** Set when the claim vanished from Redis: Redis lost its data (restarted without persistence, flushed). */
  private resync = false;
  private running = 0;
  private workers: number | undefined;
  private mostWorkers = 0;
  private lastShown = '';
  private lastCounted = -Infinity;
  private lostShown = false;
  private readonly noticed = new Set<string>();

  constructor(
    private readonly study: LoadedStudy,
    private readonly store: StudyStore,
    private readonly files: StudyFiles,
    private readonly q: QueueUrl,
    private readonly queue: Queue,
    private readonly link: LinkWatch,
    private readonly s: Settings,
    private readonly onProgress?: (p: StudyProgress) => void,
  ) {
    this.claimValue = JSON.stringify({ host: hostname(), pid: process.pid, db: store.path, since: new Date().toISOString() });
    this.studyHash = studyHash(study.spec);
  }

  private get name(): string {
    return this.study.spec.name;
  }

  async run(): Promise<QueueRunSummary> {
    const { all, pending } = pendingRuns(this.study.spec, this.store);
    this.outstanding = new Map(pending.map((r) => [jobId(this.name, r.cell.hash, r.seed), r]));
    this.progress = new ProgressCounter(all.length, all.length - pending.length, this.onProgress);
    this.progress.report();
    await this.claim();
    const events = new QueueEvents(QUEUE_NAME, { connection: connectionOptions(this.q), prefix: QUEUE_PREFIX });
    const mine = ({ jobId: id }: { jobId: string }): void => {
      if (parseJobId(id)?.study === this.name) this.wake();
    };
    events.on('completed', mine);
    events.on('failed', mine);
    events.on('stalled', ({ jobId: id }) => {
      const r = this.outstanding.get(id);
      if (r !== undefined) this.notice(`run ${r.cell.hash}/${r.seed}: its worker stopped answering; back in the queue for another worker`);
    });
    events.on('error', (e) => this.link.noteError(e));
    events.on(
      REFUSED_EVENT as 'error',
      ((args: { worker?: string; message?: string }) =>
        this.notice(`worker ${args.worker ?? '?'} refused a job: ${args.message ?? ''}`)) as never,
    );
    const claimTimer = setInterval(() => void this.refreshClaim().catch((e: unknown) => this.link.noteError(e)), 10_000);
    const watchTimer = setInterval(() => this.watch(), 1000);
    try {
      let startup = true;
      while (this.stopReason === undefined) {
        // A command waiting for a lost Redis never settles: a stop does not wait for it.
        if (this.link.lostSince === undefined) startup = (await Promise.race([this.step(startup), this.stopped])) ?? startup;
        if (!startup && this.outstanding.size === 0) break;
        await this.sleep(1000);
      }
    } finally {
      clearInterval(claimTimer);
      clearInterval(watchTimer);
      if (this.link.lostSince === undefined) await this.releaseClaim().catch(() => undefined);
      await closeQuietly(events, this.link.lostSince !== undefined || this.stopReason !== undefined);
    }
    if (this.stopReason !== undefined) throw new Error(this.stopReason);
    return {
      db: this.store.path,
      queue: this.q.masked,
      total: this.progress.total,
      skipped: this.progress.skipped,
      done: this.progress.doneNow,
      failed: this.progress.failed,
      workers: this.mostWorkers,
      wallS: this.progress.elapsedS,
    };
  }

  /**
   * One round: a full sync the first time, after a reconnection and when Redis lost its data; otherwise
   * collecting finished jobs; then the counts. Returns whether the startup sync is still to do.
   */
  private async step(startup: boolean): Promise<boolean> {
    const reconnects = this.link.reconnects;
    try {
      if (startup || this.resync || reconnects !== this.syncedReconnects) await this.sync(startup);
      else await this.sweep(false);
      await this.observe();
      return false;
    } catch (e) {
      // A command cut off by a lost connection (the loss may be signalled just after): the watchdog decides
      // whether to wait or stop. Anything else (the database) stops the study.
      await new Promise((r) => setTimeout(r, 300));
      if (this.link.lostSince === undefined && this.link.reconnects === reconnects && this.stopReason === undefined) throw e;
      return startup;
    }
  }

  /** Stops the study: the main loop ends without waiting for commands stuck on a lost connection. */
  private stop(reason: string): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.wake();
    this.stopNow();
  }

  /** Waits `ms`, or until a job of this study finished (at once if one finished since the last wait). */
  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = () => (this.woken = true);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** Ships the data files, collects what finished, and adds every unfinished run (adding a job that is there is a no-op). */
  private async sync(startup: boolean): Promise<void> {
    const reconnects = this.link.reconnects;
    const client = await this.queue.client;
    await publishFiles(client, this.files.blobs);
    await this.sweep(startup);
    const ids = [...this.outstanding.keys()];
    for (let i = 0; i < ids.length; i += ADD_CHUNK) {
      await this.queue.addBulk(
        ids
          .slice(i, i + ADD_CHUNK)
          .map((id) => ({ name: 'run', data: this.job(this.outstanding.get(id) as RunKey), opts: this.jobOptions(id) })),
      );
    }
    this.syncedReconnects = reconnects;
    this.resync = false;
    await this.observe();
  }

  private job(r: RunKey): RunJob {
    const { data: _data, meta: _meta, ...problem } = r.cell.problem;
    return {
      format: JOB_FORMAT,
      gpmate: GPMATE_VERSION,
      study: this.name,
      studyHash: this.studyHash,
      cell: r.cell.hash,
      seed: r.seed,
      problem,
      files: this.files.refs.get(r.cell.problem.name) ?? {},
      options: r.cell.options,
      diversity: r.cell.diversity,
      timeoutS: this.s.timeoutS,
    };
  }

  private jobOptions(id: string): { jobId: string; attempts: number; backoff: { type: 'exponential'; delay: number } } {
    // Finished jobs stay in Redis until stored here (BullMQ keeps them by default), then this process removes them.
    return { jobId: id, attempts: this.s.attempts, backoff: { type: 'exponential', delay: 1000 } };
  }

  /**
   * Stores the results of this study's finished jobs and removes them from Redis. At startup a failed job is
   * only removed, so that it is added again and retried (as a rerun of the local runner retries failures).
   */
  private async sweep(startup: boolean): Promise<void> {
    for (const state of ['completed', 'failed'] as const) {
      const ids = (await this.queue.getRanges([state], 0, -1)).filter((id) => parseJobId(id)?.study === this.name);
      // A chunk of jobs fetched at once, stored one transaction each, then removed at once (never before stored).
      for (let i = 0; i < ids.length; i += SWEEP_CHUNK) {
        const jobs = await Promise.all(ids.slice(i, i + SWEEP_CHUNK).map((id) => this.queue.getJob(id)));
        for (const job of jobs) if (job !== undefined) this.settle(job, state, startup);
        await Promise.all(jobs.map((job) => (job === undefined ? 0 : this.queue.remove(job.id as string))));
      }
    }
  }

  /** Stores a finished job's result or failure (a failure at startup is left to be retried). */
  private settle(job: Job, state: 'completed' | 'failed', startup: boolean): void {
    const id = job.id as string;
    const r = this.outstanding.get(id);
    if (r === undefined || (state === 'failed' && startup)) return;
    const started = iso(job.processedOn);
    const finished = iso(job.finishedOn) ?? new Date().toISOString();
    let error: string | undefined;
    if (state === 'completed') {
      try {
        if (this.store.saveRun(r.cell.hash, r.seed, decodeResult(job.returnvalue), started ?? finished, finished)) this.progress.doneNow++;
      } catch (e) {
        if ((e as Error).name !== 'DataError') throw e;
        error = errorLine(e);
      }
    } else {
      error = maskSecret(errorLine(job.failedReason || 'failed'), this.q);
    }
    if (error !== undefined) {
      this.store.saveFailure(r.cell.hash, r.seed, error, finished, started ?? null);
      this.progress.failed++;
      this.notice(`run ${r.cell.hash}/${r.seed} failed after ${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'}: ${error}`);
    }
    this.outstanding.delete(id);
    this.progress.report(this.counts());
  }

  /** Counts this study's running jobs and the live workers, and reports when anything changed. */
  private async observe(): Promise<void> {
    const active = await this.queue.getRanges(['active'], 0, -1);
    this.running = active.filter((id) => this.outstanding.has(id)).length;
    // CLIENT LIST costs more: the workers are counted at most once a second.
    const now = performance.now();
    if (now - this.lastCounted >= 1000) {
      this.lastCounted = now;
      try {
        this.workers = (await this.queue.getWorkers()).length;
        this.mostWorkers = Math.max(this.mostWorkers, this.workers);
      } catch {
        this.workers = undefined; // CLIENT LIST refused (some hosted Redis): the count is unknown
      }
    }
    const c = this.counts();
    const shown = JSON.stringify([this.progress.doneNow, this.progress.failed, c]);
    if (shown !== this.lastShown) {
      this.lastShown = shown;
      this.progress.report(c);
    }
  }

  private counts(): Pick<StudyProgress, 'running' | 'waiting' | 'workers'> {
    const running = Math.min(this.running, this.outstanding.size);
    return { running, waiting: this.outstanding.size - running, ...(this.workers !== undefined ? { workers: this.workers } : {}) };
  }

  /** A message shown once with the progress (the same text again is not repeated). */
  private notice(text: string): void {
    if (this.noticed.has(text)) return;
    this.noticed.add(text);
    this.progress.report({ ...this.counts(), notice: text });
  }

  /** Once a second: while Redis is lost, says so every few seconds; past the wait, stops the study. */
  private watch(): void {
    if (this.stopReason !== undefined) return;
    const lostS = this.link.lostForS();
    if (this.link.lostSince === undefined) {
      if (this.lostShown) this.progress.report({ ...this.counts(), notice: `queue ${this.q.masked} is back` });
      this.lostShown = false;
      return;
    }
    if (lostS > this.s.waitS) {
      const stored = this.progress.skipped + this.progress.doneNow;
      this.stop(
        `lost the queue ${this.q.masked} for ${Math.round(lostS)} s (${this.link.lastError || 'connection closed'}); stopped with ` +
          `${stored} of ${this.progress.total} runs stored in ${this.store.path}; run the same command again to continue`,
      );
      return;
    }
    if (!this.lostShown || Math.floor(lostS) % 5 === 0) {
      this.progress.report({
        ...this.counts(),
        notice: `lost the queue ${this.q.masked} (${this.link.lastError || 'connection closed'}); retrying, giving up in ${Math.ceil(this.s.waitS - lostS)} s`,
      });
    }
    this.lostShown = true;
  }

  /** Claims the study on this queue, so that a second coordinator of the same study name is refused. */
  private async claim(): Promise<void> {
    const client = await this.queue.client;
    const key = KEY_COORDINATOR + this.name;
    if ((await client.runCommand('set', [key, this.claimValue, 'EX', CLAIM_TTL_S, 'NX'])) !== null) return;
    const text = await client.get(key);
    let holder: { host?: string; pid?: number; db?: string; since?: string } = {};
    try {
      holder = JSON.parse(text ?? '{}') as typeof holder;
    } catch {
      // Not ours: reported below as held by an unknown process.
    }
    const here = holder.host === hostname() && typeof holder.pid === 'number';
    if (text === null || (here && holder.pid !== process.pid && !processAlive(holder.pid as number))) {
      await client.runCommand('set', [key, this.claimValue, 'EX', CLAIM_TTL_S]);
      return;
    }
    throw new ConfigError(
      `queue ${this.q.masked}: study "${this.name}" is already coordinated by pid ${holder.pid ?? '?'} on ${holder.host ?? '?'} ` +
        `(database ${holder.db ?? '?'}); stop that one first (a killed coordinator's claim lapses within ${CLAIM_TTL_S} s)`,
    );
  }

  private async refreshClaim(): Promise<void> {
    if (this.link.lostSince !== undefined) return;
    const client = await this.queue.client;
    const key = KEY_COORDINATOR + this.name;
    const text = await client.get(key);
    if (text === this.claimValue) await client.runCommand('expire', [key, CLAIM_TTL_S]);
    else if (text === null) {
      // Gone: Redis lost its data (or this process could not refresh for the claim's lifetime). Claim again,
      // and add the unfinished jobs again (adding a job that is still there is a no-op).
      await client.runCommand('set', [key, this.claimValue, 'EX', CLAIM_TTL_S, 'NX']);
      this.resync = true;
      this.wake();
    } else this.stop(`queue ${this.q.masked}: another coordinator took over study "${this.name}" (${text}); stopped`);
  }

  private async releaseClaim(): Promise<void> {
    const client = await this.queue.client;
    const key = KEY_COORDINATOR + this.name;
    if ((await client.get(key)) === this.claimValue) await client.del(key);
  }
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString();
}
