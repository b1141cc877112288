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
// log are gpmate's own (src/tree/elementary.ts): fixed sequences of basic operations, which `sincos2`,
// `exp2` and `log2p` below repeat lane-wise in f64x2 in the same order, with selects where the
// scalar code branches. Lanes outside sin's and cos's reduction range (|x| > 2^20, ±Inf, NaN) call
// V8's Math.sin / Math.cos (`env.sin`, `env.cos`), as the scalar definition does.
// Loops run four rows per iteration (two f64x2 vectors); buffers are padded to a multiple of four so
// the surplus lanes read valid memory, and their values are never used.

@external("env", "sin")
declare function jsSin(x: f64): f64;
@external("env", "cos")
declare function jsCos(x: f64): f64;

// Opcodes, as in src/tree/primitives.ts (Op).
const CONST: i32 = 0;
const VAR: i32 = 1;
const ADD: i32 = 2;
const SUB: i32 = 3;
const MUL: i32 = 4;
const DIV: i32 = 5;
const SIN: i32 = 6;
const COS: i32 = 7;
const EXP: i32 = 8;
const LOG: i32 = 9;
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

// ---- sin, cos, exp, log: src/tree/elementary.ts repeated lane-wise (same operations, same order) ----
// Every line below mirrors a line of the scalar definition; the constants are the same literals.

// @ts-ignore: decorator
@inline const TOINT: f64 = 6755399441055744.0; // 1.5 * 2^52
// @ts-ignore: decorator
@inline const TOINT_BITS: i64 = 0x4338000000000000;
// @ts-ignore: decorator
@inline const TRIG_MAX: f64 = 1048576.0;
// @ts-ignore: decorator
@inline const INVPIO2: f64 = 6.36619772367581382433e-1;
// @ts-ignore: decorator
@inline const PIO2_1: f64 = 1.57079632673412561417;
// @ts-ignore: decorator
@inline const PIO2_2: f64 = 6.0771005063039659766e-11;
// @ts-ignore: decorator
@inline const PIO2_2T: f64 = 2.02226624879595063154e-21;
// @ts-ignore: decorator
@inline const S1: f64 = -1.66666666666666324348e-1;
// @ts-ignore: decorator
@inline const S2: f64 = 8.33333333332248946124e-3;
// @ts-ignore: decorator
@inline const S3: f64 = -1.98412698298579493134e-4;
// @ts-ignore: decorator
@inline const S4: f64 = 2.75573137070700676789e-6;
// @ts-ignore: decorator
@inline const S5: f64 = -2.50507602534068634195e-8;
// @ts-ignore: decorator
@inline const S6: f64 = 1.58969099521155010221e-10;
// @ts-ignore: decorator
@inline const C1: f64 = 4.16666666666666019037e-2;
// @ts-ignore: decorator
@inline const C2: f64 = -1.38888888888741095749e-3;
// @ts-ignore: decorator
@inline const C3: f64 = 2.48015872894767294178e-5;
// @ts-ignore: decorator
@inline const C4: f64 = -2.75573143513906633035e-7;
// @ts-ignore: decorator
@inline const C5: f64 = 2.0875723212981748279e-9;
// @ts-ignore: decorator
@inline const C6: f64 = -1.13596475577881948265e-11;
// @ts-ignore: decorator
@inline const INVLN2: f64 = 1.442695040888963387;
// @ts-ignore: decorator
@inline const LN2_HI: f64 = 6.9314718036912381649e-1;
// @ts-ignore: decorator
@inline const LN2_LO: f64 = 1.90821492927058770002e-10;
// @ts-ignore: decorator
@inline const P1: f64 = 1.66666666666666019037e-1;
// @ts-ignore: decorator
@inline const P2: f64 = -2.77777777770155933842e-3;
// @ts-ignore: decorator
@inline const P3: f64 = 6.61375632143793436117e-5;
// @ts-ignore: decorator
@inline const P4: f64 = -1.6533902205465251539e-6;
// @ts-ignore: decorator
@inline const P5: f64 = 4.13813679705723846039e-8;
// @ts-ignore: decorator
@inline const EXP_HI: f64 = 710.0;
// @ts-ignore: decorator
@inline const EXP_LO: f64 = -746.0;
// @ts-ignore: decorator
@inline const LG1: f64 = 6.666666666666735130e-1;
// @ts-ignore: decorator
@inline const LG2: f64 = 3.999999999940941908e-1;
// @ts-ignore: decorator
@inline const LG3: f64 = 2.857142874366239149e-1;
// @ts-ignore: decorator
@inline const LG4: f64 = 2.222219843214978396e-1;
// @ts-ignore: decorator
@inline const LG5: f64 = 1.818357216161805012e-1;
// @ts-ignore: decorator
@inline const LG6: f64 = 1.531383769920937332e-1;
// @ts-ignore: decorator
@inline const LG7: f64 = 1.479819860511658591e-1;
// @ts-ignore: decorator
@inline const LOG_OFF_BITS: i64 = 0x3fe6a09e00000000;

