import { Piscina } from 'piscina';
import { optionError, WorkerError } from '../core/errors.js';
import type { Tree } from '../tree/tree.js';
import { WasmEngine } from './wasm-engine.js';
import type { Dataset } from './dataset.js';
import { dedupe, encodeTrees, expand, type EncodedTrees } from './encode.js';
import type { FitnessKind } from './loss.js';
import { DEFAULT_BLOCK } from './kernel.js';
import { distUrl } from './paths.js';
import { runClaimed } from './pool-tasks.js';
import type { ClaimingTask, PoolWorkerData, RangeClaims, TaskHandlers, TreeRangeTask, WorkerContext } from './protocol.js';
import type { RowRange, TreeEvaluator } from './types.js';

export interface PoolOptions {
  /** Worker threads (>= 1). */
  threads: number;
  /**
   * Handlers of the task kinds the calling thread may run (those of the workers): with them the calling
   * thread claims ranges of each batch beside the workers, so `threads` workers and it compute on
   * threads + 1 cores. Without, it only waits for the workers.
   */
  caller?: TaskHandlers;
  fitness?: FitnessKind;
  /** Rows per kernel block (a multiple of 4). */
  block?: number;
  /**
   * Fixed number of tree ranges per batch (tests use odd values); default: enough ranges of at least
   * `minTaskWork` node-row evaluations each, up to 4 per thread, so a slow range is balanced by others.
   */
  chunks?: number;
  /** Default 4e6 node-row evaluations: a few milliseconds, against the batch's messages (~0.1 ms). */
  minTaskWork?: number;
  /** Worker entry (default dist/workers/eval-worker.js); tests substitute a faulty one. */
  workerFile?: string | URL;
  /** Passed to the workers as workerData.extra. */
  workerExtra?: unknown;
}

/**
 * The WebAssembly evaluator on a piscina pool of worker threads. The data set is copied once into a
 * SharedArrayBuffer that every worker reads (workerData); per batch the distinct trees are encoded into
 * shared memory and split into contiguous tree ranges balanced by nodes x rows. Each worker gets one task
 * per batch, in which it claims ranges from a shared counter until none is left, and with `caller`
 * handlers the calling thread claims ranges too (so no thread waits while another has ranges queued,
 * and no more threads run than there are cores); each range's results go into shared output buffers.
 * A tree's value is computed by one thread with the same code as in-process, so results are
 * bit-identical for every thread count and chunking.
 *
 * Batches of less than one task's work (`minTaskWork`) run in the calling thread, with the same engine.
 *
 * A worker that throws or dies fails its task; the whole batch is then run once more (piscina replaces
 * dead workers), and a second failure rejects with a WorkerError naming the fault.
 */
export class PoolEvaluator implements TreeEvaluator {
  /** Threads that compute: the workers, and the calling thread with `caller` handlers. */
  readonly threads: number;
  readonly fitnessKind: FitnessKind;
  private readonly workers: number;
  private readonly pool: Piscina;
  private readonly caller: TaskHandlers | undefined;
  private readonly rows: number;
  private readonly chunks: number | undefined;
  private readonly minTaskWork: number;
  private closed = false;
  private readonly data: Dataset;
  private readonly block: number;
  /** The same engine in this thread, for batches too small to be worth a task and the caller's ranges (created on first use). */
  private local: WasmEngine | undefined;
  private callerContext: WorkerContext | undefined;
  /** Rejects the batch in flight when the pool reports an error outside any task (e.g. a worker failing at start). */
  private poolFault: ((e: Error) => void) | undefined;
  /** An error the pool reported while no batch was in flight (a worker failing as it starts). */
  private idleFault: Error | undefined;

