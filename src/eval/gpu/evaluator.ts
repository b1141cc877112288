import { ConfigError, DataError } from '../../core/errors.js';
import type { Evaluator } from '../../core/types.js';
import { Op } from '../../tree/primitives.js';
import { stackDepth, type Tree } from '../../tree/tree.js';
import type { Dataset } from '../dataset.js';
import { scaledRmse, type FitnessKind } from '../loss.js';
import { evaluateTree, treeRmse } from '../reference.js';
import { acquireGpu, type GpuAdapterInfo, type GpuContext, type GpuDeviceOptions, type GpuJsKernel } from './device.js';
import { blocksOf, GPU_OPCODES, GPU_VALUE_BOUND, interpreterSource, reductionSource, type KernelShape } from './kernel.js';

export interface GpuEvaluatorOptions extends GpuDeviceOptions {
  /** Largest tree (nodes) the program buffer holds: the run's maxSize. */
  readonly maxSize: number;
  /** Largest evaluation-stack depth the kernel supports (a tree of depth d needs at most d + 1: src/sr/options.ts stackBound). */
  readonly maxStackDepth: number;
  /** Trees per kernel launch (larger batches are split). Default 1024. */
  readonly batchCapacity?: number;
  /** Rows one thread evaluates. Default: chosen from the row count (16 to 256). */
  readonly rowsPerBlock?: number;
  /**
   * How many of each batch's best trees are re-scored in f64 on the CPU (default 1). Pass the
   * number of elites: with k >= elites, every individual that ever becomes an elite, and the best
   * of every generation, carries an f64 fitness (an elite is among the k best of the batch it was
   * evaluated in, since elitism keeps k better ones alive otherwise).
   */
  readonly rescoreTop?: number;
  /** `rmse` (default) or `scaled-rmse`: the RMSE after the optimal linear scaling (offset and slope per tree). */
  readonly fitness?: FitnessKind;
}

/** Counters of a GPU evaluator, for the CLI's closing line and the benchmark. */
export interface GpuEvaluatorStats {
  /** Kernel launches (pairs of interpreter + reduction). */
  launches: number;
  trees: number;
  /** Sum over trees of nodes x rows: the node evaluations performed on the device. */
  nodeEvaluations: number;
  /** Seconds spent waiting on the device (upload, both kernels, readback). */
  deviceSeconds: number;
  /** Trees re-scored in f64 on the CPU. */
  rescored: number;
  /** Largest |f32 - f64| / max(f64, 1e-12) among re-scored trees with finite errors. */
  maxRelativeDifference: number;
}

const F32_EXACT = 2 ** 24;

function defaultRowsPerBlock(rows: number): number {
  // Aim at >= 64 blocks per tree (parallelism for small populations) with blocks of 16..256 rows.
  let r = 16;
  while (r < 256 && rows / (r * 2) >= 64) r *= 2;
  return r;
}

/**
 * Fitness (RMSE) of trees on a GPU through gpu.js in `webgpu` mode: one interpreter kernel,
 * compiled once, evaluates every tree on every row from the flat postfix encoding; a second kernel
 * reduces each tree's row-block shares to one RMSE on the device. Values are f32 on the device
 * (see kernel.ts for the bounded-range semantics); the `rescoreTop` best trees of every batch are
 * re-scored in f64 by the CPU reference so elites and the reported best carry f64 errors.
 *
 * With `fitness: 'scaled-rmse'` the interpreter returns per-block sums and the host merges them in
 * f64 into each tree's closed-form linear scaling (offset, slope) and its RMSE ({@link scores}).
 *
 * Create with {@link GpuEvaluator.create}; `close()` releases the kernels and the device.
 */
export class GpuEvaluator implements Evaluator<Tree> {
  readonly stats: GpuEvaluatorStats = {
    launches: 0,
    trees: 0,
    nodeEvaluations: 0,
    deviceSeconds: 0,
    rescored: 0,
    maxRelativeDifference: 0,
  };
  private queue: Promise<unknown> = Promise.resolve();
  /** The compiled kernels of the first launch: gpu.js must never swap in a rebuilt one (compiled once per run). */
  private built: readonly unknown[] = [];
  private closed = false;
  private readonly prog: Float32Array;

