import { resolveTask } from '../../problems/index.js';
import { DataError } from '../core/errors.js';
import type { GenerationStats } from '../core/evolve.js';
import type { DiversitySetting } from '../diversity/index.js';
import { runRegression, type RegressionOptions } from '../sr/run.js';
import { filesDigest } from './grid.js';
import type { StudyProblem } from './schema.js';
import type { RunRecord } from './store.js';

/** Everything a worker needs to do one run: plain data, so it crosses thread boundaries unchanged. */
export interface RunTask {
  /** The problem, data paths already absolute. */
  readonly problem: StudyProblem;
  readonly options: Omit<RegressionOptions, 'seed'>;
  readonly seed: number;
  readonly diversity: DiversitySetting;
  /** The digest the study database holds for the problem's data files (filesDigest): a run on other files fails. */
  readonly dataDigest?: string;
}

/**
 * Does one run of a study (the same code in the main thread and in a worker): resolves the task with the
 * seed, runs {@link runRegression} with the diversity measures on when asked, and returns what the store keeps.
 */
export async function executeRun(t: RunTask): Promise<RunRecord> {
  const started = performance.now();
  const data = t.problem.data;
  if (t.dataDigest !== undefined && data !== undefined) {
    const now = filesDigest(data, t.problem.meta);
    if (now !== t.dataDigest)
      throw new DataError(
        `the data file of problem "${t.problem.name}" changed during the study (sha256 ${t.dataDigest.slice(0, 12)}, now ${now.slice(0, 12)}); restore it and run the study again`,
      );
  }
  const task = resolveTask(t.problem, t.seed);
  const options: RegressionOptions = { ...t.options, seed: t.seed, diversity: t.diversity };
  const r = await runRegression(task, options);
  return {
    bestTrain: r.best.trainRmse,
    bestTest: r.best.testRmse ?? null,
    trainR2: r.best.trainR2,
    testR2: r.best.testR2 ?? null,
    success: r.success,
    size: r.best.size,
    depth: r.best.depth,
    expression: r.best.expression,
    preference: r.best.preference ?? null,
    generations: r.generations,
    evaluations: r.evaluations,
    history: r.history.map(plainStats),
    wallMs: performance.now() - started,
  };
}

/** A copy of the stats with only data (no prototypes, no undefined fields) for structured cloning. */
function plainStats(s: GenerationStats): GenerationStats {
  return JSON.parse(JSON.stringify(s)) as GenerationStats;
}
