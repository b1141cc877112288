import { readFileSync } from 'node:fs';
import type { ProgramBuilder } from './compile.js';
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
  outputs(code: number, nInstr: number, consts: number, r0: number, r1: number, dst: number, stop: number): number;
  mapUnary(op: number, dst: number, src: number, count: number): void;
}

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
 * prediction buffer) re-laid out whenever a batch needs more room.
 */
export class Kernel {
  readonly rows: number;
  readonly block: number;
  private readonly k: KernelExports;
  private f64!: Float64Array;
  private i32!: Int32Array;
  private readonly stride: number;
  private readonly yPtr: number;
  private readonly scratch: number;
  private cap = { slots: 0, instr: 0, consts: 0, table: 0, pred: 0 };
  private at = { slots: 0, code: 0, consts: 0, table: 0, out: 0, pred: 0 };

  constructor(columns: readonly Float64Array[], y: Float64Array, block = DEFAULT_BLOCK) {
    if (!(Number.isInteger(block) && block >= 4 && block % 4 === 0)) {
      throw new Error(`kernel: block must be a positive multiple of 4, got ${block}`);
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
    const dataPtr = 64;
    this.yPtr = dataPtr + columns.length * this.stride * 8;
    this.scratch = this.yPtr + this.stride * 8;
    this.grow(this.scratch);
    columns.forEach((c, j) => this.f64.set(c.subarray(0, this.rows), (dataPtr >> 3) + j * this.stride));
    this.f64.set(y, this.yPtr >> 3);
    this.relayout(16, 1 << 14, 1 << 12, 1 << 10, 0);
    this.k.setup(dataPtr, this.stride, this.yPtr, this.at.slots, block);
  }

  /** Sums of squared errors of the programs in `b` (table: first instruction and length per program). */
  sse(b: ProgramBuilder, table: Int32Array, count: number, out: Float64Array, outAt: number): void {
    this.load(b, count, 0);
    this.i32.set(table.subarray(0, 2 * count), this.at.table >> 2);
    this.k.sseBatch(this.at.table, count, this.at.code, this.at.consts, this.rows, this.at.out);
    for (let t = 0; t < count; t++) out[outAt + t] = this.f64[(this.at.out >> 3) + t] as number;
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
    this.relayout(b.slots, b.nInstr, b.nConsts, tableEntries, predRows);
    this.i32.set(b.code.subarray(0, 4 * b.nInstr), this.at.code >> 2);
    this.f64.set(b.consts.subarray(0, b.nConsts), this.at.consts >> 3);
  }

  private relayout(slots: number, instr: number, consts: number, table: number, pred: number): void {
    const c = this.cap;
    if (slots <= c.slots && instr <= c.instr && consts <= c.consts && table <= c.table && pred <= c.pred) return;
    c.slots = Math.max(slots, c.slots, 16);
    c.instr = Math.max(2 * instr, c.instr);
    c.consts = Math.max(2 * consts, c.consts);
    c.table = Math.max(2 * table, c.table);
    c.pred = Math.max(pred, c.pred);
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
   * The kernel's SIMD sin, cos, exp or protected log (opcode 6 to 9) over `x`, on their own: for tests
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
