// Piscina worker entry: one whole study run per task (gpmate study run --threads N).
import { executeRun, type RunTask } from '../src/study/execute.js';
import type { RunRecord } from '../src/study/store.js';

export default function run(task: RunTask): Promise<RunRecord> {
  return executeRun(task);
}
