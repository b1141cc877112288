/**
 * The message protocol between the pool (src/eval/pool.ts) and its workers (workers/eval-worker.ts).
 *
 * A worker receives the data set once, in SharedArrayBuffers (`PoolWorkerData`, the workerData of
 * every worker). Each task then names its `kind`, the trees (a flat encoding in shared memory, see
 * src/eval/encode.ts), the tree range [from, to) it owns, and a shared output buffer it writes its range
 * of; a task returns nothing else. Work is split by tree ranges only, never by rows, so every value is
 * computed by one thread in the same order whatever the thread count or chunking.
 *
 * To add a kind of task (e.g. "optimise the constants of trees i..j"): add its interface to `PoolTask`,
 * a handler to `TASK_HANDLERS` in workers/eval-worker.ts (the `satisfies` there makes the registry
 * complete), and a method on `PoolEvaluator` that splits the trees into ranges and calls `runTasks`.
 */

import type { ScoreSettings } from '../sr/fitness.js';
import type { FitnessKind } from './fitness.js';

/** The data set as shared by every worker: column j is cols[j * rows, (j + 1) * rows); then y. */
export interface PoolWorkerData {
  readonly names: readonly string[];
  readonly rows: number;
  /** (names.length + 1) * rows f64: the input columns, then the target. */
  readonly data: SharedArrayBuffer;
  readonly block: number;
  /** Anything a custom worker entry needs (test fault injection, extensions); ignored by the default. */
  readonly extra?: unknown;
}

/** Trees in shared memory (see EncodedTrees). */
export interface SharedTrees {
  readonly op: Uint8Array;
  readonly arg: Float64Array;
  readonly offsets: Int32Array;
}

/** Fitness of trees [from, to): out[t] = loss of tree t. */
export interface FitnessTask {
  readonly kind: 'fitness';
  readonly trees: SharedTrees;
  readonly from: number;
  readonly to: number;
  readonly fitness: FitnessKind;
  readonly out: Float64Array;
}

/** Outputs of trees [from, to) on rows [r0, r1): out[t * (r1 - r0) + r - r0]. */
export interface OutputsTask {
  readonly kind: 'outputs';
  readonly trees: SharedTrees;
  readonly from: number;
  readonly to: number;
  readonly r0: number;
  readonly r1: number;
  readonly out: Float64Array;
}

/**
 * Regression scores of trees [from, to) (src/sr/fitness.ts scoreCandidate: scaled fitness, constant
 * optimisation, robustness check): out[t] = loss; the constants of the scored tree (tuned when
 * optimising) are written into outArg at the tree's own node offsets (the structure never changes).
 */
export interface ScoreTask {
  readonly kind: 'score';
  readonly trees: SharedTrees;
  readonly from: number;
  readonly to: number;
  readonly settings: ScoreSettings;
  readonly out: Float64Array;
  readonly outArg: Float64Array;
}

export type PoolTask = FitnessTask | OutputsTask | ScoreTask;
export type PoolTaskKind = PoolTask['kind'];
