/**
 * The message protocol between the pool (src/eval/pool.ts) and its workers (workers/eval-worker.ts).
 *
 * A worker receives the data set once, in SharedArrayBuffers (`PoolWorkerData`, the workerData of
 * every worker). Per batch each worker then gets one task (`ClaimingTask`): a template naming its `kind`,
 * the trees (a flat encoding in shared memory, see src/eval/encode.ts) and shared output buffers, and
 * the batch's tree ranges, which the worker claims one at a time (as the calling thread may too) and
 * runs as the template on [from, to); a task returns nothing else. Work is split by tree ranges only,
 * never by rows, so every value is computed by one thread in the same order whatever the thread count,
 * the chunking or which thread claims a range.
 *
 * The pool knows two kinds (`fitness`, `outputs`). A layer above adds its own (src/sr/scoring-pool.ts
 * adds `score`): an interface extending {@link TreeRangeTask}, a handler in the worker's registry
 * (workers/eval-worker.ts merges {@link BUILTIN_HANDLERS} with the layers' handlers), and a method that
 * splits the trees into ranges and calls `PoolEvaluator.runTasks`.
 */

import type { FitnessKind } from './loss.js';
import type { WasmEngine } from './wasm-engine.js';

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

/** A task on the trees [from, to) of a shared batch, writing its results into the shared `out`. */
export interface TreeRangeTask {
  readonly kind: string;
  readonly trees: SharedTrees;
  readonly from: number;
  readonly to: number;
  readonly out: Float64Array;
}

/**
 * A batch's tree ranges, claimed one at a time by every thread that works on it (each pool worker's
 * one task, and the calling thread): range i is [ranges[2i], ranges[2i + 1]), and `next[0]` the next
 * range to claim (Atomics.add). Which thread computes a range never changes its values.
 */
export interface RangeClaims {
  readonly ranges: Int32Array;
  readonly next: Int32Array;
}

/** What a pool worker receives: a task template (its from/to unused) and the ranges to claim from. */
export interface ClaimingTask {
  readonly task: TreeRangeTask;
  readonly claims: RangeClaims;
}

/** Fitness of trees [from, to): out[t] = loss of tree t. */
export interface FitnessTask extends TreeRangeTask {
  readonly kind: 'fitness';
  readonly fitness: FitnessKind;
}

/** Outputs of trees [from, to) on rows [r0, r1): out[t * (r1 - r0) + r - r0]. */
export interface OutputsTask extends TreeRangeTask {
  readonly kind: 'outputs';
  readonly r0: number;
  readonly r1: number;
}

/** What a worker holds: its engine (the WebAssembly kernel on the shared data set) and the data set. */
export interface WorkerContext {
  readonly engine: WasmEngine;
  readonly columns: readonly Float64Array[];
  readonly y: Float64Array;
}

/** Runs one kind of task in a worker. */
export type TaskHandler<T extends TreeRangeTask> = (ctx: WorkerContext, task: T) => void;

/** The two kinds of task every pool understands. */
export type BuiltinTask = FitnessTask | OutputsTask;

/** A worker's handlers by task kind. */
export type TaskHandlers = Readonly<Record<string, TaskHandler<never>>>;
