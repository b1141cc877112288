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
import { expandGrid, expandRuns, problemSpecAt, type RunKey } from './grid.js';
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

/**
 * Runs every run of a study that the database does not hold finished, `threads` at a time, storing each
 * as it finishes (one transaction per run). Same study, same results, whatever `threads` is and however
 * often the process is killed and restarted: each run is a pure function of its cell and seed.
 */
export async function runStudy(studyPath: string, o: StudyRunOptions = {}): Promise<StudyRunSummary> {
  const spec = readStudyFile(studyPath);
  const baseDir = dirname(resolve(studyPath));
  const tasks = checkProblems({ ...spec, problems: spec.problems.map((p) => problemSpecAt(p, baseDir)) }, studyPath);
  const threads = o.threads ?? autoThreads();
  if (!Number.isInteger(threads) || threads < 1) throw optionError('threads', `expected an integer >= 1, got ${threads}`);
  checkStudyMemory(spec, tasks, Math.min(threads, spec.seeds.length * expandGrid(spec).length), studyPath);
  const db = o.db ?? defaultDbPath(studyPath);
  const store = StudyStore.openForRun(db, spec, {
    ...(o.extend ? { extend: true } : {}),
    ...(o.maxPages !== undefined ? { maxPages: o.maxPages } : {}),
  });
  try {
    store.claim(process.pid);
    try {
      return await execute(spec, baseDir, store, threads, o.onProgress);
    } finally {
      store.release(process.pid);
    }
  } finally {
    store.close();
  }
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
  spec: StudySpec,
  baseDir: string,
  store: StudyStore,
  threads: number,
  onProgress?: (p: StudyProgress) => void,
): Promise<StudyRunSummary> {
  const all = expandRuns(spec);
  const finished = store.finishedRuns();
  const pending = all.filter((r) => !finished.has(`${r.cell.hash}/${r.seed}`));
  const skipped = all.length - pending.length;
  const t0 = performance.now();
  let doneNow = 0;
  let failed = 0;
  const report = (): void => {
    const elapsedS = (performance.now() - t0) / 1000;
    const left = pending.length - doneNow - failed;
    const etaS = doneNow + failed > 0 ? (elapsedS / (doneNow + failed)) * left : undefined;
    onProgress?.({ done: skipped + doneNow, total: all.length, doneNow, failed, elapsedS, ...(etaS !== undefined ? { etaS } : {}) });
  };
  report();
  const taskOf = (r: RunKey): RunTask => ({
    problem: problemSpecAt(r.cell.problem, baseDir),
    options: r.cell.options,
    seed: r.seed,
    diversity: r.cell.diversity,
  });

  let runOne: (t: RunTask) => Promise<RunRecord>;
  let pool: Piscina<RunTask, RunRecord> | undefined;
  const concurrency = Math.min(threads, Math.max(1, pending.length));
  if (threads === 1 || pending.length <= 1) {
    runOne = executeRun;
  } else {
    const p = new Piscina<RunTask, RunRecord>({
      filename: workerFile(),
      minThreads: concurrency,
      maxThreads: concurrency,
      idleTimeout: 1000,
      execArgv: workerExecArgv(),
    });
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
          rec = await runOne(taskOf(r));
        } catch (e) {
          const msg = ((e as Error).message ?? String(e)).split('\n')[0] as string;
          if (fatal === undefined) store.saveFailure(r.cell.hash, r.seed, msg, new Date().toISOString());
          failed++;
          report();
          continue;
        }
        if (fatal !== undefined) return;
        store.saveRun(r.cell.hash, r.seed, rec, startedAt, new Date().toISOString());
        doneNow++;
        report();
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
  return { db: store.path, threads, total: all.length, skipped, done: doneNow, failed, wallS: (performance.now() - t0) / 1000 };
}
