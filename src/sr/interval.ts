import { Op, PROTECT_DIV, PROTECT_LOG } from '../tree/primitives.js';
import type { Tree } from '../tree/tree.js';

/** A closed interval [lo, hi]; NaN bounds mean "unknown" and fail every check. */
export type Interval = readonly [number, number];

const hull = (...xs: number[]): Interval => {
  if (xs.some(Number.isNaN)) return [NaN, NaN];
  return [Math.min(...xs), Math.max(...xs)];
};

function mul(a: Interval, b: Interval): Interval {
  const p = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]];
  if (p.some(Number.isNaN)) {
    // 0 * Infinity: the product is unbounded, not undefined (unless a bound is already unknown)
    return [a, b].some((x) => Number.isNaN(x[0]) || Number.isNaN(x[1])) ? [NaN, NaN] : [-Infinity, Infinity];
  }
  return [Math.min(...p), Math.max(...p)];
}

/** Protected division: a/b where |b| > 0.001, else 1 (primitives.ts). */
function div(a: Interval, b: Interval): Interval {
  const parts: number[] = [];
  const [bl, bh] = b;
  if (bl < -PROTECT_DIV) {
    const hi = Math.min(bh, -PROTECT_DIV);
    parts.push(...mul(a, [1 / hi, 1 / bl]));
  }
  if (bh > PROTECT_DIV) {
    const lo = Math.max(bl, PROTECT_DIV);
    parts.push(...mul(a, [1 / bh, 1 / lo]));
  }
  if (bl <= PROTECT_DIV && bh >= -PROTECT_DIV) parts.push(1);
  return hull(...parts);
}

/** sin over [lo, hi], exact up to rounding: extremes at the ends or at pi/2 + k pi inside. */
function sin(a: Interval): Interval {
  const [lo, hi] = a;
  // beyond 2^50 consecutive multiples of pi are no longer distinguishable: give the safe answer
  if (!(Math.abs(lo) < 2 ** 50 && Math.abs(hi) < 2 ** 50) || hi - lo >= 2 * Math.PI) return [-1, 1];
  let mn = Math.min(Math.sin(lo), Math.sin(hi));
  let mx = Math.max(Math.sin(lo), Math.sin(hi));
  const k0 = Math.ceil((lo - Math.PI / 2) / Math.PI);
  for (let k = k0; Math.PI / 2 + k * Math.PI <= hi; k++) {
    if (k % 2 === 0) mx = 1;
    else mn = -1;
  }
  return [mn, mx];
}

function abs(a: Interval): Interval {
  const [lo, hi] = a;
  if (lo >= 0) return [lo, hi];
  if (hi <= 0) return [-hi, -lo];
  return [0, Math.max(-lo, hi)];
}

/**
 * Interval extension of a tree (Moore 1966) over a box of inputs: a guaranteed enclosure of every
 * value the tree takes for inputs inside the box (wider than the true range where a variable occurs
 * more than once: the dependency problem), under gpmate's protected semantics.
 */
export function treeInterval(t: Tree, box: readonly Interval[]): Interval {
  const stack: Interval[] = [];
  for (let i = 0; i < t.op.length; i++) {
    const op = t.op[i] as number;
    switch (op) {
      case Op.Const: {
        const v = t.arg[i] as number;
        stack.push([v, v]);
        break;
      }
      case Op.Var:
        stack.push(box[t.arg[i] as number] ?? [NaN, NaN]);
        break;
      case Op.Add: {
        const b = stack.pop()!,
          a = stack.pop()!;
        stack.push(hull(a[0] + b[0], a[1] + b[1]));
        break;
      }
      case Op.Sub: {
        const b = stack.pop()!,
          a = stack.pop()!;
        stack.push(hull(a[0] - b[1], a[1] - b[0]));
        break;
      }
      case Op.Mul: {
        const b = stack.pop()!,
          a = stack.pop()!;
        stack.push(mul(a, b));
        break;
      }
      case Op.Div: {
        const b = stack.pop()!,
          a = stack.pop()!;
        stack.push(div(a, b));
        break;
      }
      case Op.Sin:
        stack.push(sin(stack.pop()!));
        break;
      case Op.Cos: {
        const a = stack.pop()!;
        stack.push(sin([a[0] + Math.PI / 2, a[1] + Math.PI / 2]));
        break;
      }
      case Op.Exp: {
        const a = stack.pop()!;
        stack.push([Math.exp(a[0]), Math.exp(a[1])]);
        break;
      }
      case Op.Log: {
        const [lo, hi] = abs(stack.pop()!);
        const parts: number[] = [];
        if (hi > PROTECT_LOG) parts.push(Math.log(Math.max(lo, PROTECT_LOG)), Math.log(hi));
        if (lo <= PROTECT_LOG) parts.push(0);
        stack.push(hull(...parts));
        break;
      }
      case Op.Sqrt: {
        const [lo, hi] = abs(stack.pop()!);
        stack.push([Math.sqrt(lo), Math.sqrt(hi)]);
        break;
      }
      case Op.Neg: {
        const a = stack.pop()!;
        stack.push([-a[1], -a[0]]);
        break;
      }
      case Op.Square: {
        const [lo, hi] = abs(stack.pop()!);
        stack.push([lo * lo, hi * hi]);
        break;
      }
      default:
        throw new Error(`treeInterval: unknown opcode ${op}`);
    }
  }
  return stack.pop()!;
}

/**
 * The robustness check's box and bounds, from the training data: each input's [min, max] widened by
 * `margin` times its range on both sides (models are applied a little outside the training range:
 * Vladislavleva-4's test inputs reach 5% beyond it), and the admissible output range: the target's
 * [min, max] widened by `outputFactor` times its range.
 */
export interface RobustBounds {
  readonly box: readonly Interval[];
  readonly out: Interval;
}

export function robustBounds(columns: readonly Float64Array[], y: Float64Array, margin = 0.1, outputFactor = 10): RobustBounds {
  const range = (c: Float64Array): Interval => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of c) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return [lo, hi];
  };
  const box = columns.map((c) => {
    const [lo, hi] = range(c);
    const w = (hi - lo) * margin;
    return [lo - w, hi + w] as Interval;
  });
  const [ylo, yhi] = range(y);
  const span = Math.max(yhi - ylo, Math.abs(yhi), 1e-12);
  return { box, out: [ylo - outputFactor * span, yhi + outputFactor * span] };
}

/** True when `offset + slope * t` stays inside `b.out` everywhere in `b.box` (by interval arithmetic). */
export function isRobust(t: Tree, b: RobustBounds, offset = 0, slope = 1): boolean {
  const [lo, hi] = treeInterval(t, b.box);
  const a = offset + slope * lo;
  const c = offset + slope * hi;
  const mn = Math.min(a, c);
  const mx = Math.max(a, c);
  return mn >= b.out[0] && mx <= b.out[1];
}
