import { existsSync, statSync } from 'node:fs';
import { optionError } from '../src/core/errors.js';
import type { RegressionTask } from '../src/eval/dataset.js';
import { BENCHMARK_NAMES, benchmarkTask, type BenchmarkName } from './benchmarks.js';
import { csvTask, type CsvSpec } from './csv.js';

export { BENCHMARKS, BENCHMARK_NAMES, benchmarkTask, gridPoints, type BenchmarkName } from './benchmarks.js';
export { csvTask, metaPathFor, readCsvMeta, readNumericCsv, type CsvSpec, type RowRange } from './csv.js';

export interface ProblemSpec extends CsvSpec {
  /** A benchmark name (see BENCHMARK_NAMES). */
  problem?: string;
  /** A CSV file; its JSON description is read from beside it unless `meta` names one. */
  data?: string;
  meta?: string;
}

/** The regression task a spec names: a benchmark sampled with the seed, or a CSV file. */
export function resolveTask(spec: ProblemSpec, seed: number): RegressionTask {
  if (spec.data !== undefined) {
    if (spec.problem !== undefined) throw optionError('data', 'give a benchmark problem or a data file, not both');
    for (const key of ['data', 'meta'] as const) {
      const path = spec[key];
      if (path === undefined) continue;
      const shown = path !== '' && path.trim() === path ? path : JSON.stringify(path);
      if (!existsSync(path)) throw optionError(key, `${shown}: not found`);
      if (statSync(path).isDirectory()) throw optionError(key, `${shown}: a folder, not a file`);
    }
    return spec.meta !== undefined ? csvTask(spec.data, spec, spec.meta) : csvTask(spec.data, spec);
  }
  const name = (spec.problem ?? 'koza-1').toLowerCase();
  if (!(BENCHMARK_NAMES as string[]).includes(name)) {
    throw optionError('problem', `unknown problem "${spec.problem}" (known: ${BENCHMARK_NAMES.join(', ')})`);
  }
  // said, not ignored: a run given a target or rows would otherwise fit the benchmark's own and look as asked
  for (const key of ['meta', 'target', 'train', 'test'] as const) {
    if (spec[key] !== undefined) throw optionError(key, `only with a data file (benchmark ${name} has its own target and rows)`);
  }
  return benchmarkTask(name as BenchmarkName, seed);
}
