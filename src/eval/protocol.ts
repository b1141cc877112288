/**
 * The message protocol between the pool (src/eval/pool.ts) and its workers (workers/eval-worker.ts).
 *
 * A worker receives the data set once, in SharedArrayBuffers (`PoolWorkerData`, the workerData of
 * every worker). Each task then names its `kind`, the trees (a flat encoding in shared memory, see
 * src/eval/encode.ts), the tree range [from, to) it owns, and a shared output buffer it writes its range
 * of; a task returns nothing else. Work is split by tree ranges only, never by rows, so every value is
 * computed by one thread in the same order whatever the thread count or chunking.
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
