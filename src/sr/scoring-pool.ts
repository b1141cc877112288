import type { Evaluation, EvaluationRequest, Evaluator } from '../core/types.js';
import type { Dataset } from '../eval/dataset.js';
import { dedupe, encodeTrees } from '../eval/encode.js';
import { PoolEvaluator } from '../eval/pool.js';
import type { Tree } from '../tree/tree.js';
import { ScoringEvaluator, type ScoreSettings } from './scoring.js';

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
    this.pool = new PoolEvaluator(data, { threads });
    this.rows = data.rows;
  }

  async evaluate(trees: readonly Tree[]): Promise<Float64Array> {
    return (await this.evaluateDetailed(trees)).losses;
  }

  async evaluateDetailed(trees: readonly Tree[], request?: EvaluationRequest): Promise<Evaluation<Tree> & { losses: Float64Array }> {
    const { unique, index } = dedupe(trees);
    const enc = encodeTrees(unique, true);
    const out = new Float64Array(new SharedArrayBuffer(Math.max(unique.length, 1) * 8));
    const outArg = new Float64Array(new SharedArrayBuffer(Math.max(enc.arg.length, 1) * 8));
    // per-case losses (lexicase, pareto): one row block per distinct tree, written by its worker
    const withCases = this.settings.cases === true || request?.cases === true;
    const outCases = withCases ? new Float64Array(new SharedArrayBuffer(Math.max(unique.length * this.rows, 1) * 8)) : undefined;
    if (unique.length > 0) {
      const settings = this.settings;
      // work per tree ~ nodes x rows x (optimiser evaluations): the split balances on that
      const rows = this.rows * Math.max(1, settings.optimiser?.iterations ?? 1);
      await this.pool.runTasks('score', enc, rows, (from, to) => ({
        kind: 'score',
        trees: enc,
        from,
        to,
        settings,
        out,
        outArg,
        ...(outCases ? { outCases } : {}),
      }));
    }
    const losses = Float64Array.from(index, (u) => out[u] as number);
    const cases = outCases ? { cases: Array.from(index, (u) => outCases.subarray(u * this.rows, (u + 1) * this.rows)) } : {};
    if (!this.settings.lamarckian) return { losses, ...cases };
    const tuned = unique.map((t, u) => {
      const a = enc.offsets[u] as number;
      const arg = outArg.slice(a, a + t.op.length);
      return arg.every((v, i) => Object.is(v, t.arg[i])) ? undefined : { op: t.op, arg };
    });
    return { losses, genomes: Array.from(index, (u) => tuned[u]), ...cases };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The scorer for a thread count: in-process for 1 thread, the worker pool otherwise. */
export function scoringEvaluator(data: Dataset, settings: ScoreSettings, threads: number): Evaluator<Tree> & { close(): Promise<void> } {
  if (threads <= 1) {
    const ev = new ScoringEvaluator(data, settings);
    return Object.assign(ev, { close: async () => {} });
  }
  return new PoolScoringEvaluator(data, settings, threads);
}
