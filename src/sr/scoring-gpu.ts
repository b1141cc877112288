import type { Evaluation, Evaluator } from '../core/types.js';
import type { Dataset } from '../eval/dataset.js';
import { encodeTrees } from '../eval/encode.js';
import { rescoreBest, type GpuEvaluator } from '../eval/gpu/evaluator.js';
import type { Tree } from '../tree/tree.js';
import {
  coreScoreData,
  finalLosses,
  rescored,
  scoreBatch,
  scoreRange,
  tuneConstants,
  type ScoreData,
  type ScoreSettings,
} from './scoring.js';
import { WasmEngine } from '../eval/wasm-engine.js';

/**
 * Regression scoring with the GPU computing the scores: the device evaluates every distinct tree on every
 * training row and returns its loss and, with linear scaling, its offset and slope (f32 on the device,
 * blocks merged in f64 on the host: src/eval/gpu/evaluator.ts). The CPU does what only some trees need:
 * constant optimisation of the trees with constants (its passes on the WebAssembly kernel, on the
 * optimiser's strided rows), the tuned trees then scored again on the device in one launch, and the
 * interval robustness check. The `rescoreTop` best trees of each batch are scored once more in f64 on
 * the CPU (scoreRange, their tuned constants as they are), so elites and the reported best carry f64
 * losses, as with the plain-RMSE GPU evaluator.
 */
export class GpuScoringEvaluator implements Evaluator<Tree> {
  private readonly data: ScoreData;
  /** f64 scores of the best trees: the settings without tuning (their constants are already the tuned ones). */
  private readonly exact: ScoreSettings;

  constructor(
    private readonly gpu: GpuEvaluator,
    train: Dataset,
    private readonly settings: ScoreSettings,
    private readonly rescoreTop: number,
  ) {
    if (settings.cases) throw new Error('GPU scoring: per-case losses are computed on the CPU back end only');
    this.data = coreScoreData(new WasmEngine(train.columns, train.y), train.columns, train.y);
    const { optimiser: _tuning, ...exact } = settings;
    this.exact = exact;
  }

  async evaluate(trees: readonly Tree[]): Promise<Float64Array> {
    return (await this.evaluateDetailed(trees)).losses;
  }

  evaluateDetailed(trees: readonly Tree[]): Promise<Evaluation<Tree> & { losses: Float64Array }> {
    return scoreBatch(
      trees,
      this.settings,
      async (enc, settings, out, outArg) => {
        const unique = Array.from({ length: enc.count }, (_, t) => {
          const a = enc.offsets[t] as number;
          const b = enc.offsets[t + 1] as number;
          return { op: enc.op.subarray(a, b), arg: enc.arg.subarray(a, b) };
        });
        const sc = await this.gpu.scores(unique);
        const tuned = tuneConstants(enc, 0, enc.count, this.data, settings, sc, outArg);
        if (tuned.trees.length > 0) rescored(sc, 0, tuned.at, await this.gpu.scores(tuned.trees));
        finalLosses(enc, 0, enc.count, settings, sc, outArg, out);
        // the best in f64, with the constants they are scored with
        const stats = this.gpu.stats;
        rescoreBest(out, this.rescoreTop, (i, f32) => {
          const a = enc.offsets[i] as number;
          const b = enc.offsets[i + 1] as number;
          const loss = new Float64Array(1);
          scoreRange(
            encodeTrees([{ op: enc.op.subarray(a, b), arg: outArg.subarray(a, b) }]),
            0,
            1,
            this.data,
            this.exact,
            loss,
            new Float64Array(b - a),
          );
          const exact = loss[0] as number;
          stats.rescored++;
          if (Number.isFinite(exact))
            stats.maxRelativeDifference = Math.max(stats.maxRelativeDifference, Math.abs(f32 - exact) / Math.max(exact, 1e-12));
          return exact;
        });
      },
      false,
    );
  }

  close(): Promise<void> {
    return this.gpu.close();
  }
}
