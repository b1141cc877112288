import { workerData } from 'node:worker_threads';
import { EvalCore } from '../src/eval/core.js';
import { encodedFrom } from '../src/eval/encode.js';
import type { PoolTask, PoolTaskKind, PoolWorkerData } from '../src/eval/protocol.js';
import { coreScoreData, scoreRange } from '../src/sr/fitness.js';

/**
 * Piscina worker of the fast evaluator (see src/eval/protocol.ts). It builds its WebAssembly kernel
 * once, from the shared data set in workerData, then runs tasks on tree ranges and writes the results
 * into the task's shared output buffer.
 */
const wd = workerData as PoolWorkerData;
const all = new Float64Array(wd.data);
const columns = wd.names.map((_, j) => all.subarray(j * wd.rows, (j + 1) * wd.rows));
const y = all.subarray(wd.names.length * wd.rows, (wd.names.length + 1) * wd.rows);
const core = new EvalCore(columns, y, wd.block);
const scoreData = coreScoreData(core, columns, y);

type Handler<K extends PoolTaskKind> = (core: EvalCore, task: Extract<PoolTask, { kind: K }>) => void;

/** One handler per task kind. */
export const TASK_HANDLERS = {
  fitness: (c, t) => c.fitness(encodedFrom(t.trees), t.from, t.to, t.fitness, t.out),
  outputs: (c, t) => {
    // The shared buffer holds every tree's rows; this task writes its range only.
    const n = t.r1 - t.r0;
    c.outputs(encodedFrom(t.trees), t.from, t.to, t.r0, t.r1, t.out.subarray(t.from * n, t.to * n));
  },
  score: (_c, t) => scoreRange(encodedFrom(t.trees), t.from, t.to, scoreData, t.settings, t.out, t.outArg),
} satisfies { [K in PoolTaskKind]: Handler<K> };

/** The piscina task function. */
export default function run(task: PoolTask): number {
  const h = TASK_HANDLERS[task.kind] as Handler<PoolTask['kind']> | undefined;
  if (!h) throw new Error(`eval worker: unknown task kind ${String(task.kind)}`);
  h(core, task as never);
  return task.to - task.from;
}
