// gpmate's column-wise tree interpreter: WebAssembly SIMD (f64x2) kernels, written in AssemblyScript.
// Built by `npm run build:wasm` (run by `npm run build`, `npm test` and `npm ci` through `prepare`) into
// dist/wasm/eval.wasm. This folder is outside tsconfig.json: it is AssemblyScript, not Node TypeScript.
//
// The host (src/eval/kernel.ts) owns all memory: it lays out the data set, the row-block slots, the
// compiled programs and the results in linear memory and passes pointers. Nothing here allocates.
//
// A program is a list of 16-byte instructions [kop, dst, a, b] (i32 each), produced from a postfix tree
// by src/eval/compile.ts: kop = opcode * 4 + variant, where variant 0 takes vector operands, 1 a vector
// `a` and a constant `b` (index into the constant table), 2 a constant `a` and a vector `b`. A vector
// operand x >= 0 is slot x (a block-sized buffer); x < 0 is input column ~x read in place. dst is a slot.
// The root's value always ends in slot 0.
//
// Bitwise agreement with the reference semantics (src/tree/primitives.ts): + - * / and sqrt are
// correctly rounded in IEEE 754 and so in WebAssembly; WebAssembly never fuses a*b+c. sin, cos, exp and
// log must equal V8's Math functions exactly, so those nodes call back into JavaScript (`env.unary`),
// which runs Math.* over the same linear memory for the whole block: one call per node per block.
// Loops run four rows per iteration (two f64x2 vectors); buffers are padded to a multiple of four so
// the surplus lanes read valid memory, and their values are never used.

@external("env", "unary")
declare function unary(op: i32, dst: usize, src: usize, n: i32): void;

// Opcodes, as in src/tree/primitives.ts (Op).
const CONST: i32 = 0;
const VAR: i32 = 1;
const ADD: i32 = 2;
const SUB: i32 = 3;
const MUL: i32 = 4;
const DIV: i32 = 5;
const SQRT: i32 = 10;
const NEG: i32 = 11;
const SQUARE: i32 = 12;

// @ts-ignore: decorator
@inline const PROTECT: f64 = 0.001;

// Binary kernels. VV: both operands vectors; VC: constant right operand; CV: constant left operand.

function addVV(d: usize, a: usize, b: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.add(v128.load(a + i), v128.load(b + i)));
    v128.store(d + i, f64x2.add(v128.load(a + i, 16), v128.load(b + i, 16)), 16);
  }
}
function subVV(d: usize, a: usize, b: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.sub(v128.load(a + i), v128.load(b + i)));
    v128.store(d + i, f64x2.sub(v128.load(a + i, 16), v128.load(b + i, 16)), 16);
  }
}
function mulVV(d: usize, a: usize, b: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.mul(v128.load(a + i), v128.load(b + i)));
    v128.store(d + i, f64x2.mul(v128.load(a + i, 16), v128.load(b + i, 16)), 16);
  }
}
function divVV(d: usize, a: usize, b: usize, n: usize): void {
  const one = f64x2.splat(1.0);
  const p = f64x2.splat(PROTECT);
  for (let i: usize = 0; i < n; i += 32) {
    const b0 = v128.load(b + i);
    const b1 = v128.load(b + i, 16);
    v128.store(d + i, v128.bitselect(f64x2.div(v128.load(a + i), b0), one, f64x2.gt(f64x2.abs(b0), p)));
    v128.store(d + i, v128.bitselect(f64x2.div(v128.load(a + i, 16), b1), one, f64x2.gt(f64x2.abs(b1), p)), 16);
  }
}

function addVC(d: usize, a: usize, c: f64, n: usize): void {
  const k = f64x2.splat(c);
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.add(v128.load(a + i), k));
    v128.store(d + i, f64x2.add(v128.load(a + i, 16), k), 16);
  }
}
function subVC(d: usize, a: usize, c: f64, n: usize): void {
  const k = f64x2.splat(c);
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.sub(v128.load(a + i), k));
    v128.store(d + i, f64x2.sub(v128.load(a + i, 16), k), 16);
  }
}
function mulVC(d: usize, a: usize, c: f64, n: usize): void {
  const k = f64x2.splat(c);
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.mul(v128.load(a + i), k));
    v128.store(d + i, f64x2.mul(v128.load(a + i, 16), k), 16);
  }
}
// The compiler folds a / c with |c| <= 0.001 to the constant 1, so this divides unprotected.
function divVC(d: usize, a: usize, c: f64, n: usize): void {
  const k = f64x2.splat(c);
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.div(v128.load(a + i), k));
    v128.store(d + i, f64x2.div(v128.load(a + i, 16), k), 16);
  }
}

