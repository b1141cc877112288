/**
 * gpmate's own sin, cos, exp and ln: the reference semantics of the transcendental operators.
 *
 * Why not Math.*: every evaluator must agree bit for bit with the reference, and the fast evaluator
 * runs these in WebAssembly SIMD (src/eval/wasm/eval.ts, `sincos2`, `exp2`, `log2p`). Defining
 * them as a fixed sequence of IEEE-754 basic operations (+ - * /, comparisons, bit manipulation of
 * doubles; never a fused multiply-add, never a Math.* call on the common path) makes a lane-wise
 * f64x2 copy of the same sequence bit-identical by construction, on every engine.
 *
 * The algorithms are Sun's fdlibm 5.3 (k_sin.c, k_cos.c, e_rem_pio2.c, e_exp.c, e_log.c; the
 * polynomial coefficients are fdlibm's; the sin/cos kernels in musl's branch-free evaluation order),
 * rewritten without data-dependent branches:
 * - sin, cos: x = n·π/2 + (y0 + y1), n = rint(x·2/π) (by adding and subtracting 1.5·2^52), with a
 *   three-part Cody-Waite π/2 (fdlibm's pio2_1, pio2_2, pio2_2t: 33 + 33 + 53 bits) whose first two
 *   products are exact for |n| < 2^20, the second subtraction done as an exact TwoSum; then fdlibm's
 *   __kernel_sin / __kernel_cos on y0 + y1 (|y0| <= π/4 + 1 ulp) and the quadrant n mod 4.
 *   Documented range |x| <= TRIG_MAX = 2^20. Outside it, and for NaN and ±Infinity, sin and cos are
 *   defined as V8's Math.sin / Math.cos (the SIMD kernel calls the same functions for those lanes).
 *   sin(±0) = ±0.
 * - exp: x clamped to [-746, 710] (beyond these exp is 0 or +Infinity whatever the rounding), k =
 *   rint(x/ln 2), r = (x - k·ln2_hi) - k·ln2_lo (k·ln2_hi exact), fdlibm's rational form
 *   y = 1 - ((lo - r·c/(2 - c)) - hi), then y·2^k as (y·2^⌊k/2⌋)·2^(k-⌊k/2⌋): the first product is
 *   exact, the second rounds once, so gradual underflow and overflow come out correctly rounded from y.
 *   exp(NaN) = NaN, exp(+Inf) = +Inf, exp(-Inf) = 0.
 * - ln (for a > 0, used by the protected log): a = 2^k·m with m in [0.7071, 1.4142) from the exponent
 *   bits (subnormals never reach it: the protected log only takes |a| > 0.001), then fdlibm's
 *   ln(m) = f - (hfsq - s·(hfsq + R(s²))), s = f/(2 + f), and k·ln2_hi + (... + k·ln2_lo).
 *   ln(+Inf) = +Infinity.
 *
 * Measured accuracy (bench/eval/NOTES.md; test/elementary.test.ts bounds it): against exact values
 * (bench/eval/elementary_exact.py, 40,000 random inputs each) the largest errors were 0.69 ulp (sin),
 * 0.73 (cos), 0.95 (exp), 0.71 (ln); within 1 ulp of V8's Math functions (themselves fdlibm) on
 * millions of random inputs, and equal to them on over 99% of inputs.
 *
 * Bit access uses a Float64Array aliased by an Int32Array: word 0 is the low half, word 1 the high
 * half, as on every little-endian host (WebAssembly memory is little-endian too).
 */

const F64 = new Float64Array(1);
const I32 = new Int32Array(F64.buffer);

/** 1.5·2^52: adding and subtracting it rounds a double of magnitude < 2^51 to an integer (ties to even). */
const TOINT = 6755399441055744;

/** sin and cos follow this file's algorithm for |x| <= TRIG_MAX, V8's Math.sin / Math.cos beyond. */
export const TRIG_MAX = 1048576;

const INVPIO2 = 6.36619772367581382433e-1; // 0x3FE45F30 6DC9C883
const PIO2_1 = 1.57079632673412561417; // 0x3FF921FB 54400000: first 33 bits of π/2
const PIO2_2 = 6.0771005063039659766e-11; // 0x3DD0B461 1A600000: next 33 bits
const PIO2_2T = 2.02226624879595063154e-21; // 0x3BA3198A 2E037073: π/2 - PIO2_1 - PIO2_2

const S1 = -1.66666666666666324348e-1;
const S2 = 8.33333333332248946124e-3;
const S3 = -1.98412698298579493134e-4;
const S4 = 2.75573137070700676789e-6;
const S5 = -2.50507602534068634195e-8;
const S6 = 1.58969099521155010221e-10;

const C1 = 4.16666666666666019037e-2;
const C2 = -1.38888888888741095749e-3;
const C3 = 2.48015872894767294178e-5;
const C4 = -2.75573143513906633035e-7;
const C5 = 2.0875723212981748279e-9;
const C6 = -1.13596475577881948265e-11;