  constructor(data: Dataset, o: PoolOptions) {
    if (!(Number.isInteger(o.threads) && o.threads >= 1)) throw optionError('threads', `expected an integer >= 1, got ${o.threads}`);
    this.workers = o.threads;
    this.caller = o.caller;
    this.threads = o.threads + (o.caller ? 1 : 0);
    this.fitnessKind = o.fitness ?? 'rmse';
    this.rows = data.rows;
    this.chunks = o.chunks;
    this.minTaskWork = o.minTaskWork ?? 4e6;
    this.data = data;
    this.block = o.block ?? DEFAULT_BLOCK;
    const shared = new Float64Array(new SharedArrayBuffer((data.columns.length + 1) * data.rows * 8));
    data.columns.forEach((c, j) => shared.set(c.subarray(0, data.rows), j * data.rows));
    shared.set(data.y, data.columns.length * data.rows);
    const workerData: PoolWorkerData = {
      names: data.names,
      rows: data.rows,
      data: shared.buffer as SharedArrayBuffer,
      block: o.block ?? DEFAULT_BLOCK,
      ...(o.workerExtra !== undefined ? { extra: o.workerExtra } : {}),
    };
    const file = o.workerFile ?? distUrl('workers/eval-worker.js');
    this.pool = new Piscina({
      filename: file instanceof URL ? file.href : file,
      minThreads: o.threads,
      maxThreads: o.threads,
      idleTimeout: Infinity,
      workerData,
      execArgv: workerExecArgv(),
    });
    this.pool.on('error', (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      if (this.poolFault) this.poolFault(err);
      else this.idleFault ??= err;
    });
  }

  async evaluate(trees: readonly Tree[]): Promise<Float64Array> {
    if (trees.length === 0) return new Float64Array(0);
    const { unique, index } = dedupe(trees);
    const enc = encodeTrees(unique, true);
    const out = new Float64Array(new SharedArrayBuffer(unique.length * 8));
    const kind = this.fitnessKind;
    if (this.isTiny(enc, this.rows)) {
      // Less than one task's worth of work (tiny data sets): messaging would cost more than computing.
      // Yield to the event loop first, so signals (Ctrl-C) and timers are served between batches.
      await new Promise((r) => setImmediate(r));
      this.localCore().fitness(enc, 0, enc.count, kind, out);
      return expand(out, index);
    }
    await this.runTasks('fitness', enc, this.rows, (from, to) => ({ kind: 'fitness', trees: enc, from, to, fitness: kind, out }));
    return expand(out, index);
  }

  async outputs(trees: readonly Tree[], rows: RowRange = { start: 0, end: this.rows }): Promise<Float64Array[]> {
    const { start, end } = checkRows(rows, this.rows);
    const n = end - start;
    const enc = encodeTrees(trees, true);
    const out = new Float64Array(new SharedArrayBuffer(trees.length * n * 8));
    if (trees.length > 0 && this.isTiny(enc, n)) {
      await new Promise((r) => setImmediate(r));
      this.localCore().outputs(enc, 0, trees.length, start, end, out);
    } else if (trees.length > 0) {
      await this.runTasks('outputs', enc, n, (from, to) => ({ kind: 'outputs', trees: enc, from, to, r0: start, r1: end, out }));
    }
    return trees.map((_, t) => out.subarray(t * n, (t + 1) * n));
  }

