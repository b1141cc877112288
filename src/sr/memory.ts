/**
 * The up-front memory estimate of a symbolic-regression run: what its sizes (population, tree size,
 * per-case losses, data rows, generations, threads) can take in the worst case, against what the
 * machine offers. A run that cannot fit is refused before any work, with the figures, instead of
 * dying of heap exhaustion minutes later. runRegression (so fit() and every study run), the command
 * line (with its thread count, before reading anything else) and the study runner (with the runs it
 * keeps at once) all check through {@link checkMemory}.
 */
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { optionError } from '../core/errors.js';
import { carriesPreferences, selectsOnCases } from '../core/options.js';
import type { RegressionSettings } from './options.js';

/** What a machine offers: physical memory and the JavaScript heap limit (each worker thread has its own heap). */
export interface MachineMemory {
  readonly total: number;
  readonly heap: number;
}

export function machineMemory(): MachineMemory {
  return { total: totalmem(), heap: getHeapStatistics().heap_size_limit };
}

/** The data and the process around a run. */
export interface RunShape {
  /** Training rows (and test rows, which the final report evaluates). */
  readonly rows: number;
  readonly testRows?: number;
  readonly inputs: number;
  /** Copies of the data the evaluators hold: one per worker thread (each kernel holds its own) plus the main thread's. Default 2. */
  readonly dataCopies?: number;
  /** Runs at once in this process, each in its own worker thread (a study's threads). Default 1. */
  readonly concurrent?: number;
  /** The run writes checkpoints (one JSON text of the whole population). */
  readonly checkpoint?: boolean;
}

/** One contribution to the estimate: bytes in all, of which on the JavaScript heap, and the option that sets it. */
export interface MemoryPart {
  readonly what: string;
  readonly option: string;
  readonly bytes: number;
  readonly heap: number;
}

/*
 * Measured on Node 20 (x86-64): an individual with two trees of n nodes takes about 1 KB of heap
 * (objects, typed-array headers) plus 18 n bytes of typed-array storage. Two generations are alive at
 * once (parents and offspring; NSGA-II merges both). The baseline covers the modules and the engine.
 */
const TREE_HEAP = 512;
const NODE_BYTES = 9;
const GENERATION_HEAP = 1024;
const BASELINE_HEAP = 64 * 2 ** 20;
/** V8's longest string (2^29 - 24 one-byte characters): a checkpoint is one JSON text. */
const MAX_STRING = 2 ** 29 - 24;

/** The worst-case memory of a run with these settings and this shape, part by part. */
export function memoryParts(s: RegressionSettings, shape: RunShape): MemoryPart[] {
  const alive = 2 * s.populationSize;
  const trees = carriesPreferences(s) ? 2 : 1;
  const rows = shape.rows + (shape.testRows ?? 0);
  const parts: MemoryPart[] = [
    {
      what: `${s.populationSize} individuals with ${trees === 2 ? 'genome and preference trees' : 'trees'} of up to ${s.maxSize} nodes`,
      option: 'populationSize',
      bytes: alive * trees * (TREE_HEAP + NODE_BYTES * s.maxSize),
      heap: alive * trees * TREE_HEAP,
    },
    {
      what: `${shape.dataCopies ?? 2} copies of ${rows} rows x ${shape.inputs + 1} columns`,
      option: 'threads',
      bytes: (shape.dataCopies ?? 2) * rows * (shape.inputs + 1) * 8,
      heap: 0,
    },
    {
      what: `statistics of ${s.generations} generations`,
      option: 'generations',
      bytes: s.generations * GENERATION_HEAP,
      heap: s.generations * GENERATION_HEAP,
    },
  ];
  if (selectsOnCases(s))
    parts.push({
      what: `per-row losses of ${alive} individuals on ${shape.rows} rows`,
      option: 'firstParent',
      bytes: alive * shape.rows * 8,
      heap: 0,
    });
  if (s.diversity !== undefined && s.diversity !== false)
    parts.push({
      what: `diversity outputs of ${s.populationSize} genotypes on ${shape.rows} rows`,
      option: 'diversity',
      bytes: s.populationSize * shape.rows * 8,
      heap: 0,
    });
  if (s.objectives === 'error-size') {
    // fast non-dominated sort keeps, for each of 2N points, the points it dominates: up to 2N(2N - 1)/2 entries
    const pairs = (alive * (alive - 1)) / 2;
    parts.push({ what: `NSGA-II domination lists of ${alive} points`, option: 'populationSize', bytes: pairs * 8, heap: pairs * 8 });
  }
  return parts;
}

/** Characters of a checkpoint of these settings in the worst case (base64 trees, per-row losses). */
function checkpointChars(s: RegressionSettings, shape: RunShape): number {
  const trees = carriesPreferences(s) ? 2 : 1;
  const perTree = Math.ceil((NODE_BYTES * s.maxSize) / 3) * 4 + 40;
  const cases = selectsOnCases(s) ? s.populationSize * (Math.ceil((8 * shape.rows) / 3) * 4 + 8) : 0;
  return s.populationSize * trees * perTree + cases;
}

const gb = (b: number): string => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 1)} GB`;

/**
 * Refuses settings whose worst case cannot fit this machine: all parts (times the runs kept at once)
 * beyond its physical memory, or the heap parts of one run beyond the JavaScript heap limit, or a
 * checkpoint beyond the longest string JavaScript can build. The error names the largest part's option
 * and gives the figures.
 */
export function checkMemory(s: RegressionSettings, shape: RunShape, machine: MachineMemory = machineMemory()): void {
  const parts = memoryParts(s, shape);
  const concurrent = shape.concurrent ?? 1;
  const total = concurrent * parts.reduce((a, p) => a + p.bytes, 0) + BASELINE_HEAP;
  const heap = parts.reduce((a, p) => a + p.heap, 0) + BASELINE_HEAP;
  const largest = (key: 'bytes' | 'heap') => parts.reduce((a, p) => (p[key] > a[key] ? p : a));
  const runs = concurrent > 1 ? ` (${concurrent} runs at once)` : '';
  if (total > machine.total) {
    const p = largest('bytes');
    throw optionError(
      p.option,
      `the run needs up to ${gb(total)}${runs} in the worst case, mostly for ${p.what} (${gb(concurrent * p.bytes)}); this machine has ${gb(machine.total)} of memory`,
    );
  }
  if (heap > machine.heap) {
    const p = largest('heap');
    throw optionError(
      p.option,
      `the run needs up to ${gb(heap)} of JavaScript heap in the worst case, mostly for ${p.what} (${gb(p.heap)}); the heap limit is ${gb(machine.heap)} (raise it with NODE_OPTIONS=--max-old-space-size=MB)`,
    );
  }
  if (shape.checkpoint) {
    const chars = checkpointChars(s, shape);
    if (chars > MAX_STRING)
      throw optionError(
        'populationSize',
        `a checkpoint of ${s.populationSize} individuals with trees of up to ${s.maxSize} nodes can reach ${gb(chars)}, beyond the ${gb(MAX_STRING)} one JSON text can hold; lower populationSize or maxSize`,
      );
  }
}