// @ts-ignore: decorator
@inline function K(c: f64): v128 {
  return f64x2.splat(c);
}
// @ts-ignore: decorator
@inline function I(c: i64): v128 {
  return i64x2.splat(c);
}
// @ts-ignore: decorator
@inline function add(a: v128, b: v128): v128 {
  return f64x2.add(a, b);
}
// @ts-ignore: decorator
@inline function sub(a: v128, b: v128): v128 {
  return f64x2.sub(a, b);
}
// @ts-ignore: decorator
@inline function mul(a: v128, b: v128): v128 {
  return f64x2.mul(a, b);
}

// @ts-ignore: decorator
@inline function kSin2(x: v128, y: v128): v128 {
  const z = mul(x, x);
  const w = mul(z, z);
  const r = add(add(K(S2), mul(z, add(K(S3), mul(z, K(S4))))), mul(mul(z, w), add(K(S5), mul(z, K(S6)))));
  const v = mul(z, x);
  return sub(x, sub(sub(mul(z, sub(mul(K(0.5), y), mul(v, r))), y), mul(v, K(S1))));
}

// @ts-ignore: decorator
@inline function kCos2(x: v128, y: v128): v128 {
  const z = mul(x, x);
  const w = mul(z, z);
  const r = add(mul(z, add(K(C1), mul(z, add(K(C2), mul(z, K(C3)))))), mul(mul(w, w), add(K(C4), mul(z, add(K(C5), mul(z, K(C6)))))));
  const hz = mul(K(0.5), z);
  const w1 = sub(K(1), hz);
  return add(w1, add(sub(sub(K(1), w1), hz), sub(mul(z, r), mul(x, y))));
}

// sin (cosine = false) or cos (cosine = true, a constant after inlining) of two lanes: the reduction
// x = n·π/2 + (y0 + y1), both kernels, then the quadrant's choice and sign with selects. With `other`
// (non-zero), the other of the two is stored there too (both kernels are computed anyway): cos for
// sin, sin for cos. Lanes out of the reduction range are left to the caller (`fix`) in both.
// @ts-ignore: decorator
@inline function sincos2(x: v128, cosine: bool, other: usize = 0): v128 {
  const t = add(mul(x, K(INVPIO2)), K(TOINT)); // n in the low bits of t
  const fn = sub(t, K(TOINT));
  const a = sub(x, mul(fn, K(PIO2_1)));
  const w = mul(fn, K(PIO2_2));
  const r = sub(a, w);
  const bb = sub(r, a);
  const e = sub(sub(a, sub(r, bb)), add(w, bb));
  const lo = sub(e, mul(fn, K(PIO2_2T)));
  const y0 = add(r, lo);
  const y1 = add(sub(r, y0), lo);
  const s = kSin2(y0, y1);
  const c = kCos2(y0, y1);
  const odd = i64x2.eq(v128.and(t, I(1)), I(1));
  const vc = v128.xor(v128.bitselect(s, c, odd), v128.and(i64x2.shl(i64x2.add(t, I(1)), 62), I(0x8000000000000000)));
  let vs = v128.xor(v128.bitselect(c, s, odd), v128.and(i64x2.shl(t, 62), I(0x8000000000000000)));
  vs = v128.bitselect(x, vs, f64x2.eq(x, K(0)));
  if (other) v128.store(other, cosine ? vs : vc);
  return cosine ? vc : vs;
}