  /**
   * Splits trees [0, count) into contiguous ranges of similar work (nodes x rows), runs `make(from, to)`
   * for each on the pool's threads, and retries the whole batch once if a worker fails (an error in the
   * calling thread's own ranges is thrown as it is).
   */
  async runTasks(name: string, enc: EncodedTrees, rows: number, make: (from: number, to: number) => TreeRangeTask): Promise<void> {
    if (this.closed) throw new WorkerError('evaluation pool: used after close()');
    // piscina stops replacing workers that fail while starting, so a batch would wait forever.
    if (this.idleFault) throw new WorkerError(`evaluation worker failed while starting: ${this.idleFault.message}`);
    const ranges = this.split(enc, rows);
    let first: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.runOnce(ranges, make);
        return;
      } catch (e) {
        if (e instanceof CallerFault) throw e.cause;
        if (this.closed) throw new WorkerError(`evaluation pool: closed during ${name} evaluation`);
        first ??= e;
        if (attempt === 1) {
          const why = (x: unknown): string => (x instanceof Error ? x.message : String(x));
          throw new WorkerError(`evaluation worker failed during ${name} evaluation, twice: ${why(first)}; retry: ${why(e)}`);
        }
      }
    }
  }

  private async runOnce(ranges: readonly (readonly [number, number])[], make: (from: number, to: number) => TreeRangeTask): Promise<void> {
    const flat = new Int32Array(new SharedArrayBuffer(ranges.length * 8));
    ranges.forEach(([a, b], i) => {
      flat[2 * i] = a;
      flat[2 * i + 1] = b;
    });
    const claims: RangeClaims = { ranges: flat, next: new Int32Array(new SharedArrayBuffer(4)) };
    const job: ClaimingTask = { task: make(0, 0), claims };
    const workers = new Promise((resolve, reject) => {
      this.poolFault = reject;
      const tasks = Array.from({ length: Math.min(this.workers, ranges.length) }, () => this.pool.run(job));
      Promise.all(tasks).then(resolve, reject);
    }).finally(() => {
      this.poolFault = undefined;
    });
    let fault: CallerFault | undefined;
    if (this.caller) {
      try {
        runClaimed(this.caller, this.callerCore(), job);
      } catch (e) {
        fault = new CallerFault(e);
      }
    }
    // the caller's fault, if any, is thrown once the workers' tasks have settled
    await workers.then(
      () => {
        if (fault) throw fault;
      },
      (e: unknown) => {
        throw fault ?? e;
      },
    );
  }

  private callerCore(): WorkerContext {
    this.callerContext ??= { engine: this.localCore(), columns: this.data.columns, y: this.data.y };
    return this.callerContext;
  }

  private isTiny(enc: EncodedTrees, rows: number): boolean {
    return this.chunks === undefined && (enc.offsets[enc.count] as number) * rows < this.minTaskWork && !this.closed;
  }

  private localCore(): WasmEngine {
    this.local ??= new WasmEngine(this.data.columns, this.data.y, this.block);
    return this.local;
  }

  private split(enc: EncodedTrees, rows: number): [number, number][] {
    const nodes = enc.offsets[enc.count] as number;
    const work = nodes * Math.max(rows, 1);
    const want = this.chunks ?? Math.max(1, Math.min(4 * this.threads, Math.ceil(work / this.minTaskWork)));
    const k = Math.min(want, enc.count);
    const ranges: [number, number][] = [];
    let from = 0;
    for (let c = 1; c <= k; c++) {
      // End at the first tree whose cumulative node count reaches c/k of the total (at least one tree each).
      const target = (nodes * c) / k;
      let to = from + 1;
      while (to < enc.count - (k - c) && (enc.offsets[to] as number) < target) to++;
      if (c === k) to = enc.count;
      ranges.push([from, to]);
      from = to;
    }
    return ranges;
  }

  /** Terminates the workers (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}

/** An error in the calling thread's own ranges: not a worker's fault, so not retried. */
class CallerFault extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export function checkRows(rows: RowRange, total: number): RowRange {
  const { start, end } = rows;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= total)) {
    throw new RangeError(`rows: expected 0 <= start <= end <= ${total}, got ${start}:${end}`);
  }
  return rows;
}

/**
 * Node options for piscina workers. Piscina loads a worker file with require() first and falls back to
 * import(); on Node 20.19+ require() of an ES module (require(esm)) can race with that import and abort
 * the whole process ("v8::Module::IsGraphAsync must be used on an instantiated module", seen here under
 * load). Turning require(esm) off inside the workers makes require() fail at once, so the worker file is
 * only ever loaded by import().
 */
export function workerExecArgv(): string[] {
  const flag = '--no-experimental-require-module';
  // The parent's own options are not passed on: process-wide ones (e.g. --max-old-space-size) are
  // refused in a worker's execArgv, and the workers need none of them.
  return process.allowedNodeEnvironmentFlags.has(flag) ? [flag] : [];
}
