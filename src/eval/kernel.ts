import { optionError } from '../core/errors.js';
import { readFileSync } from 'node:fs';
import { DERIVED_FIRST, DERIVED_OPS, type ProgramBuilder } from './compile.js';
import { ARITY, Op } from '../tree/primitives.js';
import { distUrl } from './paths.js';

// lib ES2022 without DOM carries no WebAssembly typings: the little used here, declared.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
const WA = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => WasmModule;
      Instance: new (m: WasmModule, imports: object) => { readonly exports: unknown };
    };
  }
).WebAssembly;

interface KernelExports {
  memory: WasmMemory;
  setup(data: number, stride: number, y: number, slots: number, block: number): void;
  sse(code: number, nInstr: number, consts: number, r0: number, r1: number): number;
  sseBatch(table: number, count: number, code: number, consts: number, rows: number, out: number): void;
  scaledBatch(
    table: number,
    count: number,
    code: number,
    consts: number,
    rows: number,
    pred: number,
    my: number,
    ym: number,
    out: number,
  ): void;
  outputs(code: number, nInstr: number, consts: number, r0: number, r1: number, dst: number, stop: number): number;
  mapUnary(op: number, dst: number, src: number, count: number): void;
  lmPass(
    nodes: number,
    n: number,
    cval: number,
    ptrs: number,
    aptrs: number,
    cols: number,
    adjs: number,
    ders: number,
    tmp: number,
    params: number,
    k: number,
    scaling: number,
    off: number,
    sl: number,
    rows: number,
    block: number,
    wantJ: number,
    out: number,
    colStride: number,
    reuse: number,
  ): number;
}

/** Rows per block of the optimiser's pass: every node keeps a value and an adjoint column of this many rows. */
const LM_BLOCK = 256;

/**
 * Most bytes of node values the optimiser's pass keeps for every block of rows, so that a search's later
 * passes take the columns of parameter-free subtrees from the first (64 nodes x 16,384 rows); past it
 * only one block's values are kept and every pass computes every node.
 */
const LM_KEPT_BYTES = 8 * 1024 * 1024;

/**
 * Most bytes of the derived columns (sin, cos, exp, protected log and sqrt of every input, computed once
 * per data set, see {@link Kernel.derived}); a data set whose derived columns would take more has none.
 */
const DERIVED_BYTES = 32 * 1024 * 1024;

/** Where the input columns start in kernel memory (each `stride` rows long, the derived columns after them). */
const DATA_PTR = 64;

let compiled: WasmModule | undefined;

/** The compiled kernel module (compiled once per thread, instantiated once per data set). */
function kernelModule(): WasmModule {
  compiled ??= new WA.Module(readFileSync(distUrl('wasm/eval.wasm')));
  return compiled;
}

const PAGE = 65536;
const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/** Default rows per block: 1024 rows x 8 bytes = 8 KiB per slot, so a 64-node tree's slots stay in L1/L2. */
export const DEFAULT_BLOCK = 1024;

/**
 * One instance of the WebAssembly kernel holding one data set in its linear memory. Memory layout
 * (bytes, all 16-aligned): the input columns (each `stride` f64, padded so the kernel's 4-row loops
 * stay in bounds), the target, then a scratch region (slots, code, constants, table, results,
 * prediction buffer, the constant optimiser's node and block buffers) re-laid out whenever a call
 * needs more room.
 */
export class Kernel {
  readonly rows: number;
  readonly block: number;
  private readonly k: KernelExports;
  private f64!: Float64Array;
  private i32!: Int32Array;
  private readonly stride: number;
  private readonly yPtr: number;
  /** y - mean(y) per row, and the mean (summed in row order, as linearScaling does): for scaledBatch. */
  private readonly ymPtr: number;
  private readonly yMean: number;
  private readonly scratch: number;
  /**
   * Inputs with derived columns (all of them, or 0 where they would take more than
   * {@link DERIVED_BYTES}): op(input j) for the unary ops from {@link DERIVED_FIRST} is input column
   * nv + (op - DERIVED_FIRST) * nv + j, so a program reads it instead of computing it (ProgramBuilder.derived).
   * Each is computed when a program first reads it (load), so runs without these functions pay nothing.
   */
  readonly derived: number;
  private cap = { slots: 0, instr: 0, consts: 0, table: 0, pred: 0, lm: 0 };
  private at = { slots: 0, code: 0, consts: 0, table: 0, out: 0, pred: 0, lm: 0 };
  /**
   * The tree whose node table lmPass last wrote, and where: an optimiser's passes evaluate one tree
   * (one opcode array) at many points, so the table is written once and only the constants each pass.
   * `columns`: the last pass of this tree left every block's node values in place (they fit
   * {@link LM_KEPT_BYTES} and no block stopped the pass early), so the columns of its parameter-free
   * subtrees, the same at every point, serve the next pass.
   */
  private lmTree: { op: Uint8Array; params: Int32Array; at: number; ptr: number[]; columns: boolean } | undefined;

