/**
 * Fitness measures on a prediction vector (reference definitions; fast evaluators must agree).
 */

export { rmse, rSquared } from './reference.js';

/**
 * Linear scaling (Keijzer 2003): the offset a and slope b that minimise sum (y - (a + b p))^2,
 * in closed form: b = cov(p, y) / var(p), a = mean(y) - b mean(p). When p is constant (var 0),
 * b = 0 and a = mean(y). Non-finite predictions give NaN for both.
 */
export function linearScaling(pred: ArrayLike<number>, y: ArrayLike<number>): { offset: number; slope: number } {
  const n = y.length;
  let sp = 0;
  let sy = 0;
  for (let r = 0; r < n; r++) {
    sp += pred[r] as number;
    sy += y[r] as number;
  }
  const mp = sp / n;
  const my = sy / n;
  let cov = 0;
  let varp = 0;
  for (let r = 0; r < n; r++) {
    const dp = (pred[r] as number) - mp;
    cov += dp * ((y[r] as number) - my);
    varp += dp * dp;
  }
  if (!Number.isFinite(varp) || !Number.isFinite(cov)) return { offset: NaN, slope: NaN };
  const slope = varp > 0 ? cov / varp : 0;
  return { offset: my - slope * mp, slope };
}

/** RMSE after the optimal linear scaling of the predictions (+Infinity when not finite). */
export function scaledRmse(pred: ArrayLike<number>, y: ArrayLike<number>): number {
  const { offset, slope } = linearScaling(pred, y);
  if (!Number.isFinite(offset) || !Number.isFinite(slope)) return Infinity;
  let s = 0;
  for (let r = 0; r < y.length; r++) {
    const e = offset + slope * (pred[r] as number) - (y[r] as number);
    s += e * e;
  }
  const v = Math.sqrt(s / y.length);
  return Number.isFinite(v) ? v : Infinity;
}

/** Which error a regression run minimises. */
export type FitnessKind = 'rmse' | 'scaled-rmse';
export const FITNESS_KINDS = ['rmse', 'scaled-rmse'] as const satisfies readonly FitnessKind[];
