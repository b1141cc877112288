import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ConfigError, optionError } from '../core/errors.js';
import { workerExecArgv } from '../eval/pool.js';
import type { RegressionTask } from '../eval/dataset.js';
import { checkMemory } from '../sr/memory.js';
import { resolveRegressionOptions } from '../sr/options.js';
import { dataDigests, expandGrid, expandRuns, problemSpecAt, type RunKey } from './grid.js';
import { executeRun, type RunTask } from './execute.js';
import { checkProblems, readStudyFile, type StudySpec } from './schema.js';
import { StudyStore, type RunRecord } from './store.js';

export interface StudyProgress {
  /** Runs finished, counting those found finished in the database. */
  readonly done: number;
  readonly total: number;
  /** Runs finished by this invocation. */
  readonly doneNow: number;
  readonly failed: number;
  /** Seconds since this invocation started. */
  readonly elapsedS: number;
  /** Estimated seconds left (undefined until a run has finished). */
  readonly etaS?: number;
  /** Through a queue: runs being run by a worker now, runs waiting for one, and the workers connected. */
  readonly running?: number;
  readonly waiting?: number;
  readonly workers?: number;
  /** Through a queue: a condition worth a line of its own (the queue lost, a worker refusing jobs). */
  readonly notice?: string;
}

export interface StudyRunOptions {
  /** SQLite file; default: the study file's path with `.db` instead of `.json`. */
  readonly db?: string;
  /** Accept a study file that changed since runs were stored (new cells and seeds are added). */
  readonly extend?: boolean;
  /** Runs executed at once, each in its own worker thread; 1 = in the main thread. Default: {@link autoThreads}. */
  readonly threads?: number;
  readonly onProgress?: (p: StudyProgress) => void;
  /** Caps the database at this many pages (SQLite max_page_count): a size limit, also used to test disk-full handling. */
  readonly maxPages?: number;
}

export interface StudyRunSummary {
  readonly db: string;
  readonly threads: number;
  readonly total: number;
  readonly skipped: number;
  readonly done: number;
  readonly failed: number;
  readonly wallS: number;
}

/**
 * The default number of runs at once: the cores that are idle now, at least 1 (cores minus the one-minute
 * load average, rounded). On a quiet machine that is every core; on a shared, oversubscribed one it is 1,
 * because there a second worker thread only adds contention (bench/study-parallel.ts; see the README).
 */
export function autoThreads(): number {
  const cores = availableParallelism();
  const load = loadavg()[0] ?? 0;
  return Math.max(1, Math.min(cores, Math.round(cores - load)));
}

/** Default database path for a study file. */
export function defaultDbPath(studyPath: string): string {
  return studyPath.replace(/\.json$/i, '') + '.db';
}

/** The compiled worker (workers load from dist/, also when this module runs from sources under vitest). */
function workerFile(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../../workers/study-run.js'), resolve(here, '../../dist/workers/study-run.js')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new ConfigError('the study worker is not built: run `npx tsc -p tsconfig.json` first');
  return found;
}

/** A study file read and checked (benchmarks known, data files readable), with the folder its paths are relative to. */
export interface LoadedStudy {
  readonly path: string;
  readonly spec: StudySpec;
  readonly baseDir: string;
  /** Each problem's task (for its first seed), as the checks resolved it. */
  readonly tasks: readonly RegressionTask[];
}

/** Reads a study file and checks its problems, before anything is written. */
export function loadStudy(studyPath: string): LoadedStudy {
  const spec = readStudyFile(studyPath);
  const baseDir = dirname(resolve(studyPath));
  const tasks = checkProblems({ ...spec, problems: spec.problems.map((p) => problemSpecAt(p, baseDir)) }, studyPath);
  return { path: studyPath, spec, baseDir, tasks };
}

/**
 * Opens the study's database for running, claims it for this process, runs `f`, then releases and closes
 * it whatever happens (the local runner and the queue coordinator both own the file this way).
 */
export async function withStudyStore<T>(
  study: LoadedStudy,
  o: Pick<StudyRunOptions, 'db' | 'extend' | 'maxPages'>,
  f: (store: StudyStore) => Promise<T>,
): Promise<T> {
  const store = StudyStore.openForRun(o.db ?? defaultDbPath(study.path), study.spec, {
    ...(o.extend ? { extend: true } : {}),
    ...(o.maxPages !== undefined ? { maxPages: o.maxPages } : {}),
    studyDir: study.baseDir,
    dataDigests: dataDigests(study.spec.problems, study.baseDir),
  });
  try {
    store.claim(process.pid);
    try {
      return await f(store);
    } finally {
      store.release(process.pid);
    }
  } finally {
    store.close();
  }
}

/** Every run of the study, and those the database does not hold finished (in the study's order). */
export function pendingRuns(spec: StudySpec, store: StudyStore): { all: RunKey[]; pending: RunKey[] } {
  const all = expandRuns(spec);
  const finished = store.finishedRuns();
  return { all, pending: all.filter((r) => !finished.has(`${r.cell.hash}/${r.seed}`)) };
}

/**
 * What a worker needs to do one run of a study (data paths made absolute against the study's folder; with
 * `dataDigest`, the digest of the problem's data files that the run checks first).
 */
