import { encodedFrom } from './encode.js';
import type { ClaimingTask, FitnessTask, OutputsTask, TaskHandler, TaskHandlers, TreeRangeTask, WorkerContext } from './protocol.js';

/** Handlers of the pool's own task kinds (workers/eval-worker.ts adds those of the layers above). */
export const BUILTIN_HANDLERS = {
  fitness: ((ctx, t) => ctx.engine.fitness(encodedFrom(t.trees), t.from, t.to, t.fitness, t.out)) satisfies TaskHandler<FitnessTask>,
  outputs: ((ctx, t) => {
    // The shared buffer holds every tree's rows; this task writes its range only.
    const n = t.r1 - t.r0;
    ctx.engine.outputs(encodedFrom(t.trees), t.from, t.to, t.r0, t.r1, t.out.subarray(t.from * n, t.to * n));
  }) satisfies TaskHandler<OutputsTask>,
};

/**
 * Runs a batch's ranges until none is left to claim (a pool worker's task, and the calling thread's
 * share): each claimed range is the template task on [from, to). Returns the trees this thread did.
 */
export function runClaimed(handlers: TaskHandlers, ctx: WorkerContext, { task, claims }: ClaimingTask): number {
  const h = handlers[task.kind] as TaskHandler<TreeRangeTask> | undefined;
  if (!h) throw new Error(`eval worker: unknown task kind ${String(task.kind)}`);
  const count = claims.ranges.length >> 1;
  let done = 0;
  for (let i = Atomics.add(claims.next, 0, 1); i < count; i = Atomics.add(claims.next, 0, 1)) {
    const from = claims.ranges[2 * i] as number;
    const to = claims.ranges[2 * i + 1] as number;
    h(ctx, { ...task, from, to });
    done += to - from;
  }
  return done;
}
