import { check, stripUndefined } from '../core/options.js';
import { optionError } from '../core/errors.js';
import { MAX_TREE_DEPTH, MAX_TREE_SIZE } from './limits.js';
import { DEFAULT_PRIMITIVE_OPTIONS, resolvePrimitiveOptions, type PrimitiveSetOptions } from './primitives.js';
import { INIT_METHODS, type InitMethod } from './init.js';
import { parseMutation, type MutationSpec } from './variation.js';

/** Tree-GP settings as given: every field optional, defaults in {@link DEFAULT_TREE_OPTIONS}. */
export interface TreeOptions extends PrimitiveSetOptions {
  /** Ramped half-and-half depth range for initial genomes and preferences. */
  initDepth?: readonly [number, number];
  /** Maximum tree depth (root alone = 0), at most {@link MAX_TREE_DEPTH}. */
  maxDepth?: number;
  /** Maximum nodes per tree, at most {@link MAX_TREE_SIZE}. No individual (genome or preference) ever exceeds it. */
  maxSize?: number;
  /**
   * One operator (`subtree`, `point`, `changevar`, `changefunc`, `insert`, `remove`, `constant`) or a
   * weighted list of them (`subtree:1,changevar:1,constant:2`): each mutation draws one by weight.
   */
  mutation?: MutationSpec;
  /**
   * Initial trees: `ramped` (ramped half-and-half over initDepth), `btc` (Operon's balanced tree creator)
   * or `ptc2` (Luke's PTC2); the last two aim at a size drawn uniformly in 1 .. min(maxSize, 2^(max initDepth + 1) - 1).
   */
  init?: InitMethod;
  /** Maximum depth of the random subtree inserted by subtree mutation, at most maxDepth (a deeper one cannot fit). */
  mutationDepth?: number;
  /** Probability that crossover picks an internal node rather than a leaf (Koza's 90/10). */
  internalBias?: number;
}

/**
 * Tree-GP settings with every field filled and checked; `init` only when it is not the default `ramped`
 * (so that resolved settings, and the checkpoint fingerprints made from them, stay as they were).
 */
export type TreeSettings = Required<Omit<TreeOptions, 'init'>> & Pick<TreeOptions, 'init'>;

/** The tree layer's defaults: the primitive set's, Koza's depth limit 17, ramped 2..6, subtree mutation of depth 4. */
export const DEFAULT_TREE_OPTIONS: Readonly<TreeSettings> = {
  ...DEFAULT_PRIMITIVE_OPTIONS,
  initDepth: [2, 6],
  maxDepth: 17,
  maxSize: 256,
  mutation: 'subtree',
  init: 'ramped',
  mutationDepth: 4,
  internalBias: 0.9,
};

/** Fills the defaults and checks every field; each error names its option. */
export function resolveTreeOptions(partial: TreeOptions = {}): TreeSettings {
  const primitives = resolvePrimitiveOptions(partial);
  const o = { ...DEFAULT_TREE_OPTIONS, ...stripUndefined(partial) };
  const [minD, maxD] = check.pair('initDepth', o.initDepth, true);
  check.int('initDepth (min)', minD, 0);
  const maxDepth = check.int('maxDepth', o.maxDepth, 0, MAX_TREE_DEPTH);
  const maxSize = check.int('maxSize', o.maxSize, 1, MAX_TREE_SIZE);
  if (maxD > maxDepth) throw optionError('initDepth', `max ${maxD} exceeds maxDepth ${maxDepth}`);
  const mutationDepth = check.int('mutationDepth', o.mutationDepth, 0);
  if (mutationDepth > maxDepth)
    throw optionError('mutationDepth', `${mutationDepth} exceeds maxDepth ${maxDepth} (a deeper subtree cannot fit)`);
  parseMutation(o.mutation);
  const init = check.oneOf('init', o.init, INIT_METHODS);
  return {
    ...primitives,
    initDepth: o.initDepth,
    maxDepth,
    maxSize,
    mutation: o.mutation,
    ...(init !== 'ramped' ? { init } : {}),
    mutationDepth,
    internalBias: check.probability('internalBias', o.internalBias),
  };
}