  constructor(columns: readonly Float64Array[], y: Float64Array, block = DEFAULT_BLOCK) {
    if (!(Number.isInteger(block) && block >= 4 && block % 4 === 0)) {
      throw optionError('block', `expected a positive multiple of 4, got ${block}`);
    }
    this.rows = y.length;
    this.block = block;
    this.stride = roundUp(this.rows, 4) + 4;
    const instance = new WA.Instance(kernelModule(), {
      // sin and cos outside their reduction range (|x| > 2^20, ±Inf, NaN) are V8's, as in the
      // reference (src/tree/elementary.ts); everything else runs inside the kernel.
      env: { sin: Math.sin, cos: Math.cos },
    });
    this.k = instance.exports as unknown as KernelExports;
    const nv = columns.length;
    this.derived = DERIVED_OPS * nv * this.stride * 8 <= DERIVED_BYTES ? nv : 0;
    this.yPtr = DATA_PTR + (nv + DERIVED_OPS * this.derived) * this.stride * 8;
    this.ymPtr = this.yPtr + this.stride * 8;
    this.scratch = this.ymPtr + this.stride * 8;
    this.grow(this.scratch);
    columns.forEach((c, j) => this.f64.set(c.subarray(0, this.rows), (DATA_PTR >> 3) + j * this.stride));
    this.f64.set(y, this.yPtr >> 3);
    let sy = 0;
    for (let r = 0; r < this.rows; r++) sy += y[r] as number;
    this.yMean = sy / this.rows;
    for (let r = 0; r < this.rows; r++) this.f64[(this.ymPtr >> 3) + r] = (y[r] as number) - this.yMean;
    this.relayout(16, 1 << 14, 1 << 12, 1 << 10, 0);
    this.k.setup(DATA_PTR, this.stride, this.yPtr, this.at.slots, block);
  }

  /** Sums of squared errors of the programs in `b` (table: first instruction and length per program). */
  sse(b: ProgramBuilder, table: Int32Array, count: number, out: Float64Array, outAt: number): void {
    this.load(b, count, 0);
    this.i32.set(table.subarray(0, 2 * count), this.at.table >> 2);
    this.k.sseBatch(this.at.table, count, this.at.code, this.at.consts, this.rows, this.at.out);
    for (let t = 0; t < count; t++) out[outAt + t] = this.f64[(this.at.out >> 3) + t] as number;
  }

  /**
   * RMSE after the optimal linear scaling of the programs in `b` (src/eval/loss.ts, bit for bit):
   * out[outAt + 3t] = loss, then the offset and the slope (+Infinity, NaN, NaN when not finite).
   */
  scaled(b: ProgramBuilder, table: Int32Array, count: number, out: Float64Array, outAt: number): void {
    this.load(b, 3 * count, 4 * this.rows);
    this.i32.set(table.subarray(0, 2 * count), this.at.table >> 2);
    this.k.scaledBatch(this.at.table, count, this.at.code, this.at.consts, this.rows, this.at.pred, this.yMean, this.ymPtr, this.at.out);
    const o = this.at.out >> 3;
    for (let i = 0; i < 3 * count; i++) out[outAt + i] = this.f64[o + i] as number;
  }

