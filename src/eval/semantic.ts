import type { MateDistance } from '../core/types.js';
import { treeKey, type Tree } from '../tree/tree.js';
import type { Dataset } from './dataset.js';
import { evaluateTree, rmse } from './reference.js';

/**
 * PIMP's `semantic` distance: RMSE between the outputs of the preference and of the candidate on
 * the training inputs (+Infinity when either output is not finite). Output vectors are cached by
 * tree key, since the same genomes are compared many times within a generation.
 */
export function semanticDistance(data: Dataset, cacheLimit = 4096): MateDistance<Tree> {
  const cache = new Map<string, Float64Array>();
  const outputs = (t: Tree): Float64Array => {
    const k = treeKey(t);
    let v = cache.get(k);
    if (!v) {
      if (cache.size >= cacheLimit) cache.clear();
      v = evaluateTree(t, data.columns, data.rows);
      cache.set(k, v);
    }
    return v;
  };
  return (preference, candidate) => rmse(outputs(preference), outputs(candidate));
}
