/**
 * Special functions the tests in this module need: log-gamma, the regularised incomplete gamma
 * functions, and the normal and chi-square distributions built on them. Written out here (rather
 * than taken from a package) so that every p-value gpmate reports is computed by code under test
 * against scipy (test/fixtures/stats_reference.json).
 */

const EPS = 1e-16;
const FPMIN = 1e-300;
const MAX_ITER = 100_000;

/** Lanczos coefficients (g = 7, n = 9): relative error about 1e-15 over the positive reals. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
] as const;

/**
 * ln Γ(x) for x > 0 by the Lanczos approximation (g = 7, 9 terms), with the reflection formula
 * Γ(x)Γ(1-x) = π / sin(πx) below 1/2 (Press et al., Numerical Recipes, 3rd ed., section 6.1).
 */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: expected x > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let s = LANCZOS[0];
  for (let i = 1; i < 9; i++) s += (LANCZOS[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** e^{-x} x^a / Γ(a), the common prefactor of both incomplete-gamma expansions, computed in logs. */
function gammaPrefactor(a: number, x: number): number {
  return Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Series for P(a, x) = γ(a, x)/Γ(a); converges quickly for x < a + 1. */
function gammaSeries(a: number, x: number): number {
  let ap = a;
  let del = 1 / a;
  let sum = del;
  for (let n = 0; n < MAX_ITER; n++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * EPS) return sum * gammaPrefactor(a, x);
  }
  throw new Error(`incomplete gamma series did not converge (a=${a}, x=${x})`);
}

/** Continued fraction for Q(a, x) = Γ(a, x)/Γ(a) (modified Lentz); converges quickly for x >= a + 1. */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h * gammaPrefactor(a, x);
  }
  throw new Error(`incomplete gamma continued fraction did not converge (a=${a}, x=${x})`);
}

/**
 * Regularised lower incomplete gamma P(a, x) = γ(a, x)/Γ(a), for a > 0, x >= 0. Uses the power
 * series below x = a + 1 and the continued fraction above, each where it converges fast, and
 * computes the smaller of P and Q directly so neither tail loses precision to cancellation
 * (Numerical Recipes, 3rd ed., section 6.2).
 */
export function gammaP(a: number, x: number): number {
  checkGammaArgs('gammaP', a, x);
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** Regularised upper incomplete gamma Q(a, x) = 1 - P(a, x), accurate in the far tail. */
export function gammaQ(a: number, x: number): number {
  checkGammaArgs('gammaQ', a, x);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

function checkGammaArgs(name: string, a: number, x: number): void {
  if (!(a > 0) || !Number.isFinite(a)) throw new RangeError(`${name}: expected a finite a > 0, got ${a}`);
  if (!(x >= 0)) throw new RangeError(`${name}: expected x >= 0, got ${x}`);
}

/**
 * Complementary error function, erfc(x) = Q(1/2, x²) for x >= 0 and 2 - erfc(-x) below; relative
 * accuracy near 1e-14 deep into the upper tail because Q is computed there directly.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 0) return gammaQ(0.5, x * x);
  return 2 - gammaQ(0.5, x * x);
}

/** Standard normal survival function P(Z > z). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Standard normal distribution function P(Z <= z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/**
 * Standard normal quantile (inverse of normalCdf) for 0 < p < 1. Starts from the rational
 * approximation of Abramowitz & Stegun 26.2.23 (absolute error < 4.5e-4) and polishes it with
 * Halley steps on the accurate normalCdf, which converge cubically to full double precision.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: expected 0 <= p <= 1, got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const lower = p < 0.5;
  const pp = lower ? p : 1 - p;
  const t = Math.sqrt(-2 * Math.log(pp));
  let x = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
  if (lower) x = -x;
  for (let i = 0; i < 8; i++) {
    // Work in the tail the target lies in, so that 1 - p does not swallow the error.
    const e = lower ? normalCdf(x) - p : 1 - p - normalSf(x);
    const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    if (pdf === 0) break;
    const u = e / pdf;
    const step = u / (1 + 0.5 * x * u);
    x -= step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}

/** Chi-square survival function P(X > x) with `df` degrees of freedom: Q(df/2, x/2). */
export function chiSquareSf(x: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`chiSquareSf: expected df > 0, got ${df}`);
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  return gammaQ(df / 2, x / 2);
}