  private constructor(
    private readonly data: Dataset,
    private readonly ctx: GpuContext,
    readonly shape: KernelShape,
    readonly capacity: number,
    private readonly maxSize: number,
    private readonly rescoreTop: number,
    private readonly interpret: GpuJsKernel,
    /** The on-device reduction (plain RMSE); with scaling the host merges the blocks. */
    private readonly reduce: GpuJsKernel | undefined,
    /** Milliseconds to translate, compile and build both kernels (first launch). */
    readonly compileMs: number,
    /** Per block: rows and the mean of y - mean y as the device sees it (f32 values); with Syy, n and mean y. */
    private readonly blockRows: Float64Array,
    private readonly blockYc: Float64Array,
    private readonly target: { mean: number; syy: number },
  ) {
    this.prog = new Float32Array(capacity * shape.stride);
  }

  /** The adapter in use (name, vendor, back end): print it so the user knows where fitness runs. */
  get adapter(): GpuAdapterInfo {
    return this.ctx.info;
  }

  static async create(data: Dataset, options: GpuEvaluatorOptions): Promise<GpuEvaluator> {
    const maxSize = options.maxSize;
    const maxStack = options.maxStackDepth;
    const rescoreTop = options.rescoreTop ?? 1;
    const fitness = options.fitness ?? 'rmse';
    if (fitness !== 'rmse' && fitness !== 'scaled-rmse')
      throw new ConfigError(`option fitness: expected rmse or scaled-rmse, got ${String(fitness)}`);
    const rowsPerBlock = options.rowsPerBlock ?? defaultRowsPerBlock(data.rows);
    const positiveInt = (name: string, v: number, max: number) => {
      if (!Number.isInteger(v) || v < 1 || v > max) throw new ConfigError(`option ${name}: expected an integer in [1, ${max}], got ${v}`);
    };
    positiveInt('maxSize', maxSize, 65_536);
    positiveInt('maxStackDepth', maxStack, 64);
    positiveInt('rowsPerBlock', rowsPerBlock, 4096);
    positiveInt('batchCapacity', options.batchCapacity ?? 1024, 1 << 20);
    if (!Number.isInteger(rescoreTop) || rescoreTop < 0)
      throw new ConfigError(`option rescoreTop: expected an integer >= 0, got ${rescoreTop}`);
    if (data.rows < 1) throw new DataError('GPU evaluator: the data set has no rows');
    if (data.rows >= F32_EXACT) throw new DataError(`GPU evaluator: ${data.rows} rows; the f32 kernels index at most ${F32_EXACT - 1}`);
    // The device keeps every value within +-1e18 (kernel.ts); data outside that range, or NaN, cannot be represented.
    const cols = [...data.columns, data.y];
    cols.forEach((c, j) => {
      for (let r = 0; r < data.rows; r++) {
        const v = c[r] as number;
        if (!(Math.abs(v) <= GPU_VALUE_BOUND)) {
          const name = j < data.names.length ? `column ${data.names[j]}` : 'the target';
          throw new DataError(
            `GPU evaluator: ${name} row ${r} holds ${v}; the GPU back end needs finite values within +-${GPU_VALUE_BOUND}`,
          );
        }
      }
    });
    const scaled = fitness === 'scaled-rmse';
    const shape: KernelShape = {
      rows: data.rows,
      variables: data.names.length,
      rowsPerBlock,
      registers: maxStack - 1,
      stride: 1 + 2 * maxSize,
      ...(scaled ? { scaled } : {}),
    };
    const blocks = blocksOf(shape);
    // with scaling the device reads y - mean y (what the sums need); the host keeps the f64 moments
    let ysum = 0;
    for (let r = 0; r < data.rows; r++) ysum += data.y[r] as number;
    const ymean = ysum / data.rows;
    const target = scaled
      ? Float32Array.from(data.y.subarray(0, data.rows), (v) => v - ymean)
      : Float32Array.from(data.y.subarray(0, data.rows));
    const blockRows = new Float64Array(blocks);
    const blockYc = new Float64Array(blocks);
    let ycAll = 0;
    for (let b = 0; b < blocks; b++) {
      const r0 = b * rowsPerBlock;
      const r1 = Math.min(data.rows, r0 + rowsPerBlock);
      let sb = 0;
      for (let r = r0; r < r1; r++) sb += target[r] as number;
      blockRows[b] = r1 - r0;
      blockYc[b] = sb / (r1 - r0);
      ycAll += sb;
    }
    let syy = 0;
    for (let r = 0; r < data.rows; r++) syy += ((target[r] as number) - ycAll / data.rows) ** 2;
    const capacity = Math.max(1, Math.min(options.batchCapacity ?? 1024, Math.floor((F32_EXACT - 1) / Math.max(blocks, shape.stride))));

    const ctx = await acquireGpu(options);
    try {
      const maxFloats = Math.floor(ctx.maxStorageBytes / 4);
      if (data.rows * cols.length > maxFloats) {
        throw new DataError(
          `GPU evaluator: the data (${cols.length} columns x ${data.rows} rows) exceeds this device's ${ctx.maxStorageBytes}-byte storage-buffer limit`,
        );
      }
      const t0 = performance.now();
      const settings = { loopMaxIterations: maxSize + 1, tactic: 'precision' };
      const interpret = ctx.gpu.createKernel(interpreterSource(shape), {
        ...settings,
        output: [capacity * blocks],
        constants: { data: [...data.columns.map((c) => Float32Array.from(c.subarray(0, data.rows))), target] },
        dynamicArguments: true,
        ...(scaled ? { returnType: 'Array(4)' } : { pipeline: true }),
      });
      const reduce = scaled ? undefined : ctx.gpu.createKernel(reductionSource(shape), { ...settings, output: [capacity] });
      const ev = new GpuEvaluator(data, ctx, shape, capacity, maxSize, rescoreTop, interpret, reduce, 0, blockRows, blockYc, {
        mean: ymean,
        syy,
      });
      // Build both pipelines now (an empty launch), so compile errors surface here and the time is known.
      await ev.launch(0);
      for (const k of reduce ? [interpret, reduce] : [interpret]) {
        const mode = k.kernel?.constructor.mode;
        if (mode !== 'webgpu') throw new Error(`gpu.js built a ${String(mode)} kernel instead of a webgpu one`);
      }
      (ev as { compileMs: number }).compileMs = performance.now() - t0;
      return ev;
    } catch (e) {
      await ctx.release();
      throw e;
    }
  }

