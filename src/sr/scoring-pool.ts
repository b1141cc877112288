import type { Evaluation, EvaluationRequest, Evaluator } from '../core/types.js';
import type { Dataset } from '../eval/dataset.js';
import { PoolEvaluator } from '../eval/pool.js';
import { BUILTIN_HANDLERS } from '../eval/pool-tasks.js';
import { defaultThreads } from '../eval/wasm-evaluator.js';
import type { Tree } from '../tree/tree.js';
import { SCORE_HANDLERS, scoreBatch, ScoringEvaluator, type ScoreSettings } from './scoring.js';

/**
 * Regression scoring (scaled fitness, constant optimisation, robustness check) on the fast
 * evaluator's piscina pool: distinct trees go to the workers as `score` tasks (src/eval/protocol.ts),
 * each worker runs the pure scoreCandidate on its tree range with the data it already holds, and the
 * tuned constants come back through shared memory. A tree's score is computed by one thread with the
 * same code as in-process, so results are bit-identical for every thread count.
 */
export class PoolScoringEvaluator implements Evaluator<Tree> {
  private readonly pool: PoolEvaluator;
  private readonly rows: number;

  constructor(
    data: Dataset,
    private readonly settings: ScoreSettings,
    threads: number,
  ) {
    // the calling thread computes too: threads - 1 workers
    this.pool = new PoolEvaluator(data, { threads: threads - 1, caller: { ...BUILTIN_HANDLERS, ...SCORE_HANDLERS } });
    this.rows = data.rows;
  }

  async evaluate(trees: readonly Tree[]): Promise<Float64Array> {
    return (await this.evaluateDetailed(trees)).losses;
  }

  evaluateDetailed(trees: readonly Tree[], request?: EvaluationRequest): Promise<Evaluation<Tree> & { losses: Float64Array }> {
    // per-case losses (lexicase, pareto): one row block per distinct tree, written by its worker
    const withCases = this.settings.cases === true || request?.cases === true;
    return scoreBatch(
      trees,
      this.settings,
      (enc, settings, out, outArg, outCases) =>
        // work per tree ~ nodes x rows x (optimiser evaluations): the split balances on that
        this.pool.runTasks('score', enc, this.rows * Math.max(1, settings.optimiser?.iterations ?? 1), (from, to) => ({
          kind: 'score',
          trees: enc,
          from,
          to,
          settings,
          out,
          outArg,
          ...(outCases ? { outCases } : {}),
        })),
      true,
      withCases ? this.rows : undefined,
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The scorer for a thread count: in-process for 1 thread, the worker pool otherwise. */
export function scoringEvaluator(
  data: Dataset,
  settings: ScoreSettings,
  threads = defaultThreads(data.rows).threads,
): Evaluator<Tree> & { close(): Promise<void> } {
  if (threads <= 1) {
    const ev = new ScoringEvaluator(data, settings);
    return Object.assign(ev, { close: async () => {} });
  }
  return new PoolScoringEvaluator(data, settings, threads);
}