function subCV(d: usize, c: f64, b: usize, n: usize): void {
  const k = f64x2.splat(c);
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.sub(k, v128.load(b + i)));
    v128.store(d + i, f64x2.sub(k, v128.load(b + i, 16)), 16);
  }
}
function divCV(d: usize, c: f64, b: usize, n: usize): void {
  const k = f64x2.splat(c);
  const one = f64x2.splat(1.0);
  const p = f64x2.splat(PROTECT);
  for (let i: usize = 0; i < n; i += 32) {
    const b0 = v128.load(b + i);
    const b1 = v128.load(b + i, 16);
    v128.store(d + i, v128.bitselect(f64x2.div(k, b0), one, f64x2.gt(f64x2.abs(b0), p)));
    v128.store(d + i, v128.bitselect(f64x2.div(k, b1), one, f64x2.gt(f64x2.abs(b1), p)), 16);
  }
}

function sqrtV(d: usize, a: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.sqrt(f64x2.abs(v128.load(a + i))));
    v128.store(d + i, f64x2.sqrt(f64x2.abs(v128.load(a + i, 16))), 16);
  }
}
function negV(d: usize, a: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.neg(v128.load(a + i)));
    v128.store(d + i, f64x2.neg(v128.load(a + i, 16)), 16);
  }
}
function squareV(d: usize, a: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 32) {
    const a0 = v128.load(a + i);
    const a1 = v128.load(a + i, 16);
    v128.store(d + i, f64x2.mul(a0, a0));
    v128.store(d + i, f64x2.mul(a1, a1), 16);
  }
}
function copyV(d: usize, a: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, v128.load(a + i));
    v128.store(d + i, v128.load(a + i, 16), 16);
  }
}
function splatV(d: usize, c: f64, n: usize): void {
  const k = f64x2.splat(c);
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, k);
    v128.store(d + i, k, 16);
  }
}

// Run-time layout shared by every call of a batch (set once per data set / evaluator by `setup`).
let dataBase: usize = 0; // column j starts at dataBase + j * strideBytes
let strideBytes: usize = 0;
let yBase: usize = 0; // the target column
let slotBase: usize = 0; // slot s starts at slotBase + s * blockBytes
let blockRows: i32 = 0;
let blockBytes: usize = 0;

/** Sets the memory layout: columns, target, slots and the block length in rows (a multiple of 4). */
export function setup(data: usize, stride: i32, y: usize, slots: usize, block: i32): void {
  dataBase = data;
  strideBytes = <usize>stride << 3;
  yBase = y;
  slotBase = slots;
  blockRows = block;
  blockBytes = <usize>block << 3;
}

// @ts-ignore: decorator
@inline function vec(x: i32, rowOff: usize): usize {
  return x >= 0 ? slotBase + <usize>x * blockBytes : dataBase + <usize>(~x) * strideBytes + rowOff;
}