// @ts-ignore: decorator
@inline function exp2(x: v128): v128 {
  const xc = v128.bitselect(K(EXP_HI), v128.bitselect(K(EXP_LO), x, f64x2.lt(x, K(EXP_LO))), f64x2.gt(x, K(EXP_HI)));
  const t = add(mul(xc, K(INVLN2)), K(TOINT));
  const kf = sub(t, K(TOINT));
  const k = i64x2.sub(t, I(TOINT_BITS));
  const hi = sub(xc, mul(kf, K(LN2_HI)));
  const lo = mul(kf, K(LN2_LO));
  const r = sub(hi, lo);
  const tt = mul(r, r);
  const c = sub(r, mul(tt, add(K(P1), mul(tt, add(K(P2), mul(tt, add(K(P3), mul(tt, add(K(P4), mul(tt, K(P5)))))))))));
  const y = sub(K(1), sub(sub(lo, f64x2.div(mul(r, c), sub(K(2), c))), hi));
  const k1 = i64x2.shr_s(k, 1);
  const k2 = i64x2.sub(k, k1);
  const p1 = i64x2.shl(i64x2.add(k1, I(1023)), 52);
  const p2 = i64x2.shl(i64x2.add(k2, I(1023)), 52);
  return mul(mul(y, p1), p2);
}

/** The protected log: ln|x| where |x| > 0.001, else 0. */
// @ts-ignore: decorator
@inline function log2p(x: v128): v128 {
  const a = f64x2.abs(x);
  const tmp = i64x2.sub(a, I(LOG_OFF_BITS));
  const k = i64x2.shr_s(tmp, 52);
  const m = i64x2.sub(a, v128.and(tmp, I(0xfff0000000000000)));
  const f = sub(m, K(1));
  const hfsq = mul(mul(K(0.5), f), f);
  const s = f64x2.div(f, add(K(2), f));
  const z = mul(s, s);
  const w = mul(z, z);
  const t1 = mul(w, add(K(LG2), mul(w, add(K(LG4), mul(w, K(LG6))))));
  const t2 = mul(z, add(K(LG1), mul(w, add(K(LG3), mul(w, add(K(LG5), mul(w, K(LG7))))))));
  const R = add(t2, t1);
  const dk = sub(i64x2.add(k, I(TOINT_BITS)), K(TOINT)); // k as a double, exactly
  let res = sub(mul(dk, K(LN2_HI)), sub(sub(hfsq, add(mul(s, add(hfsq, R)), mul(dk, K(LN2_LO)))), f));
  res = v128.bitselect(K(Infinity), res, f64x2.eq(a, K(Infinity)));
  return v128.bitselect(res, K(0), f64x2.gt(a, K(PROTECT)));
}

// Lanes outside sin's and cos's reduction range take V8's Math.sin / Math.cos (the scalar definition's
// rare path): rows with |x| > 2^20, infinities or NaN.
// @ts-ignore: decorator
@inline function outOfRange(x: v128): bool {
  return v128.any_true(v128.not(f64x2.le(f64x2.abs(x), K(TRIG_MAX))));
}

// @ts-ignore: decorator
@inline function fix(x: v128, v: v128, cosine: bool): v128 {
  const x0 = f64x2.extract_lane(x, 0);
  const x1 = f64x2.extract_lane(x, 1);
  if (!(abs(x0) <= TRIG_MAX)) v = f64x2.replace_lane(v, 0, cosine ? jsCos(x0) : jsSin(x0));
  if (!(abs(x1) <= TRIG_MAX)) v = f64x2.replace_lane(v, 1, cosine ? jsCos(x1) : jsSin(x1));
  return v;
}

