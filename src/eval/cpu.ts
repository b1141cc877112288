import type { Evaluator } from '../core/types.js';
import type { Tree } from '../tree/tree.js';
import type { Dataset } from './dataset.js';
import { treeRmse } from './reference.js';

/** In-process CPU evaluator: RMSE of each tree on the training data (non-finite -> +Infinity). */
export class CpuEvaluator implements Evaluator<Tree> {
  constructor(private readonly data: Dataset) {}

  async evaluate(trees: readonly Tree[]): Promise<Float64Array> {
    const out = new Float64Array(trees.length);
    for (let i = 0; i < trees.length; i++) out[i] = treeRmse(trees[i] as Tree, this.data);
    return out;
  }
}
