import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.js';
import { Kernel } from '../src/eval/kernel.js';
import { cos, exp, ln, sin, TRIG_MAX } from '../src/tree/elementary.js';
import { apply1, Op } from '../src/tree/primitives.js';

const F = new Float64Array(1);
const B = new BigInt64Array(F.buffer);
/** Position of a double on the line of doubles (so that ulp distance is a difference). */
function ord(x: number): bigint {
  F[0] = x;
  const b = B[0] as bigint;
  return b < 0n ? -(b & 0x7fffffffffffffffn) : b;
}
/** Distance in ulps; 0 for two NaNs, Infinity when only one is NaN. */
function ulps(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  const d = ord(a) - ord(b);
  return Number(d < 0n ? -d : d);
}
function fromBits(hi: number, lo: number): number {
  const i = new Int32Array(F.buffer);
  i[0] = lo;
  i[1] = hi;
  return F[0] as number;
}

/** Inputs: uniform on several scales, log-uniform magnitudes, arbitrary bit patterns, edge values. */
function inputs(rng: Rng, n: number, scales: readonly number[]): Float64Array {
  const edges = [
    0,
    -0,
    Infinity,
    -Infinity,
    NaN,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1e-300,
    0.001,
    -0.001,
    0.0010000000000000002,
    0.0009999999999999998,
    709.782712893384,
    709.7827128933841,
    710,
    711,
    -745.1332191019411,
    -745.1332191019412,
    -746,
    -1e4,
    1e4,
    TRIG_MAX,
    -TRIG_MAX,
    TRIG_MAX + 1,
    2 ** 20 - 0.5,
    1e300,
    -1e300,
    Math.PI / 2,
    Math.PI / 4,
    -Math.PI / 4,
    Math.PI,
    0.3,
    0.78125,
    1,
    -1,
    0.5,
  ];
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const kind = i % 5;
    if (i < edges.length) x[i] = edges[i] as number;
    else if (kind === 0) x[i] = fromBits(rng.int(0x100000000) | 0, rng.int(0x100000000) | 0);
    else if (kind === 1) x[i] = (rng.chance(0.5) ? -1 : 1) * 2 ** rng.uniform(-40, 21);
    else x[i] = rng.uniform(-1, 1) * (rng.pick(scales) as number);
  }
  return x;
}

const kernel = new Kernel([new Float64Array(4)], new Float64Array(4));
const CASES = [
  { name: 'sin', op: Op.Sin, scalar: sin, v8: Math.sin, scales: [1, 4, 100, 1e4, TRIG_MAX] },
  { name: 'cos', op: Op.Cos, scalar: cos, v8: Math.cos, scales: [1, 4, 100, 1e4, TRIG_MAX] },
  { name: 'exp', op: Op.Exp, scalar: exp, v8: Math.exp, scales: [1, 4, 40, 750] },
  {
    name: 'log',
    op: Op.Log,
    scalar: (a: number) => apply1(Op.Log, a),
    v8: (a: number) => (Math.abs(a) > 0.001 ? Math.log(Math.abs(a)) : 0),
    scales: [0.01, 1, 2, 1e3, 1e300],
  },
] as const;

describe('SIMD sin, cos, exp, log agree bitwise with the scalar definitions', () => {
  for (const c of CASES) {
    it(`${c.name}: 1,000,000 inputs (random, bit patterns, edges)`, () => {
      const x = inputs(new Rng(c.op), 1_000_000, c.scales);
      const simd = kernel.mapUnary(c.op, x);
      let bad = -1;
      for (let i = 0; i < x.length && bad < 0; i++) if (!Object.is(simd[i], apply1(c.op, x[i]!))) bad = i;
      expect(bad, bad >= 0 ? `x = ${x[bad]}: simd ${simd[bad]}, scalar ${apply1(c.op, x[bad]!)}` : '').toBe(-1);
    });
  }
});

describe('accuracy of sin, cos, exp, log', () => {
  for (const c of CASES) {
    it(`${c.name}: within 1 ulp of V8's Math (fdlibm) on 1,000,000 inputs`, () => {
      const x = inputs(new Rng(100 + c.op), 1_000_000, c.scales);
      let max = 0;
      let at = 0;
      for (let i = 0; i < x.length; i++) {
        const u = ulps(c.scalar(x[i]!), c.v8(x[i]!));
        if (u > max) [max, at] = [u, x[i]!];
      }
      expect(max, `worst at x = ${at}`).toBeLessThanOrEqual(1);
    });
  }

  it('special values', () => {
    expect(Object.is(sin(-0), -0)).toBe(true);
    expect(Object.is(sin(0), 0)).toBe(true);
    expect(sin(5e-324)).toBe(5e-324);
    expect(Object.is(sin(-5e-324), -5e-324)).toBe(true);
    expect(sin(2.2250738585072014e-308)).toBe(2.2250738585072014e-308);
    expect(cos(5e-324)).toBe(1);
    expect(exp(5e-324)).toBe(1);
    expect(exp(-5e-324)).toBe(1);
    expect(cos(0)).toBe(1);
    expect(cos(-0)).toBe(1);
    for (const v of [Infinity, -Infinity, NaN]) {
      expect(sin(v)).toBeNaN();
      expect(cos(v)).toBeNaN();
    }
    expect(sin(1e10)).toBe(Math.sin(1e10)); // beyond TRIG_MAX: V8's
    expect(exp(0)).toBe(1);
    expect(exp(-0)).toBe(1);
    expect(exp(Infinity)).toBe(Infinity);
    expect(exp(-Infinity)).toBe(0);
    expect(exp(NaN)).toBeNaN();
    expect(exp(709.782712893384)).toBe(1.7976931348622732e308);
    expect(exp(709.7827128933841)).toBe(Infinity);
    expect(exp(-745.1332191019411)).toBe(5e-324);
    expect(exp(-745.1332191019412)).toBe(0);
    expect(exp(-740)).toBe(Math.exp(-740)); // subnormal result, rounded once
    expect(ulps(exp(1), Math.E)).toBeLessThanOrEqual(1);
    expect(ln(1)).toBe(0);
    expect(ln(Math.E)).toBe(1);
    expect(ln(Infinity)).toBe(Infinity);
    expect(ln(Number.MAX_VALUE)).toBe(Math.log(Number.MAX_VALUE));
    expect(apply1(Op.Log, 0)).toBe(0);
    expect(apply1(Op.Log, -0.001)).toBe(0);
    expect(apply1(Op.Log, NaN)).toBe(0);
    expect(apply1(Op.Log, -Math.E)).toBe(1);
    expect(apply1(Op.Log, -Infinity)).toBe(Infinity);
  });
});

describe('accuracy against exact values', () => {
  it('sin, cos, exp, log are within 1 ulp of the correctly rounded result (2,000 inputs each, Python decimal)', async () => {
    const { readFileSync } = await import('node:fs');
    // Made by bench/eval/elementary_exact.py fixture test/fixtures/elementary-exact.json 2000.
    const data = JSON.parse(readFileSync(new URL('./fixtures/elementary-exact.json', import.meta.url), 'utf8')) as Record<
      string,
      [number, number][]
    >;
    const f: Record<string, (x: number) => number> = { sin, cos, exp, log: (a) => apply1(Op.Log, a) };
    for (const [name, pairs] of Object.entries(data)) {
      expect(pairs.length).toBe(2000);
      let max = 0;
      for (const [x, want] of pairs) max = Math.max(max, ulps(f[name]!(x), want));
      expect(max, name).toBeLessThanOrEqual(1);
    }
  });
});
