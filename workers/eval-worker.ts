import { workerData } from 'node:worker_threads';
import { BUILTIN_HANDLERS, runClaimed } from '../src/eval/pool-tasks.js';
import type { ClaimingTask, PoolWorkerData, TaskHandler, WorkerContext } from '../src/eval/protocol.js';
import { WasmEngine } from '../src/eval/wasm-engine.js';
import { SCORE_HANDLERS } from '../src/sr/scoring.js';

/**
 * Piscina worker of the WebAssembly evaluator (see src/eval/protocol.ts). It builds its WebAssembly kernel
 * once, from the shared data set in workerData, then runs tasks on tree ranges and writes the results
 * into the task's shared output buffer.
 */
const wd = workerData as PoolWorkerData;
const all = new Float64Array(wd.data);
const columns = wd.names.map((_, j) => all.subarray(j * wd.rows, (j + 1) * wd.rows));
const y = all.subarray(wd.names.length * wd.rows, (wd.names.length + 1) * wd.rows);
const ctx: WorkerContext = { engine: new WasmEngine(columns, y, wd.block), columns, y };

/** One handler per task kind: the pool's own and the regression layer's. */
export const TASK_HANDLERS: Readonly<Record<string, TaskHandler<never>>> = { ...BUILTIN_HANDLERS, ...SCORE_HANDLERS };

/** The piscina task function: claims the batch's tree ranges until none is left. */
export default function run(task: ClaimingTask): number {
  return runClaimed(TASK_HANDLERS, ctx, task);
}
