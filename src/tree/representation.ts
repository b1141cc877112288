import type { Rng } from '../core/rng.js';
import type { Representation } from '../core/types.js';
import { topDownDistance } from './distance.js';
import { rampedHalfAndHalf } from './init.js';
import { resolveTreeOptions, type TreeOptions } from './options.js';
import { primitiveSet, type PrimitiveSet } from './primitives.js';
import { treeKey, type Tree } from './tree.js';
import { MUTATORS, subtreeCrossover, type MutationType, type TreeLimits } from './variation.js';

export type { TreeOptions };

export interface TreeRepresentation extends Representation<Tree> {
  readonly ps: PrimitiveSet;
  readonly limits: TreeLimits;
  readonly mutationType: MutationType;
}

/** Expression trees as a {@link Representation} over the given input variables. */
export function treeRepresentation(variables: readonly string[], partial: TreeOptions = {}): TreeRepresentation {
  const o = resolveTreeOptions(partial);
  const ps = primitiveSet(variables, o);
  const [minD, maxD] = o.initDepth;
  const limits: TreeLimits = { maxDepth: o.maxDepth, maxSize: o.maxSize };
  const mutate = MUTATORS[o.mutation];
  return {
    ps,
    limits,
    mutationType: o.mutation,
    random: (rng: Rng, slot: number) => {
      // Full trees of depth maxD can exceed maxSize with binary functions; redraw as grow then.
      const t = rampedHalfAndHalf(rng, ps, minD, maxD, slot);
      return t.op.length <= limits.maxSize ? t : rampedHalfAndHalf(rng, ps, minD, minD, 1);
    },
    crossover: (rng, a, b) => subtreeCrossover(rng, a, b, limits, o.internalBias),
    mutate: (rng, t) => mutate(rng, ps, t, limits, o.mutationDepth),
    distance: topDownDistance,
    size: (t) => t.op.length,
    key: treeKey,
  };
}
