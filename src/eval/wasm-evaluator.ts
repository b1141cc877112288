import { availableParallelism } from 'node:os';
import { ConfigError } from '../core/errors.js';
import type { Tree } from '../tree/tree.js';
import { WasmEngine } from './wasm-engine.js';
import type { Dataset } from './dataset.js';
import { dedupe, encodeTrees, expand } from './encode.js';
import { FITNESS_KINDS, type FitnessKind } from './loss.js';
import { DEFAULT_BLOCK } from './kernel.js';
import { checkRows, PoolEvaluator, type PoolOptions } from './pool.js';
import { BUILTIN_HANDLERS } from './pool-tasks.js';
import type { RowRange, TreeEvaluator } from './types.js';

/**
 * The WebAssembly evaluator in the calling thread: trees compiled to register programs and run column-wise
 * over row blocks by the WebAssembly SIMD kernel (see src/eval/wasm-engine.ts). Copies of a tree in a batch are
 * evaluated once.
 */
export class WasmEvaluator implements TreeEvaluator {
  readonly threads = 1;
  readonly fitnessKind: FitnessKind;
  private readonly core: WasmEngine;
  private readonly rows: number;

  constructor(data: Dataset, o: { fitness?: FitnessKind; block?: number } = {}) {
    this.fitnessKind = o.fitness ?? 'rmse';
    this.rows = data.rows;
    this.core = new WasmEngine(data.columns, data.y, o.block ?? DEFAULT_BLOCK);
  }

  async evaluate(trees: readonly Tree[]): Promise<Float64Array> {
    return this.evaluateSync(trees);
  }

  /** As evaluate(), synchronously. */
  evaluateSync(trees: readonly Tree[]): Float64Array {
    const { unique, index } = dedupe(trees);
    const out = new Float64Array(unique.length);
    this.core.fitness(encodeTrees(unique), 0, unique.length, this.fitnessKind, out);
    return expand(out, index);
  }

  async outputs(trees: readonly Tree[], rows: RowRange = { start: 0, end: this.rows }): Promise<Float64Array[]> {
    return this.outputsSync(trees, rows);
  }

  /** As outputs(), synchronously. */
  outputsSync(trees: readonly Tree[], rows: RowRange = { start: 0, end: this.rows }): Float64Array[] {
    const { start, end } = checkRows(rows, this.rows);
    const n = end - start;
    const out = new Float64Array(trees.length * n);
    this.core.outputs(encodeTrees(trees), 0, trees.length, start, end, out);
    return trees.map((_, t) => out.subarray(t * n, (t + 1) * n));
  }

  async close(): Promise<void> {}
}

export interface EvaluatorOptions extends Partial<Omit<PoolOptions, 'threads'>> {
  /** 1 = in-process (default: {@link defaultThreads} of the training rows). */
  threads?: number;
}

/**
 * Training rows from which evaluation on a worker pool pays off. A generation's evaluation grows with
 * the rows while the rest of the loop (selection, mate choice, variation) and the pool's own costs
 * (each worker's start, messages per task) do not: below this the calling thread alone is as fast.
 */
export const POOL_MIN_ROWS = 2000;

/**
 * With constant optimisation each candidate costs many evaluations, so a pool pays off on far fewer
 * rows: from {@link POOL_MIN_ROWS_OPTIMISED} training rows when the run scores at least
 * {@link POOL_MIN_CANDIDATES} candidates (population x generations), the pool's start-up then being a
 * small share. Measured with the `--data` defaults (LM, 5 evaluations), population 1000, 100
 * generations, 2 cores, 2 threads against 1 (bench/PROFILE.md): 0.61-0.67 of the time on 75 to 676
 * rows, 0.92 on 70, 0.90 on 35, 1.06 on 50; and 1.3 for a run of 1,000 candidates on 35 rows.
 */
export const POOL_MIN_ROWS_OPTIMISED = 64;
export const POOL_MIN_CANDIDATES = 20_000;

/** What a run will do, as far as the choice of threads goes. */
export interface RunLoad {
  /** Constant-optimisation evaluations per candidate (0: off). */
  readonly optimiseIterations: number;
  /** Population x generations. */
  readonly candidates: number;
}

/**
 * The evaluation threads a run uses unless told otherwise, and why: a worker pool on every core from
 * {@link POOL_MIN_ROWS} training rows, or, with constant optimisation on in a run of at least
 * {@link POOL_MIN_CANDIDATES} candidates, from {@link POOL_MIN_ROWS_OPTIMISED}; in-process otherwise.
 * The one place this is decided (the command line and the library's evaluators ask it).
 */
export function defaultThreads(rows: number, cores = availableParallelism(), load?: RunLoad): { threads: number; why: string } {
  if (cores <= 1) return { threads: 1, why: 'one core' };
  if (rows >= POOL_MIN_ROWS) return { threads: cores, why: `${rows} training rows: a worker pool on every core` };
  if (load && load.optimiseIterations > 0 && rows >= POOL_MIN_ROWS_OPTIMISED && load.candidates >= POOL_MIN_CANDIDATES) {
    return { threads: cores, why: `${rows} training rows with constant optimisation: a worker pool on every core` };
  }
  const optimised =
    load && load.optimiseIterations > 0
      ? ` (${POOL_MIN_ROWS_OPTIMISED} with constant optimisation and ${POOL_MIN_CANDIDATES} candidates)`
      : '';
  return { threads: 1, why: `in-process: ${rows} training rows, a worker pool pays off from ${POOL_MIN_ROWS}${optimised}` };
}

/**
 * The evaluator the CLI and the library use: in-process for one thread, a worker pool otherwise.
 * Both give bit-identical results (equal to the reference evaluator's). Close it when done.
 */
export function createEvaluator(train: Dataset, o: EvaluatorOptions = {}): TreeEvaluator {
  const threads = o.threads ?? defaultThreads(train.rows).threads;
  if (!(Number.isInteger(threads) && threads >= 1)) throw new ConfigError(`option threads: expected an integer >= 1, got ${threads}`);
  const fitness = o.fitness ?? 'rmse';
  if (!FITNESS_KINDS.includes(fitness))
    throw new ConfigError(`option fitness: expected one of ${FITNESS_KINDS.join(', ')}, got ${String(fitness)}`);
  const block = o.block ?? DEFAULT_BLOCK;
  if (!(Number.isInteger(block) && block >= 4 && block % 4 === 0))
    throw new ConfigError(`option block: expected a positive multiple of 4, got ${block}`);
  if (threads === 1) return new WasmEvaluator(train, { fitness, block });
  // the calling thread computes too: threads - 1 workers
  return new PoolEvaluator(train, { ...o, threads: threads - 1, caller: BUILTIN_HANDLERS, fitness, block });
}