  /**
   * Outputs of one program of `b` on rows [r0, r1): a view into kernel memory, valid until the next
   * call. With `stopOnNonFinite`, returns undefined as soon as a block holds NaN or an infinity.
   */
  outputs(first: number, nInstr: number, r0: number, r1: number, stopOnNonFinite: boolean): Float64Array | undefined {
    const ok = this.k.outputs(this.at.code + first * 16, nInstr, this.at.consts, r0, r1, this.at.pred, stopOnNonFinite ? 1 : 0);
    return ok ? this.f64.subarray(this.at.pred >> 3, (this.at.pred >> 3) + (r1 - r0)) : undefined;
  }

  /** Copies the builder's programs and constants into kernel memory (after outputs() is used). */
  load(b: ProgramBuilder, tableEntries: number, predRows: number): void {
    // derived columns read for the first time (b is this kernel's builder, built with its `derived`),
    // padding rows included, by the function an instruction would run
    const nv = this.derived;
    const col = (c: number): number => DATA_PTR + c * this.stride * 8;
    for (const d of b.newDerived) this.k.mapUnary(DERIVED_FIRST + Math.floor(d / nv), col(nv + d), col(d % nv), this.stride);
    b.newDerived.length = 0;
    this.relayout(b.slots, b.nInstr, b.nConsts, tableEntries, predRows);
    this.i32.set(b.code.subarray(0, 4 * b.nInstr), this.at.code >> 2);
    this.f64.set(b.consts.subarray(0, b.nConsts), this.at.consts >> 3);
  }

  private relayout(slots: number, instr: number, consts: number, table: number, pred: number, lm = 0): void {
    const c = this.cap;
    if (slots <= c.slots && instr <= c.instr && consts <= c.consts && table <= c.table && pred <= c.pred && lm <= c.lm) return;
    // a region that must grow gets twice what is asked; the others keep their size
    c.slots = Math.max(slots, c.slots, 16);
    if (instr > c.instr) c.instr = 2 * instr;
    if (consts > c.consts) c.consts = 2 * consts;
    if (table > c.table) c.table = 2 * table;
    c.pred = Math.max(pred, c.pred);
    if (lm > c.lm) c.lm = 2 * lm;
    let p = this.scratch;
    const take = (bytes: number): number => {
      const at = p;
      p = roundUp(p + bytes, 16);
      return at;
    };
    this.at.slots = take(c.slots * this.block * 8);
    this.at.code = take(c.instr * 16);
    this.at.consts = take(c.consts * 8);
    this.at.table = take(c.table * 8);
    this.at.out = take(c.table * 8);
    this.at.pred = take(roundUp(c.pred, 4) * 8 + 64);
    this.at.lm = take(c.lm);
    this.grow(p);
    this.k.setup(64, this.stride, this.yPtr, this.at.slots, this.block);
  }

  private grow(bytes: number): void {
    const memory = this.k.memory;
    const need = Math.ceil(bytes / PAGE) - memory.buffer.byteLength / PAGE;
    if (need > 0) memory.grow(need);
    this.f64 = new Float64Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
  }

