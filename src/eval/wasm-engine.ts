import { ProgramBuilder } from './compile.js';
import type { Tree } from '../tree/tree.js';
import { encodeTrees, type EncodedTrees } from './encode.js';
import type { FitnessKind } from './loss.js';
import { DEFAULT_BLOCK, Kernel } from './kernel.js';

/** Programs compiled and run per kernel call: bounds the code buffer, amortises the call. */
const BATCH = 256;

/**
 * The WebAssembly evaluator's engine, one per thread: a WebAssembly kernel holding the data set, and a
 * program builder. Both the in-process evaluator and each pool worker run their share through it,
 * tree by tree, so a tree's fitness never depends on which thread or chunk computed it.
 *
 * Agreement with the reference (src/eval/reference.ts, src/eval/loss.ts), bit for bit:
 * - `rmse`: the kernel accumulates sum (p_r - y_r)^2 in row order, exactly as `rmse` does, and
 *   sqrt(s / n) is taken here; non-finite gives +Infinity (the kernel stops at the first block where the
 *   sum is no longer finite, which cannot become finite again).
 * - `scaled-rmse`: the kernel writes the tree's outputs for all rows, then runs `linearScaling`'s
 *   closed form and the scaled sum of squares on them with the same operations in the same order
 *   (four trees side by side, one per SIMD lane); a block with NaN or an infinity stops the tree early,
 *   since any non-finite output makes `scaledRmse` +Infinity.
 */
export class WasmEngine {
  readonly rows: number;
  private readonly kernel: Kernel;
  private readonly builder: ProgramBuilder;
  private readonly table = new Int32Array(2 * BATCH);
  private readonly sums = new Float64Array(3 * BATCH);

  constructor(columns: readonly Float64Array[], y: Float64Array, block = DEFAULT_BLOCK) {
    this.rows = y.length;
    this.kernel = new Kernel(columns, y, block);
    this.builder = new ProgramBuilder(this.kernel.derived);
  }

  /** Fitness (a loss) of trees [from, to) of `e`, written to out[from..to). */
  fitness(e: EncodedTrees, from: number, to: number, kind: FitnessKind, out: Float64Array): void {
    if (kind === 'rmse') this.rmse(e, from, to, out);
    else if (kind === 'scaled-rmse') {
      for (let s = from; s < to; s += BATCH) {
        const end = Math.min(to, s + BATCH);
        this.scaled(e, s, end, this.sums);
        for (let t = s; t < end; t++) out[t] = this.sums[3 * (t - s)] as number;
      }
    } else throw new Error(`unknown fitness kind ${String(kind)}`);
  }

  /**
   * RMSE after the optimal linear scaling of trees [from, to) of `e`, with that scaling: tree t's loss,
   * offset and slope go to out[3 (t - from)], out[3 (t - from) + 1], out[3 (t - from) + 2]
   * (+Infinity, NaN, NaN when its outputs or their sums are not finite), one kernel call per batch.
   */
  scaled(e: EncodedTrees, from: number, to: number, out: Float64Array): void {
    for (let s = from; s < to; s += BATCH) {
      const end = Math.min(to, s + BATCH);
      this.compile(e, s, end);
      this.kernel.scaled(this.builder, this.table, end - s, out, 3 * (s - from));
    }
  }

  /** Outputs of one tree on every row (a fresh array), bit-identical to evaluateTree. */
  treeOutputs(t: Tree): Float64Array {
    const out = new Float64Array(this.rows);
    this.outputs(encodeTrees([t]), 0, 1, 0, this.rows, out);
    return out;
  }

  /**
   * One pass of the constant optimiser over every row (the kernel's lmPass: sum of squared residuals
   * of offset + slope * t, and with `jacobian` the Gram matrix and residual products of d t / d
   * constant); the shape of src/sr/optimise.ts's LmBackend.pass.
   */
  lmPass(
    t: Tree,
    params: Int32Array,
    scaling: boolean,
    offset: number,
    slope: number,
    jacobian: boolean,
    gram: Float64Array,
    rhs: Float64Array,
  ): number {
    return this.kernel.lmPass(t.op, t.arg, params, scaling, offset, slope, jacobian, gram, rhs);
  }

  /**
   * Outputs of trees [from, to) of `e` on rows [r0, r1): tree t's row r goes to
   * out[(t - from) * (r1 - r0) + (r - r0)].
   */
  outputs(e: EncodedTrees, from: number, to: number, r0: number, r1: number, out: Float64Array): void {
    const n = r1 - r0;
    for (let s = from; s < to; s += BATCH) {
      const end = Math.min(to, s + BATCH);
      const firsts = this.compile(e, s, end);
      this.kernel.load(this.builder, 0, n);
      for (let t = s; t < end; t++) {
        const k = t - s;
        const v = this.kernel.outputs(firsts[2 * k] as number, firsts[2 * k + 1] as number, r0, r1, false) as Float64Array;
        out.set(v, (t - from) * n);
      }
    }
  }

  private rmse(e: EncodedTrees, from: number, to: number, out: Float64Array): void {
    const n = this.rows;
    for (let s = from; s < to; s += BATCH) {
      const end = Math.min(to, s + BATCH);
      this.compile(e, s, end);
      this.kernel.sse(this.builder, this.table, end - s, this.sums, 0);
      for (let t = s; t < end; t++) {
        const v = Math.sqrt((this.sums[t - s] as number) / n);
        out[t] = Number.isFinite(v) ? v : Infinity;
      }
    }
  }

  /** Compiles trees [s, end) into the builder; returns the table (first instruction, length) per tree. */
  private compile(e: EncodedTrees, s: number, end: number): Int32Array {
    const b = this.builder;
    b.reset();
    for (let t = s; t < end; t++) {
      const first = b.add(e.op, e.arg, e.offsets[t] as number, e.offsets[t + 1] as number);
      this.table[2 * (t - s)] = first;
      this.table[2 * (t - s) + 1] = b.nInstr - first;
    }
    return this.table;
  }
}