  /** RMSE of each tree on the training data (+Infinity for invalid trees); the best `rescoreTop` in f64. */
  evaluate(trees: readonly Tree[]): Promise<Float64Array> {
    const run = this.queue.then(() => this.evaluateNow(trees));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Loss, offset and slope of each tree from the device, at 3t, 3t + 1, 3t + 2 (offset 0 and slope 1
   * without scaling; +Infinity, NaN, NaN for an invalid tree): f32 precision, no f64 re-scoring.
   */
  scores(trees: readonly Tree[]): Promise<Float64Array> {
    const run = this.queue.then(() => this.deviceScores(trees));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** f32 device errors only (no f64 re-scoring): what the kernels return, for tests and the benchmark. */
  evaluateDevice(trees: readonly Tree[]): Promise<Float64Array> {
    const run = this.queue.then(() => this.deviceErrors(trees));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    this.interpret.destroy();
    this.reduce?.destroy();
    await this.ctx.release();
  }

  private async evaluateNow(trees: readonly Tree[]): Promise<Float64Array> {
    const out = await this.deviceErrors(trees);
    this.rescore(trees, out);
    return out;
  }

  private async deviceErrors(trees: readonly Tree[]): Promise<Float64Array> {
    const sc = await this.deviceScores(trees);
    return Float64Array.from(trees, (_, t) => sc[3 * t] as number);
  }

  /** Loss, offset and slope of every tree from the device (offset 0 and slope 1 without scaling; +Infinity, NaN, NaN when invalid). */
  private async deviceScores(trees: readonly Tree[]): Promise<Float64Array> {
    if (this.closed) throw new Error('GPU evaluator: evaluate() after close()');
    const out = new Float64Array(3 * trees.length);
    for (let start = 0; start < trees.length; start += this.capacity) {
      const chunk = trees.slice(start, start + this.capacity);
      let nodes = 0;
      for (let t = 0; t < chunk.length; t++) nodes += this.encode(chunk[t] as Tree, t, start + t);
      const t0 = performance.now();
      const got = await this.launch(chunk.length);
      this.stats.deviceSeconds += (performance.now() - t0) / 1000;
      this.stats.launches++;
      this.stats.trees += chunk.length;
      this.stats.nodeEvaluations += nodes * this.data.rows;
      for (let t = 0; t < chunk.length; t++) {
        const o = 3 * (start + t);
        if (got instanceof Float32Array) {
          const v = got[t] as number;
          out[o] = v < 0 || !Number.isFinite(v) ? Infinity : v;
          out[o + 2] = 1;
        } else this.mergeBlocks(got, t, out, o);
      }
    }
    return out;
  }

  /**
   * Tree t's blocks of sums (shift, and the sums of d, d^2, d (y - mean y), each over the row count)
   * merged in f64 (Chan, Golub and LeVeque's pairwise update) into the closed-form linear scaling
   * (as src/eval/loss.ts linearScaling: slope 0 for a constant output) and its RMSE, at out[o..o+2].
   */
  private mergeBlocks(partial: readonly Float32Array[], t: number, out: Float64Array, o: number): void {
    const nb = this.blockRows.length;
    const rows = this.data.rows;
    let n = 0;
    let mean = 0;
    let yc = 0;
    let m2 = 0;
    let co = 0;
    for (let b = 0; b < nb; b++) {
      const v = partial[t * nb + b] as Float32Array;
      if ((v[2] as number) < 0) {
        out[o] = Infinity;
        out[o + 1] = NaN;
        out[o + 2] = NaN;
        return;
      }
      const k = this.blockRows[b] as number;
      const sd = (v[1] as number) * rows;
      const meanB = (v[0] as number) + sd / k;
      const m2B = Math.max(0, (v[2] as number) * rows - (sd * sd) / k);
      const ycB = this.blockYc[b] as number;
      const coB = (v[3] as number) * rows - sd * ycB;
      const total = n + k;
      const delta = meanB - mean;
      const deltaY = ycB - yc;
      m2 += m2B + (delta * delta * n * k) / total;
      co += coB + (delta * deltaY * n * k) / total;
      mean += (delta * k) / total;
      yc += (deltaY * k) / total;
      n = total;
    }
    // below f32 resolution of the output's own scale the output is constant: no slope (linearScaling's rule)
    const slope = m2 > 1e-12 * n * Math.max(mean * mean, Number.MIN_VALUE) ? co / m2 : 0;
    const offset = this.target.mean + yc - slope * mean;
    const mse = Math.max(0, this.target.syy - slope * co) / n;
    const loss = Math.sqrt(mse);
    const ok = Number.isFinite(loss) && Number.isFinite(offset) && Number.isFinite(slope);
    out[o] = ok ? loss : Infinity;
    out[o + 1] = ok ? offset : NaN;
    out[o + 2] = ok ? slope : NaN;
  }

  /** One launch: the RMSE of each tree (plain), or each (tree, block)'s sums (scaled). */
  private async launch(n: number): Promise<Float32Array | Float32Array[]> {
    // Upload only the trees of this launch (gpu.js copies and writes the argument on every call).
    const partial = await this.interpret(this.prog.subarray(0, Math.max(n, 1) * this.shape.stride), n);
    const result = this.reduce ? ((await this.reduce(partial, n)) as Float32Array) : (partial as Float32Array[]);
    const kernels = [this.interpret.kernel, this.reduce?.kernel];
    if (this.built.length === 0) this.built = kernels;
    else if (kernels.some((k, i) => k !== this.built[i]))
      throw new Error('GPU evaluator: gpu.js rebuilt a kernel (it must be compiled once per run)');
    return result;
  }

  /** Writes tree t of the launch into the program buffer; returns its node count. */
  private encode(tree: Tree, slot: number, index: number): number {
    const len = tree.op.length;
    if (len > this.maxSize) {
      throw new ConfigError(
        `GPU evaluator: tree ${index} has ${len} nodes; the kernel was built for at most ${this.maxSize} (option maxSize)`,
      );
    }
    const need = stackDepth(tree);
    if (need > this.shape.registers + 1) {
      throw new ConfigError(
        `GPU evaluator: tree ${index} needs an evaluation stack of depth ${need}; the kernel was built for ${this.shape.registers + 1} (option maxStackDepth; a tree of depth d needs at most d + 1)`,
      );
    }
    const p = this.prog;
    let o = slot * this.shape.stride;
    p[o++] = len;
    for (let i = 0; i < len; i++) {
      const op = tree.op[i] as number;
      if (!GPU_OPCODES.includes(op)) throw new ConfigError(`GPU evaluator: tree ${index} node ${i} has unknown opcode ${op}`);
      let arg = tree.arg[i] as number;
      if (op === Op.Var && !(Number.isInteger(arg) && arg >= 0 && arg < this.shape.variables)) {
        throw new ConfigError(`GPU evaluator: tree ${index} node ${i} reads variable ${arg}; the data has ${this.shape.variables}`);
      }
      // Constants beyond the device range make the tree invalid there; clamp so f32 holds a finite value that trips the bound.
      if (op === Op.Const && !(Math.abs(arg) <= GPU_VALUE_BOUND))
        arg = Number.isNaN(arg) ? 2 * GPU_VALUE_BOUND : Math.sign(arg) * 2 * GPU_VALUE_BOUND;
      p[o++] = op;
      p[o++] = arg;
    }
    return len;
  }

  /** Replaces the f32 errors of the batch's best trees by f64 ones from the CPU reference ({@link rescoreBest}). */
  private rescore(trees: readonly Tree[], out: Float64Array): void {
    rescoreBest(out, this.rescoreTop, (i, f32) => {
      const tree = trees[i] as Tree;
      const exact = this.shape.scaled
        ? scaledRmse(evaluateTree(tree, this.data.columns, this.data.rows), this.data.y)
        : treeRmse(tree, this.data);
      this.stats.rescored++;
      if (Number.isFinite(exact)) {
        const rel = Math.abs(f32 - exact) / Math.max(exact, 1e-12);
        if (rel > this.stats.maxRelativeDifference) this.stats.maxRelativeDifference = rel;
      }
      return exact;
    });
  }
}

/**
 * Replaces the device (f32) losses of a batch's best trees by exact (f64) ones, `exact(i, f32)`: the
 * `k` lowest first, then any further tree whose f32 loss is still below the k-th best f64 loss, so
 * the k best values of the batch are all f64 whatever f32 rounding did.
 */
export function rescoreBest(out: Float64Array, k: number, exact: (i: number, f32: number) => number): void {
  if (k === 0 || out.length === 0) return;
  const order = Array.from(out.keys()).sort((i, j) => (out[i] as number) - (out[j] as number) || i - j);
  const f64: number[] = [];
  for (const i of order) {
    const f32 = out[i] as number;
    if (f32 === Infinity) break;
    if (f64.length >= k) {
      const kth = [...f64].sort((x, y) => x - y)[k - 1] as number;
      if (f32 >= kth) break;
    }
    const v = exact(i, f32);
    out[i] = v;
    f64.push(v);
  }
}