  /**
   * One pass of the constant optimiser (src/sr/optimise.ts) over every row: the sum of squared
   * residuals y - (offset + slope * tree), where the tree's constants at node indices `params` are
   * parameters; with `jacobian`, also the Gram matrix of the Jacobian columns (d tree / d constant for
   * each parameter, then, with `scaling`, the columns 1 and tree) into `gram` (m x m, lower triangle
   * filled, m = params + 2 with scaling) and their products with the residual into `rhs` (m).
   * Same operator semantics as the reference; sums in a fixed order (a pure function of its inputs).
   * Uses the scratch region: programs loaded by `load` must be loaded again after it.
   */
  lmPass(
    op: Uint8Array,
    arg: Float64Array,
    params: Int32Array,
    scaling: boolean,
    offset: number,
    slope: number,
    jacobian: boolean,
    gram: Float64Array,
    rhs: Float64Array,
  ): number {
    const n = op.length;
    const k = params.length;
    const m = k + (scaling ? 2 : 0);
    const bb = LM_BLOCK * 8;
    const blocks = Math.max(1, Math.ceil(this.rows / LM_BLOCK));
    // every block's node values, where they fit: the columns of parameter-free subtrees outlive a pass
    const keep = n * bb * blocks <= LM_KEPT_BYTES;
    const colBytes = n * bb * (keep ? blocks : 1);
    const sizes = [n * 16, n * 8, n * 4, n * 4, colBytes, n * bb, n * bb, 2 * bb, k * 4 + 16, (m * m + m) * 8].map((b) => roundUp(b, 16));
    this.relayout(
      this.cap.slots,
      this.cap.instr,
      this.cap.consts,
      this.cap.table,
      this.cap.pred,
      sizes.reduce((a, b) => a + b, 0),
    );
    let cached = this.lmTree;
    let ptr: number[];
    if (cached && cached.op === op && cached.params === params && cached.at === this.at.lm) ptr = cached.ptr;
    else {
      ptr = [];
      let p = this.at.lm;
      for (const b of sizes) {
        ptr.push(p);
        p += b;
      }
      this.writeNodes(op, arg, ptr[0] as number);
      this.i32.set(params, (ptr[8] as number) >> 2);
      this.lmTree = cached = { op, params, at: this.at.lm, ptr, columns: false };
    }
    const [nodes, cval, ptrs, aptrs, cols, adjs, ders, tmp, par, out] = ptr as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    this.f64.set(arg, cval >> 3);
    const s = this.k.lmPass(
      nodes,
      n,
      cval,
      ptrs,
      aptrs,
      cols,
      adjs,
      ders,
      tmp,
      par,
      k,
      scaling ? 1 : 0,
      offset,
      slope,
      this.rows,
      LM_BLOCK,
      jacobian ? 1 : 0,
      out,
      keep && blocks > 1 ? n * bb : 0,
      cached.columns ? 1 : 0,
    );
    // a pass that stopped early (at a block whose error is not finite) left later blocks' columns unset
    cached.columns = keep && (blocks === 1 || Number.isFinite(s));
    if (jacobian && Number.isFinite(s)) {
      const o = out >> 3;
      for (let a = 0; a < m; a++) {
        for (let b = 0; b <= a; b++) gram[a * m + b] = this.f64[o + a * m + b] as number;
        rhs[a] = this.f64[o + m * m + a] as number;
      }
    }
    return s;
  }

  /** The optimiser's node table of a tree at `nodes`: [op, left, right, flags] per node (see lmPass in the kernel). */
  private writeNodes(op: Uint8Array, arg: Float64Array, nodes: number): void {
    // flags bit 0: the subtree holds a constant (its adjoint is needed)
    const n = op.length;
    const i32 = this.i32;
    const stack = new Int32Array(n);
    let sp = 0;
    for (let i = 0; i < n; i++) {
      const o = op[i] as number;
      const e = (nodes >> 2) + 4 * i;
      let left = -1;
      let right = -1;
      let flag = 0;
      if (o === Op.Const) flag = 1;
      else if (o === Op.Var) left = arg[i] as number;
      else if (ARITY[o] === 1) {
        left = stack[--sp] as number;
        flag = (i32[(nodes >> 2) + 4 * left + 3] as number) & 1;
      } else {
        right = stack[--sp] as number;
        left = stack[--sp] as number;
        flag = ((i32[(nodes >> 2) + 4 * left + 3] as number) | (i32[(nodes >> 2) + 4 * right + 3] as number)) & 1;
      }
      i32[e] = o;
      i32[e + 1] = left;
      i32[e + 2] = right;
      i32[e + 3] = flag;
      stack[sp++] = i;
    }
  }

  /**
   * The kernel's SIMD sin, cos, exp, protected log or sqrt (opcode 6 to 10) over `x`, on their own: for tests
   * that hold them against the scalar definitions (src/tree/elementary.ts). Uses the scratch region:
   * programs loaded by `load` must be loaded again after it.
   */
  mapUnary(op: number, x: Float64Array): Float64Array {
    const n = roundUp(x.length, 4);
    this.relayout(this.cap.slots, this.cap.instr, this.cap.consts, this.cap.table, 2 * n + 8);
    const src = this.at.pred;
    const dst = src + n * 8;
    this.f64.fill(0, src >> 3, (src >> 3) + n);
    this.f64.set(x, src >> 3);
    this.k.mapUnary(op, dst, src, n);
    return this.f64.slice(dst >> 3, (dst >> 3) + x.length);
  }
}
