import type { Rng } from '../core/rng.js';
import type { Representation } from '../core/types.js';
import { sizeLowerBound, topDownDistance } from './distance.js';
import { balancedTree, boundedRampedHalfAndHalf, boundedRandomTree, initialSizeBound, ptc2Tree } from './init.js';
import { MAX_TREE_SIZE } from './limits.js';
import { resolveTreeOptions, type TreeOptions } from './options.js';
import { primitiveSet, type PrimitiveSet } from './primitives.js';
import { distinctTrees, treeKey, type Tree } from './tree.js';
import { ATTEMPTS, mutatorOf, subtreeCrossover, type MutationSpec, type TreeLimits } from './variation.js';

export type { TreeOptions };

export interface TreeRepresentation extends Representation<Tree> {
  readonly ps: PrimitiveSet;
  readonly limits: TreeLimits;
  /** The mutation setting: one operator or a weighted list (see {@link MutationSpec}). */
  readonly mutation: MutationSpec;
}

/** Expression trees as a {@link Representation} over the given input variables. */
export function treeRepresentation(variables: readonly string[], partial: TreeOptions = {}): TreeRepresentation {
  const o = resolveTreeOptions(partial);
  const ps = primitiveSet(variables, o);
  const [minD, maxD] = o.initDepth;
  const limits: TreeLimits = { maxDepth: o.maxDepth, maxSize: o.maxSize };
  const mutate = mutatorOf(o.mutation);
  const sized = o.init === 'btc' ? balancedTree : o.init === 'ptc2' ? ptc2Tree : undefined;
  const sizeBound = initialSizeBound(maxD, limits.maxSize);
  return {
    ps,
    limits,
    mutation: o.mutation,
    random: (rng: Rng, slot: number) => {
      if (sized) return sized(rng, ps, 1 + rng.int(sizeBound), limits.maxDepth);
      const t = boundedRampedHalfAndHalf(rng, ps, minD, maxD, slot, MAX_TREE_SIZE);
      return t && t.op.length <= limits.maxSize ? t : redraw(rng, ps, minD, limits.maxSize);
    },
    crossover: (rng, a, b) => subtreeCrossover(rng, a, b, limits, o.internalBias),
    mutate: (rng, t) => mutate(rng, ps, t, limits, o.mutationDepth),
    distance: topDownDistance,
    distanceLowerBound: sizeLowerBound,
    size: (t) => t.op.length,
    key: treeKey,
    distinct: distinctTrees,
  };
}

/**
 * A tree of at most `maxSize` nodes when the ramped draw was larger (full trees of the largest initial
 * depth exceed small limits): a grow tree of depth `minDepth`, redrawn a few times and then at smaller
 * depths down to a single terminal, which always fits. The first redraw is the one gpmate always made,
 * so runs whose first redraw fitted keep their results.
 */
function redraw(rng: Rng, ps: PrimitiveSet, minDepth: number, maxSize: number): Tree {
  for (let d = minDepth; d > 0; d--) {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const t = boundedRandomTree(rng, ps, d, false, maxSize);
      if (t) return t;
    }
  }
  return boundedRandomTree(rng, ps, 0, false, 1) as Tree;
}
