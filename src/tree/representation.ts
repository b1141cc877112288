import { ConfigError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import type { Representation } from '../core/types.js';
import { topDownDistance } from './distance.js';
import { rampedHalfAndHalf } from './init.js';
import { primitiveSet, type PrimitiveSet, type PrimitiveSetOptions } from './primitives.js';
import { treeKey, type Tree } from './tree.js';
import { MUTATION_TYPES, MUTATORS, subtreeCrossover, type MutationType, type TreeLimits } from './variation.js';

/** Tree-GP settings. Defaults are documented on each field. */
export interface TreeOptions extends PrimitiveSetOptions {
  /** Ramped half-and-half depth range for initial genomes and preferences. Default [2, 6]. */
  initDepth?: readonly [number, number];
  /** Maximum tree depth (root alone = 0). Default 17 (Koza). */
  maxDepth?: number;
  /** Maximum nodes per tree. Default 256. */
  maxSize?: number;
  /** `subtree` (can grow) or `point` (shape-preserving). Default `subtree`. */
  mutation?: MutationType;
  /** Maximum depth of the random subtree inserted by subtree mutation. Default 4. */
  mutationDepth?: number;
  /** Probability that crossover picks an internal node rather than a leaf (Koza's 90/10). Default 0.9. */
  internalBias?: number;
}

export interface TreeRepresentation extends Representation<Tree> {
  readonly ps: PrimitiveSet;
  readonly limits: TreeLimits;
  readonly mutationType: MutationType;
}

function int(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new ConfigError(`option ${name}: expected an integer >= ${min}, got ${v}`);
  return v;
}

/** Expression trees as a {@link Representation} over the given input variables. */
export function treeRepresentation(variables: readonly string[], o: TreeOptions = {}): TreeRepresentation {
  const ps = primitiveSet(variables, o);
  const [minD, maxD] = o.initDepth ?? [2, 6];
  int('initDepth (min)', minD, 0);
  int('initDepth (max)', maxD, minD);
  const limits: TreeLimits = { maxDepth: int('maxDepth', o.maxDepth ?? 17, 0), maxSize: int('maxSize', o.maxSize ?? 256, 1) };
  if (maxD > limits.maxDepth) throw new ConfigError(`option initDepth: max ${maxD} exceeds maxDepth ${limits.maxDepth}`);
  const mutationType = o.mutation ?? 'subtree';
  if (!MUTATION_TYPES.includes(mutationType)) {
    throw new ConfigError(`option mutation: expected one of ${MUTATION_TYPES.join(', ')}, got ${String(mutationType)}`);
  }
  const mutationDepth = int('mutationDepth', o.mutationDepth ?? 4, 0);
  const internalBias = o.internalBias ?? 0.9;
  if (!(internalBias >= 0 && internalBias <= 1)) throw new ConfigError(`option internalBias: expected a probability, got ${internalBias}`);
  const mutate = MUTATORS[mutationType];
  return {
    ps,
    limits,
    mutationType,
    random: (rng: Rng, slot: number) => {
      // Full trees of depth maxD can exceed maxSize with binary functions; redraw as grow then.
      const t = rampedHalfAndHalf(rng, ps, minD, maxD, slot);
      return t.op.length <= limits.maxSize ? t : rampedHalfAndHalf(rng, ps, minD, minD, 1);
    },
    crossover: (rng, a, b) => subtreeCrossover(rng, a, b, limits, internalBias),
    mutate: (rng, t) => mutate(rng, ps, t, limits, mutationDepth),
    distance: topDownDistance,
    size: (t) => t.op.length,
    key: treeKey,
  };
}