// sin into `ds` and cos into `dc` from one reduction: the same values as sinV and cosV, for the
// optimiser's pass, which needs a sine node's cosine as its derivative.
// @ts-ignore: decorator
@inline function sincosPair(ds: usize, dc: usize, x: v128): void {
  let vs = sincos2(x, false, dc);
  if (outOfRange(x)) {
    vs = fix(x, vs, false);
    v128.store(dc, fix(x, v128.load(dc), true));
  }
  v128.store(ds, vs);
}
function sinCosV(ds: usize, dc: usize, a: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 16) sincosPair(ds + i, dc + i, v128.load(a + i));
}
// sin, cos, exp and log take four vectors (eight rows) per iteration, so that their long chains of
// dependent operations overlap: 16-24% less time per value than two vectors per iteration
// (bench/PROFILE.md). `n` is a multiple of 32 bytes (four rows), so a last half iteration may remain.
// `op` is a constant at each call site, so each copy runs one function.
// @ts-ignore: decorator
@inline function unary(x: v128, op: i32): v128 {
  if (op == EXP) return exp2(x);
  if (op == LOG) return log2p(x);
  const cosine = op == COS;
  const v = sincos2(x, cosine);
  return outOfRange(x) ? fix(x, v, cosine) : v;
}
// @ts-ignore: decorator
@inline function unaryV(d: usize, a: usize, n: usize, op: i32): void {
  let i: usize = 0;
  for (; i + 64 <= n; i += 64) {
    const x0 = v128.load(a + i);
    const x1 = v128.load(a + i, 16);
    const x2 = v128.load(a + i, 32);
    const x3 = v128.load(a + i, 48);
    v128.store(d + i, unary(x0, op));
    v128.store(d + i, unary(x1, op), 16);
    v128.store(d + i, unary(x2, op), 32);
    v128.store(d + i, unary(x3, op), 48);
  }
  if (i < n) {
    v128.store(d + i, unary(v128.load(a + i), op));
    v128.store(d + i, unary(v128.load(a + i, 16), op), 16);
  }
}
function sinV(d: usize, a: usize, n: usize): void {
  unaryV(d, a, n, SIN);
}
function cosV(d: usize, a: usize, n: usize): void {
  unaryV(d, a, n, COS);
}
function expV(d: usize, a: usize, n: usize): void {
  unaryV(d, a, n, EXP);
}
function logV(d: usize, a: usize, n: usize): void {
  unaryV(d, a, n, LOG);
}

/**
 * Applies sin, cos, exp, the protected log or sqrt (opcodes 6 to 10) to `count` values at `src` (count a
 * multiple of 4, both 16-aligned), writing to `dst`: the functions programs run, on their own. The host
 * uses it for the columns of a unary function of an input (the same bits as an instruction computing
 * them), and tests hold it against the scalar definitions.
 */