export function runTask(r: RunKey, baseDir: string, dataDigest?: string): RunTask {
  return {
    problem: problemSpecAt(r.cell.problem, baseDir),
    options: r.cell.options,
    seed: r.seed,
    diversity: r.cell.diversity,
    ...(dataDigest !== undefined ? { dataDigest } : {}),
  };
}

/** A pool of `threads` worker threads, each doing whole runs with {@link executeRun}. */
export function runPool(threads: number): Piscina<RunTask, RunRecord> {
  return new Piscina<RunTask, RunRecord>({
    filename: workerFile(),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 1000,
    execArgv: workerExecArgv(),
  });
}

/** Counts finished and failed runs of one invocation and reports progress with an ETA. */
export class ProgressCounter {
  doneNow = 0;
  failed = 0;
  private readonly t0 = performance.now();

  constructor(
    readonly total: number,
    readonly skipped: number,
    private readonly onProgress?: (p: StudyProgress) => void,
  ) {}

  get elapsedS(): number {
    return (performance.now() - this.t0) / 1000;
  }

  report(extra: Pick<StudyProgress, 'running' | 'waiting' | 'workers' | 'notice'> = {}): void {
    const elapsedS = this.elapsedS;
    const ended = this.doneNow + this.failed;
    const etaS = ended > 0 ? (elapsedS / ended) * (this.total - this.skipped - ended) : undefined;
    this.onProgress?.({
      done: this.skipped + this.doneNow,
      total: this.total,
      doneNow: this.doneNow,
      failed: this.failed,
      elapsedS,
      ...(etaS !== undefined ? { etaS } : {}),
      ...extra,
    });
  }
}

/** The first line of an error's message: what a failed run stores. */
export function errorLine(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).split('\n')[0] as string;
}

/**
 * Runs every run of a study that the database does not hold finished, `threads` at a time, storing each
 * as it finishes (one transaction per run). Same study, same results, whatever `threads` is and however
 * often the process is killed and restarted: each run is a pure function of its cell and seed.
 */
export async function runStudy(studyPath: string, o: StudyRunOptions = {}): Promise<StudyRunSummary> {
  const study = loadStudy(studyPath);
  const threads = o.threads ?? autoThreads();
  if (!Number.isInteger(threads) || threads < 1) throw optionError('threads', `expected an integer >= 1, got ${threads}`);
  const { spec } = study;
  checkStudyMemory(spec, study.tasks, Math.min(threads, spec.seeds.length * expandGrid(spec).length), studyPath);
  return withStudyStore(study, o, (store) => execute(study, store, threads, o.onProgress));
}

/** Every cell's worst case fits the machine with `concurrent` runs at once (src/sr/memory.ts); the error names the cell. */
function checkStudyMemory(spec: StudySpec, tasks: readonly RegressionTask[], concurrent: number, source: string): void {
  for (const cell of expandGrid(spec)) {
    const task = tasks[spec.problems.indexOf(cell.problem)] as RegressionTask;
    try {
      const s = resolveRegressionOptions({ ...cell.options, diversity: cell.diversity }, 'benchmark', task.functions);
      checkMemory(s, { rows: task.train.rows, testRows: task.test?.rows ?? 0, inputs: task.train.columns.length, concurrent });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const where = `${cell.problem.name} ${cell.selection} ${cell.mutation} ${cell.mutationRate} ${cell.variant}`;
      throw new ConfigError(`study file ${source}: cell ${where}: ${e.message}`);
    }
  }
}

async function execute(
  study: LoadedStudy,
  store: StudyStore,
  threads: number,
  onProgress?: (p: StudyProgress) => void,
): Promise<StudyRunSummary> {
  const { all, pending } = pendingRuns(study.spec, store);
  const digests = store.dataDigests();
  const progress = new ProgressCounter(all.length, all.length - pending.length, onProgress);
  progress.report();

  let runOne: (t: RunTask) => Promise<RunRecord>;
  let pool: Piscina<RunTask, RunRecord> | undefined;
  const concurrency = Math.min(threads, Math.max(1, pending.length));
  if (threads === 1 || pending.length <= 1) {
    runOne = executeRun;
  } else {
    const p = runPool(concurrency);
    pool = p;
    runOne = (t) => p.run(t);
  }
  let next = 0;
  let fatal: unknown;
  const lane = async (): Promise<void> => {
    while (fatal === undefined && next < pending.length) {
      const r = pending[next++] as RunKey;
      const startedAt = new Date().toISOString();
      try {
        store.markRunning(r.cell.hash, r.seed, startedAt);
        let rec: RunRecord;
        try {
          rec = await runOne(runTask(r, study.baseDir, digests.get(r.cell.problem.name)));
        } catch (e) {
          if (fatal === undefined) store.saveFailure(r.cell.hash, r.seed, errorLine(e), new Date().toISOString());
          progress.failed++;
          progress.report();
          continue;
        }
        if (fatal !== undefined) return;
        store.saveRun(r.cell.hash, r.seed, rec, startedAt, new Date().toISOString());
        progress.doneNow++;
        progress.report();
      } catch (e) {
        // A store failure (disk full, locked, read-only) stops the study; stored runs stay whole.
        fatal ??= e;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    await pool?.destroy();
  }
  if (fatal !== undefined) throw fatal;
  return {
    db: store.path,
    threads,
    total: all.length,
    skipped: progress.skipped,
    done: progress.doneNow,
    failed: progress.failed,
    wallS: progress.elapsedS,
  };
}
