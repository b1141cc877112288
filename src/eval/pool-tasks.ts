import { encodedFrom } from './encode.js';
import type { FitnessTask, OutputsTask, TaskHandler } from './protocol.js';

/** Handlers of the pool's own task kinds (workers/eval-worker.ts adds those of the layers above). */
export const BUILTIN_HANDLERS = {
  fitness: ((ctx, t) => ctx.engine.fitness(encodedFrom(t.trees), t.from, t.to, t.fitness, t.out)) satisfies TaskHandler<FitnessTask>,
  outputs: ((ctx, t) => {
    // The shared buffer holds every tree's rows; this task writes its range only.
    const n = t.r1 - t.r0;
    ctx.engine.outputs(encodedFrom(t.trees), t.from, t.to, t.r0, t.r1, t.out.subarray(t.from * n, t.to * n));
  }) satisfies TaskHandler<OutputsTask>,
};