/** Runs one program over one block of `n` rows starting at row `start`; the result is in slot 0. */
function runBlock(code: usize, nInstr: i32, consts: usize, start: i32, n: i32): void {
  const rowOff = <usize>start << 3;
  const nb = <usize>((n + 3) & ~3) << 3; // bytes, padded to four rows
  const end = code + (<usize>nInstr << 4);
  for (let ip = code; ip < end; ip += 16) {
    const kop = load<i32>(ip);
    const d = slotBase + <usize>load<i32>(ip, 4) * blockBytes;
    const a = load<i32>(ip, 8);
    const b = load<i32>(ip, 12);
    const op = kop >> 2;
    const variant = kop & 3;
    if (variant == 0) {
      if (op >= ADD && op <= DIV) {
        const pa = vec(a, rowOff);
        const pb = vec(b, rowOff);
        if (op == ADD) addVV(d, pa, pb, nb);
        else if (op == SUB) subVV(d, pa, pb, nb);
        else if (op == MUL) mulVV(d, pa, pb, nb);
        else divVV(d, pa, pb, nb);
      } else {
        const pa = vec(a, rowOff);
        if (op == SQRT) sqrtV(d, pa, nb);
        else if (op == NEG) negV(d, pa, nb);
        else if (op == SQUARE) squareV(d, pa, nb);
        else if (op == VAR) copyV(d, pa, nb);
        else unary(op, d, pa, n); // sin, cos, exp, log: V8's Math, in JavaScript
      }
    } else if (variant == 1) {
      const c = load<f64>(consts + (<usize>b << 3));
      if (op == CONST) splatV(d, c, nb);
      else {
        const pa = vec(a, rowOff);
        if (op == ADD) addVC(d, pa, c, nb);
        else if (op == SUB) subVC(d, pa, c, nb);
        else if (op == MUL) mulVC(d, pa, c, nb);
        else divVC(d, pa, c, nb);
      }
    } else {
      const c = load<f64>(consts + (<usize>a << 3));
      const pb = vec(b, rowOff);
      // a + b and a * b are commutative (also bitwise in IEEE 754), so the compiler emits VC for them.
      if (op == SUB) subCV(d, c, pb, nb);
      else divCV(d, c, pb, nb);
    }
  }
}

/**
 * Sum of squared errors of one program over rows [r0, r1), accumulated row by row in order (exactly
 * the reference RMSE's sum). Stops at the first block whose running sum is not finite (the fitness is
 * then +Infinity whatever follows).
 */
export function sse(code: usize, nInstr: i32, consts: usize, r0: i32, r1: i32): f64 {
  let s: f64 = 0;
  for (let start = r0; start < r1; start += blockRows) {
    const n = min(blockRows, r1 - start);
    runBlock(code, nInstr, consts, start, n);
    const p = slotBase;
    const y = yBase + (<usize>start << 3);
    for (let i: usize = 0; i < <usize>n << 3; i += 8) {
      const e = load<f64>(p + i) - load<f64>(y + i);
      s += e * e;
    }
    if (!isFinite(s)) return s;
  }
  return s;
}

/**
 * Sums of squared errors of a batch of programs: `table` holds [codeOffset, nInstr] (i32 pairs, the
 * offset in instructions from `code`) per program; the sums go to `out` (f64 per program).
 */
export function sseBatch(table: usize, count: i32, code: usize, consts: usize, rows: i32, out: usize): void {
  for (let t = 0; t < count; t++) {
    const e = table + (<usize>t << 3);
    const s = sse(code + (<usize>load<i32>(e) << 4), load<i32>(e, 4), consts, 0, rows);
    store<f64>(out + (<usize>t << 3), s);
  }
}

/**
 * Outputs of one program on rows [r0, r1), written to `dst` (r1 - r0 values). With `stopOnNonFinite`,
 * returns 0 at the first block holding NaN or an infinity (the rest of `dst` is then unspecified);
 * returns 1 otherwise.
 */
export function outputs(code: usize, nInstr: i32, consts: usize, r0: i32, r1: i32, dst: usize, stopOnNonFinite: i32): i32 {
  for (let start = r0; start < r1; start += blockRows) {
    const n = min(blockRows, r1 - start);
    runBlock(code, nInstr, consts, start, n);
    const p = slotBase;
    const q = dst + (<usize>(start - r0) << 3);
    const bytes = <usize>n << 3;
    let finite = f64x2.splat(0);
    let i: usize = 0;
    for (; i + 16 <= bytes; i += 16) {
      const v = v128.load(p + i);
      v128.store(q + i, v);
      finite = f64x2.add(finite, f64x2.sub(v, v)); // x - x is 0 when finite, NaN otherwise
    }
    for (; i < bytes; i += 8) {
      const v = load<f64>(p + i);
      store<f64>(q + i, v);
      finite = f64x2.add(finite, f64x2.splat(v - v));
    }
    if (stopOnNonFinite && f64x2.extract_lane(finite, 0) + f64x2.extract_lane(finite, 1) != 0) return 0;
  }
  return 1;
}