export function mapUnary(op: i32, dst: usize, src: usize, count: i32): void {
  const nb = <usize>count << 3; // the loops end with a half iteration of 4 values: count is a multiple of 4
  if (op == SIN) sinV(dst, src, nb);
  else if (op == COS) cosV(dst, src, nb);
  else if (op == SQRT) sqrtV(dst, src, nb);
  else if (op == EXP) expV(dst, src, nb);
  else logV(dst, src, nb);
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
        else if (op == SIN) sinV(d, pa, nb);
        else if (op == COS) cosV(d, pa, nb);
        else if (op == EXP) expV(d, pa, nb);
        else logV(d, pa, nb);
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

// ---- RMSE after the optimal linear scaling (Keijzer 2003), four trees at a time ----------------------
//
// The closed form of src/eval/loss.ts (linearScaling, then the scaled sum of squares), with the same
// operations in the same order for each tree: every sum runs row by row through its own accumulator.
// Four trees share the passes, one tree per f64x2 lane (two vectors), so the four sequential sums are
// computed side by side: each lane's value is the scalar code's value, bit for bit, while the latency of
// the additions is paid once for four trees.

// Outputs of one program over every row into lane `lane` of `pred` (rows x 4 f64); 0 as soon as a block
// holds NaN or an infinity (the scaled fitness is then +Infinity), else 1.
function laneOutputs(code: usize, nInstr: i32, consts: usize, rows: i32, pred: usize, lane: i32): i32 {
  for (let start = 0; start < rows; start += blockRows) {
    const n = min(blockRows, rows - start);
    runBlock(code, nInstr, consts, start, n);
    const p = slotBase;
    let q = pred + (<usize>start << 5) + (<usize>lane << 3);
    const bytes = <usize>n << 3;
    // x - x is 0 when x is finite, NaN otherwise; summed in two vectors (any order gives 0 or NaN alike),
    // so the check does not wait on one chain of additions as a scalar sum would
    let f0 = f64x2.splat(0);
    let f1 = f64x2.splat(0);
    let i: usize = 0;
    for (; i + 32 <= bytes; i += 32) {
      const v0 = v128.load(p + i);
      const v1 = v128.load(p + i, 16);
      f0 = f64x2.add(f0, f64x2.sub(v0, v0));
      f1 = f64x2.add(f1, f64x2.sub(v1, v1));
      store<f64>(q, f64x2.extract_lane(v0, 0));
      store<f64>(q, f64x2.extract_lane(v0, 1), 32);
      store<f64>(q, f64x2.extract_lane(v1, 0), 64);
      store<f64>(q, f64x2.extract_lane(v1, 1), 96);
      q += 128;
    }
    let finite: f64 = 0;
    for (; i < bytes; i += 8) {
      const v = load<f64>(p + i);
      store<f64>(q, v);
      q += 32;
      finite += v - v;
    }
    const f = f64x2.add(f0, f1);
    if (finite + f64x2.extract_lane(f, 0) + f64x2.extract_lane(f, 1) != 0) return 0;
  }
  return 1;
}

// @ts-ignore: decorator
@inline function lane(v01: v128, v23: v128, k: i32): f64 {
  return k == 0 ? f64x2.extract_lane(v01, 0) : k == 1 ? f64x2.extract_lane(v01, 1) : k == 2 ? f64x2.extract_lane(v23, 0) : f64x2.extract_lane(v23, 1);
}

/**
 * Scaled fitness of a batch of programs (`table` as in sseBatch): per program three f64 at `out`: the
 * RMSE of offset + slope * output against y, the offset and the slope (linearScaling's closed form;
 * +Infinity, NaN, NaN when an output or a sum is not finite). `my` is the mean of y (summed in row
 * order, as linearScaling does) and `ym` holds y - my per row; `pred` has room for rows x 4 f64.
 */
export function scaledBatch(
  table: usize, count: i32, code: usize, consts: usize, rows: i32, pred: usize, my: f64, ym: usize, out: usize,
): void {
  const n: f64 = <f64>rows;
  const nn = f64x2.splat(n);
  const end = pred + (<usize>rows << 5);
  for (let g = 0; g < count; g += 4) {
    const m = min(4, count - g);
    let ok = 0;
    for (let k = 0; k < m; k++) {
      const e = table + (<usize>(g + k) << 3);
      if (laneOutputs(code + (<usize>load<i32>(e) << 4), load<i32>(e, 4), consts, rows, pred, k)) ok |= 1 << k;
    }
    // sum of the outputs, then their mean
    let s01 = f64x2.splat(0);
    let s23 = f64x2.splat(0);
    for (let p = pred; p < end; p += 32) {
      s01 = f64x2.add(s01, v128.load(p));
      s23 = f64x2.add(s23, v128.load(p, 16));
    }
    const mp01 = f64x2.div(s01, nn);
    const mp23 = f64x2.div(s23, nn);
    // covariance with y and variance (unnormalised)
    let c01 = f64x2.splat(0);
    let c23 = f64x2.splat(0);
    let v01 = f64x2.splat(0);
    let v23 = f64x2.splat(0);
    let yr = ym;
    for (let p = pred; p < end; p += 32) {
      const dy = v128.load64_splat(yr);
      const d01 = f64x2.sub(v128.load(p), mp01);
      const d23 = f64x2.sub(v128.load(p, 16), mp23);
      c01 = f64x2.add(c01, f64x2.mul(d01, dy));
      c23 = f64x2.add(c23, f64x2.mul(d23, dy));
      v01 = f64x2.add(v01, f64x2.mul(d01, d01));
      v23 = f64x2.add(v23, f64x2.mul(d23, d23));
      yr += 8;
    }
    // slope = cov / var (0 for a constant output), offset = my - slope * mean(output), per lane
    let off01 = f64x2.splat(NaN);
    let off23 = f64x2.splat(NaN);
    let sl01 = f64x2.splat(NaN);
    let sl23 = f64x2.splat(NaN);
    for (let k = 0; k < m; k++) {
      const cov = lane(c01, c23, k);
      const vp = lane(v01, v23, k);
      if (!((ok >> k) & 1) || !isFinite(vp) || !isFinite(cov)) continue;
      const sl: f64 = vp > 0 ? cov / vp : 0;
      const off: f64 = my - sl * lane(mp01, mp23, k);
      if (k == 0) {
        off01 = f64x2.replace_lane(off01, 0, off);
        sl01 = f64x2.replace_lane(sl01, 0, sl);
      } else if (k == 1) {
        off01 = f64x2.replace_lane(off01, 1, off);
        sl01 = f64x2.replace_lane(sl01, 1, sl);
      } else if (k == 2) {
        off23 = f64x2.replace_lane(off23, 0, off);
        sl23 = f64x2.replace_lane(sl23, 0, sl);
      } else {
        off23 = f64x2.replace_lane(off23, 1, off);
        sl23 = f64x2.replace_lane(sl23, 1, sl);
      }
    }
    // sum of squared residuals of offset + slope * output
    s01 = f64x2.splat(0);
    s23 = f64x2.splat(0);
    let y = yBase;
    for (let p = pred; p < end; p += 32) {
      const yy = v128.load64_splat(y);
      const e01 = f64x2.sub(f64x2.add(off01, f64x2.mul(sl01, v128.load(p))), yy);
      const e23 = f64x2.sub(f64x2.add(off23, f64x2.mul(sl23, v128.load(p, 16))), yy);
      s01 = f64x2.add(s01, f64x2.mul(e01, e01));
      s23 = f64x2.add(s23, f64x2.mul(e23, e23));
      y += 8;
    }
    for (let k = 0; k < m; k++) {
      const off = lane(off01, off23, k);
      const sl = lane(sl01, sl23, k);
      let loss: f64 = Infinity;
      if (isFinite(off) && isFinite(sl)) {
        loss = Math.sqrt(lane(s01, s23, k) / n);
        if (!isFinite(loss)) loss = Infinity;
      }
      const o = out + <usize>(g + k) * 24;
      store<f64>(o, loss);
      store<f64>(o, off, 8);
      store<f64>(o, sl, 16);
    }
  }
}

// ---- Levenberg-Marquardt support: forward and reverse pass with the normal equations ----------------
//
// `lmPass` evaluates a postfix tree node by node over blocks of rows, keeping every node's column (not
// the register program above: the optimiser needs each constant as its own parameter), and, with
// `wantJ`, runs the reverse pass: adjoints d root / d node, assigned top-down (in a tree every node has
// one parent, so nothing accumulates). A child's adjoint is computed only when its subtree holds a
// parameter (flag bit 0). It then accumulates, over the rows, the Gram matrix of the Jacobian's columns
// and their products with the residual: the host scales them into J'J and J'r. Nothing of size rows x
// parameters is ever stored, so the cost per block is one forward pass, one reverse pass and the dot
// products, all in f64x2.
//
// Host layout (src/eval/kernel.ts): `nodes` holds 4 i32 per node [op, left, right, flags] (for a
// variable, left = its column); `cval` one f64 per node (constants' values); `ptrs` and `aptrs` one u32
// per node (value and adjoint column of the current block); `cols` n blocks of values, `adjs` n blocks of
// adjoints, `ders` n blocks (a sine's cosine, a cosine's sine), `tmp` two blocks (residual, ones); `params` k i32 (the constants' node indices);
// `out` m*m + m f64 (Gram matrix, then residual products; m = k, plus offset and slope with scaling).
// `cols` holds each block's node values `colStride` bytes after the previous block's (0: every block in
// the same place). With `reuse` (the host's promise: the last pass was of this same tree over these rows
// and left every block's values in place: one block, or a nonzero `colStride`), nodes whose subtree holds
// no parameter are not computed again.

function mulNegVV(d: usize, a: usize, b: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 32) {
    v128.store(d + i, f64x2.neg(f64x2.mul(v128.load(a + i), v128.load(b + i))));
    v128.store(d + i, f64x2.neg(f64x2.mul(v128.load(a + i, 16), v128.load(b + i, 16))), 16);
  }
}
// d = |b| > PROTECT ? g / b : 0 (adjoint of a / b towards a, and of log|a| towards a)
function divMaskV(d: usize, g: usize, b: usize, n: usize): void {
  const p = f64x2.splat(PROTECT);
  const z = f64x2.splat(0);
  for (let i: usize = 0; i < n; i += 16) {
    const bb = v128.load(b + i);
    v128.store(d + i, v128.bitselect(f64x2.div(v128.load(g + i), bb), z, f64x2.gt(f64x2.abs(bb), p)));
  }
}
// d = |b| > PROTECT ? -(g * a) / (b * b) : 0 (adjoint of a / b towards b)
function divRightV(d: usize, g: usize, a: usize, b: usize, n: usize): void {
  const p = f64x2.splat(PROTECT);
  const z = f64x2.splat(0);
  for (let i: usize = 0; i < n; i += 16) {
    const bb = v128.load(b + i);
    const q = f64x2.neg(f64x2.div(f64x2.mul(v128.load(g + i), v128.load(a + i)), f64x2.mul(bb, bb)));
    v128.store(d + i, v128.bitselect(q, z, f64x2.gt(f64x2.abs(bb), p)));
  }
}
// d = v > 0 ? g * sign(a) / (2 v) : 0, v = sqrt|a| (adjoint of the protected sqrt)
function sqrtAdjV(d: usize, g: usize, a: usize, v: usize, n: usize): void {
  const z = f64x2.splat(0);
  const two = f64x2.splat(2.0);
  const sign = i64x2.splat(0x8000000000000000);
  for (let i: usize = 0; i < n; i += 16) {
    const vv = v128.load(v + i);
    const q = v128.xor(f64x2.div(v128.load(g + i), f64x2.mul(two, vv)), v128.and(v128.load(a + i), sign));
    v128.store(d + i, v128.bitselect(q, z, f64x2.gt(vv, z)));
  }
}
// d = 2 g a
function twiceMulV(d: usize, g: usize, a: usize, n: usize): void {
  const two = f64x2.splat(2.0);
  for (let i: usize = 0; i < n; i += 16) v128.store(d + i, f64x2.mul(f64x2.mul(two, v128.load(g + i)), v128.load(a + i)));
}
// r = y - (off + sl f)
function residualV(r: usize, y: usize, f: usize, off: f64, sl: f64, n: usize): void {
  const o = f64x2.splat(off);
  const s = f64x2.splat(sl);
  for (let i: usize = 0; i < n; i += 16) v128.store(r + i, f64x2.sub(v128.load(y + i), f64x2.add(o, f64x2.mul(s, v128.load(f + i)))));
}
// sum of a[i] b[i] over `rows` rows (two lanes, then the odd row), a fixed order
function dot(a: usize, b: usize, rows: i32): f64 {
  let acc = f64x2.splat(0);
  const pairs = <usize>(rows >> 1) << 4;
  for (let i: usize = 0; i < pairs; i += 16) acc = f64x2.add(acc, f64x2.mul(v128.load(a + i), v128.load(b + i)));
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (rows & 1) s += load<f64>(a + pairs) * load<f64>(b + pairs);
  return s;
}