const INVLN2 = 1.442695040888963387;
const LN2_HI = 6.9314718036912381649e-1; // 0x3FE62E42 FEE00000
const LN2_LO = 1.90821492927058770002e-10; // 0x3DEA39EF 35793C76
const P1 = 1.66666666666666019037e-1;
const P2 = -2.77777777770155933842e-3;
const P3 = 6.61375632143793436117e-5;
const P4 = -1.6533902205465251539e-6;
const P5 = 4.13813679705723846039e-8;
/** exp's argument clamp: exp(710) overflows and exp(-746) underflows to 0 in double. */
const EXP_HI = 710;
const EXP_LO = -746;

const LG1 = 6.66666666666673513e-1;
const LG2 = 3.999999999940941908e-1;
const LG3 = 2.857142874366239149e-1;
const LG4 = 2.222219843214978396e-1;
const LG5 = 1.818357216161805012e-1;
const LG6 = 1.531383769920937332e-1;
const LG7 = 1.479819860511658591e-1;
/** High word of ≈ √½: ln's mantissa is brought into [√½, √2). */
const LOG_OFF = 0x3fe6a09e;

let Y0 = 0;
let Y1 = 0;

/** x - n·π/2 as Y0 + Y1; returns n (only n mod 4 is used). Valid for |x| <= TRIG_MAX. */
function reduce(x: number): number {
  const t = x * INVPIO2 + TOINT;
  const fn = t - TOINT;
  F64[0] = t;
  const n = I32[0] as number;
  const a = x - fn * PIO2_1; // exact: fn·PIO2_1 is exact and close to x (Sterbenz)
  const w = fn * PIO2_2; // exact
  const r = a - w; // TwoSum: r + e = a - w exactly
  const bb = r - a;
  const e = a - (r - bb) - (w + bb);
  const lo = e - fn * PIO2_2T;
  Y0 = r + lo;
  Y1 = r - Y0 + lo;
  return n;
}

/** __kernel_sin(x, y, 1) (fdlibm's, in musl's evaluation order): sin(x + y) for |x| <= π/4, |y| <= ulp(x)/2. */
function kSin(x: number, y: number): number {
  const z = x * x;
  const w = z * z;
  const r = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
  const v = z * x;
  return x - (z * (0.5 * y - v * r) - y - v * S1);
}

/**
 * __kernel_cos(x, y) (fdlibm's coefficients, musl's branch-free form): cos(x + y) for |x| <= π/4;
 * 1 - z/2 is formed as w plus its exact rounding error ((1 - w) - hz), so no split of x is needed.
 */
function kCos(x: number, y: number): number {
  const z = x * x;
  const w = z * z;
  const r = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
  const hz = 0.5 * z;
  const w1 = 1 - hz;
  return w1 + (1 - w1 - hz + (z * r - x * y));
}

/** sin(x), gpmate's definition (see the file's head). */
export function sin(x: number): number {
  if (!(x <= TRIG_MAX && x >= -TRIG_MAX)) return Math.sin(x); // rare path: NaN, ±Inf, |x| > 2^20
  const n = reduce(x);
  const y0 = Y0;
  const y1 = Y1;
  const v = n & 1 ? kCos(y0, y1) : kSin(y0, y1);
  if (x === 0) return x; // keeps the sign of zero
  return n & 2 ? -v : v;
}

/** cos(x), gpmate's definition (see the file's head). */
export function cos(x: number): number {
  if (!(x <= TRIG_MAX && x >= -TRIG_MAX)) return Math.cos(x);
  const n = reduce(x);
  const y0 = Y0;
  const y1 = Y1;
  const v = n & 1 ? kSin(y0, y1) : kCos(y0, y1);
  return (n + 1) & 2 ? -v : v;
}

/** 2^k for an integer k in [-1022, 1023], from its bits. */
function pow2(k: number): number {
  I32[0] = 0;
  I32[1] = (k + 1023) << 20;
  return F64[0] as number;
}

/** e^x, gpmate's definition (see the file's head). */
export function exp(x: number): number {
  const xc = x > EXP_HI ? EXP_HI : x < EXP_LO ? EXP_LO : x;
  const t = xc * INVLN2 + TOINT;
  const kf = t - TOINT;
  F64[0] = t;
  const k = I32[0] as number;
  const hi = xc - kf * LN2_HI; // exact
  const lo = kf * LN2_LO;
  const r = hi - lo;
  const tt = r * r;
  const c = r - tt * (P1 + tt * (P2 + tt * (P3 + tt * (P4 + tt * P5))));
  const y = 1 - (lo - (r * c) / (2 - c) - hi);
  if (x !== x) return x; // NaN (k is meaningless then)
  const k1 = k >> 1;
  return y * pow2(k1) * pow2(k - k1);
}

/** ln(a) for a > 0 normal or +Infinity (the protected log's domain), gpmate's definition. */
export function ln(a: number): number {
  F64[0] = a;
  const hx = I32[1] as number;
  const tmp = hx - LOG_OFF;
  const k = tmp >> 20;
  I32[1] = hx - (tmp & 0xfff00000);
  const f = (F64[0] as number) - 1;
  const hfsq = 0.5 * f * f;
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const R = t2 + t1;
  const dk = k;
  if (a === Infinity) return a;
  return dk * LN2_HI - (hfsq - (s * (hfsq + R) + dk * LN2_LO) - f);
}