/**
 * Sum of squared residuals y - (off + sl * tree) over rows [0, rows) (NaN or an infinity as soon as a
 * block makes it so); with `wantJ`, also the Gram matrix and residual products at `out` (see above).
 */
export function lmPass(
  nodes: usize, n: i32, cval: usize, ptrs: usize, aptrs: usize, cols: usize, adjs: usize, ders: usize, tmp: usize,
  params: usize, k: i32, scaling: i32, off: f64, sl: f64, rows: i32, block: i32, wantJ: i32, out: usize,
  colStride: usize, reuse: i32,
): f64 {
  const bb = <usize>block << 3;
  const m = k + (scaling ? 2 : 0);
  const rcol = tmp;
  const ones = tmp + bb;
  if (wantJ) {
    splatV(ones, 1.0, bb);
    memory.fill(out, 0, <usize>(m * m + m) << 3);
  }
  const root = n - 1;
  let sse: f64 = 0;
  let blockCols = cols;
  for (let start = 0; start < rows; start += block, blockCols += colStride) {
    const cnt = min(block, rows - start);
    const nb = <usize>((cnt + 3) & ~3) << 3;
    const rowOff = <usize>start << 3;
    for (let i = 0; i < n; i++) {
      const e = nodes + (<usize>i << 4);
      const op = load<i32>(e);
      const pp = ptrs + (<usize>i << 2);
      if (op == VAR) {
        store<u32>(pp, <u32>(dataBase + <usize>load<i32>(e, 4) * strideBytes + rowOff));
        continue;
      }
      const d = blockCols + <usize>i * bb;
      store<u32>(pp, <u32>d);
      // a subtree without parameters has the same column at every point: kept from the last pass
      if (reuse && (load<i32>(e, 12) & 1) == 0) continue;
      if (op == CONST) {
        splatV(d, load<f64>(cval + (<usize>i << 3)), nb);
        continue;
      }
      const a = <usize>load<u32>(ptrs + (<usize>load<i32>(e, 4) << 2));
      if (op >= ADD && op <= DIV) {
        const b = <usize>load<u32>(ptrs + (<usize>load<i32>(e, 8) << 2));
        if (op == ADD) addVV(d, a, b, nb);
        else if (op == SUB) subVV(d, a, b, nb);
        else if (op == MUL) mulVV(d, a, b, nb);
        else divVV(d, a, b, nb);
      } else if (op == SQRT) sqrtV(d, a, nb);
      else if (op == NEG) negV(d, a, nb);
      else if (op == SQUARE) squareV(d, a, nb);
      else if (op == SIN) {
        if (wantJ) sinCosV(d, ders + <usize>i * bb, a, nb);
        else sinV(d, a, nb);
      } else if (op == COS) {
        if (wantJ) sinCosV(ders + <usize>i * bb, d, a, nb);
        else cosV(d, a, nb);
      } else if (op == EXP) expV(d, a, nb);
      else logV(d, a, nb);
    }
    const f = <usize>load<u32>(ptrs + (<usize>root << 2));
    residualV(rcol, yBase + rowOff, f, off, sl, nb);
    sse += dot(rcol, rcol, cnt);
    if (!isFinite(sse)) return sse;
    if (!wantJ) continue;
    // reverse pass
    store<u32>(aptrs + (<usize>root << 2), <u32>ones);
    for (let i = root; i >= 0; i--) {
      const e = nodes + (<usize>i << 4);
      const op = load<i32>(e);
      if (op == VAR || op == CONST || (load<i32>(e, 12) & 1) == 0) continue;
      const g = <usize>load<u32>(aptrs + (<usize>i << 2));
      const l = load<i32>(e, 4);
      const needL = (load<i32>(nodes + (<usize>l << 4), 12) & 1) != 0;
      const pa = <usize>load<u32>(ptrs + (<usize>l << 2));
      const dl = adjs + <usize>l * bb;
      if (op >= ADD && op <= DIV) {
        const r = load<i32>(e, 8);
        const needR = (load<i32>(nodes + (<usize>r << 4), 12) & 1) != 0;
        const pb = <usize>load<u32>(ptrs + (<usize>r << 2));
        const dr = adjs + <usize>r * bb;
        if (op == ADD || op == SUB) {
          if (needL) store<u32>(aptrs + (<usize>l << 2), <u32>g);
          if (needR) {
            if (op == ADD) store<u32>(aptrs + (<usize>r << 2), <u32>g);
            else {
              negV(dr, g, nb);
              store<u32>(aptrs + (<usize>r << 2), <u32>dr);
            }
          }
          continue;
        }
        if (needL) {
          if (op == MUL) mulVV(dl, g, pb, nb);
          else divMaskV(dl, g, pb, nb);
          store<u32>(aptrs + (<usize>l << 2), <u32>dl);
        }
        if (needR) {
          if (op == MUL) mulVV(dr, g, pa, nb);
          else divRightV(dr, g, pa, pb, nb);
          store<u32>(aptrs + (<usize>r << 2), <u32>dr);
        }
        continue;
      }
      if (!needL) continue;
      const v = <usize>load<u32>(ptrs + (<usize>i << 2));
      if (op == SIN) mulVV(dl, ders + <usize>i * bb, g, nb); // cos(a), kept by the forward pass
      else if (op == COS) mulNegVV(dl, ders + <usize>i * bb, g, nb); // -sin(a)
      else if (op == EXP) mulVV(dl, g, v, nb);
      else if (op == SQRT) sqrtAdjV(dl, g, pa, v, nb);
      else if (op == NEG) negV(dl, g, nb);
      else if (op == SQUARE) twiceMulV(dl, g, pa, nb);
      else divMaskV(dl, g, pa, nb); // protected log: d log|a| / da = 1 / a
      store<u32>(aptrs + (<usize>l << 2), <u32>dl);
    }
    // Gram matrix and residual products of this block's Jacobian columns
    for (let a = 0; a < m; a++) {
      const ca = a < k ? <usize>load<u32>(aptrs + (<usize>load<i32>(params + (<usize>a << 2)) << 2)) : a == k ? ones : f;
      for (let b = 0; b <= a; b++) {
        const cb = b < k ? <usize>load<u32>(aptrs + (<usize>load<i32>(params + (<usize>b << 2)) << 2)) : b == k ? ones : f;
        const at = out + (<usize>(a * m + b) << 3);
        store<f64>(at, load<f64>(at) + dot(ca, cb, cnt));
      }
      const at = out + (<usize>(m * m + a) << 3);
      store<f64>(at, load<f64>(at) + dot(ca, rcol, cnt));
    }
  }
  return sse;
}
