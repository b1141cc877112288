import { cos, exp, ln, sin } from '../tree/elementary.js';
import { Op, PROTECT_DIV, PROTECT_LOG } from '../tree/primitives.js';
import type { Tree } from '../tree/tree.js';

/*
 * Local optimisation of a tree's constants. Pure functions of (tree, data columns, settings): no
 * module state, no randomness, so they run unchanged inside a worker thread.
 */

/**
 * Forward pass over the flat postfix encoding, column-wise, keeping every node's output column
 * (needed by the reverse pass). Same semantics as eval/reference.ts evaluateTree, bit for bit.
 * Variable nodes are views of the input columns: callers must not write into `values`.
 * `values[i]` is node i's column; the root is the last.
 */
export function forwardColumns(t: Tree, columns: readonly Float64Array[], rows: number): Float64Array[] {
  const n = t.op.length;
  const values: Float64Array[] = new Array(n);
  const stack = new Int32Array(n);
  let sp = 0;
  for (let i = 0; i < n; i++) {
    const op = t.op[i] as number;
    if (op === Op.Var) {
      // a view of the input column, not a copy: node columns are never written after creation
      values[i] = (columns[t.arg[i] as number] as Float64Array).subarray(0, rows);
      stack[sp++] = i;
      continue;
    }
    const v = new Float64Array(rows);
    if (op === Op.Const) v.fill(t.arg[i] as number);
    else if (op >= Op.Sin) {
      const a = values[stack[--sp] as number] as Float64Array;
      switch (op) {
        case Op.Sin: for (let r = 0; r < rows; r++) v[r] = sin(a[r] as number); break;
        case Op.Cos: for (let r = 0; r < rows; r++) v[r] = cos(a[r] as number); break;
        case Op.Exp: for (let r = 0; r < rows; r++) v[r] = exp(a[r] as number); break;
        case Op.Log: for (let r = 0; r < rows; r++) { const x = a[r] as number; v[r] = Math.abs(x) > PROTECT_LOG ? ln(Math.abs(x)) : 0; } break;
        case Op.Sqrt: for (let r = 0; r < rows; r++) v[r] = Math.sqrt(Math.abs(a[r] as number)); break;
        case Op.Neg: for (let r = 0; r < rows; r++) v[r] = -(a[r] as number); break;
        case Op.Square: for (let r = 0; r < rows; r++) { const x = a[r] as number; v[r] = x * x; } break;
        default: throw new Error(`opcode ${op} is not unary`);
      }
    } else {
      const b = values[stack[--sp] as number] as Float64Array;
      const a = values[stack[--sp] as number] as Float64Array;
      switch (op) {
        case Op.Add: for (let r = 0; r < rows; r++) v[r] = (a[r] as number) + (b[r] as number); break;
        case Op.Sub: for (let r = 0; r < rows; r++) v[r] = (a[r] as number) - (b[r] as number); break;
        case Op.Mul: for (let r = 0; r < rows; r++) v[r] = (a[r] as number) * (b[r] as number); break;
        case Op.Div: for (let r = 0; r < rows; r++) { const d = b[r] as number; v[r] = Math.abs(d) > PROTECT_DIV ? (a[r] as number) / d : 1; } break;
        default: throw new Error(`opcode ${op} is not binary`);
      }
    }
    values[i] = v;
    stack[sp++] = i;
  }
  return values;
}

/** Indices of the Const nodes of a tree: the parameters the optimiser tunes, in postfix order. */
export function constantIndices(t: Tree): number[] {
  const out: number[] = [];
  for (let i = 0; i < t.op.length; i++) if (t.op[i] === Op.Const) out.push(i);
  return out;
}

/**
 * Reverse-mode derivatives of the root output with respect to every node's value, column-wise:
 * `adj[i][r]` = d root(r) / d node_i(r). One backward sweep over the postfix encoding (parents come
 * after children, so walking i = n-1 .. 0 visits a node after all its parents). The derivative of
 * a constant is then the column adj[c]: the Jacobian of the outputs with respect to all constants
 * costs one forward and one backward pass, whatever the number of constants.
 * Protected operators: derivative 0 where the protection acts (the function is locally constant).
 */
export function reverseAdjoints(t: Tree, values: readonly Float64Array[], rows: number): Float64Array[] {
  const n = t.op.length;
  const adj: Float64Array[] = new Array(n);
  // children of each node from a postfix pass
  const left = new Int32Array(n).fill(-1);
  const right = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  let sp = 0;
  for (let i = 0; i < n; i++) {
    const op = t.op[i] as number;
    if (op === Op.Const || op === Op.Var) {
      /* leaf */
    } else if (op >= Op.Sin) left[i] = stack[--sp] as number;
    else {
      right[i] = stack[--sp] as number;
      left[i] = stack[--sp] as number;
    }
    stack[sp++] = i;
  }
  for (let i = 0; i < n; i++) adj[i] = new Float64Array(rows);
  (adj[n - 1] as Float64Array).fill(1);
  for (let i = n - 1; i >= 0; i--) {
    const op = t.op[i] as number;
    if (op === Op.Const || op === Op.Var) continue;
    const g = adj[i] as Float64Array;
    const ia = left[i] as number;
    const a = values[ia] as Float64Array;
    const ga = adj[ia] as Float64Array;
    if (op >= Op.Sin) {
      const v = values[i] as Float64Array;
      switch (op) {
        case Op.Sin: for (let r = 0; r < rows; r++) ga[r] += (g[r] as number) * cos(a[r] as number); break;
        case Op.Cos: for (let r = 0; r < rows; r++) ga[r] -= (g[r] as number) * sin(a[r] as number); break;
        case Op.Exp: for (let r = 0; r < rows; r++) ga[r] += (g[r] as number) * (v[r] as number); break;
        case Op.Log: for (let r = 0; r < rows; r++) { const x = a[r] as number; if (Math.abs(x) > PROTECT_LOG) ga[r] += (g[r] as number) / x; } break;
        case Op.Sqrt: for (let r = 0; r < rows; r++) { const s = v[r] as number; if (s > 0) ga[r] += (g[r] as number) * Math.sign(a[r] as number) / (2 * s); } break;
        case Op.Neg: for (let r = 0; r < rows; r++) ga[r] -= g[r] as number; break;
        case Op.Square: for (let r = 0; r < rows; r++) ga[r] += 2 * (g[r] as number) * (a[r] as number); break;
      }
      continue;
    }
    const ib = right[i] as number;
    const b = values[ib] as Float64Array;
    const gb = adj[ib] as Float64Array;
    switch (op) {
      case Op.Add: for (let r = 0; r < rows; r++) { ga[r] += g[r] as number; gb[r] += g[r] as number; } break;
      case Op.Sub: for (let r = 0; r < rows; r++) { ga[r] += g[r] as number; gb[r] -= g[r] as number; } break;
      case Op.Mul: for (let r = 0; r < rows; r++) { const gr = g[r] as number; ga[r] += gr * (b[r] as number); gb[r] += gr * (a[r] as number); } break;
      case Op.Div:
        for (let r = 0; r < rows; r++) {
          const d = b[r] as number;
          if (Math.abs(d) > PROTECT_DIV) {
            const gr = g[r] as number;
            ga[r] += gr / d;
            gb[r] -= (gr * (a[r] as number)) / (d * d);
          }
        }
        break;
    }
  }
  return adj;
}

/** Settings of the local constant optimiser. */
export interface OptimiserSettings {
  /** `lm`: Levenberg-Marquardt (default); `gradient`: steepest descent with backtracking (the simpler baseline). */
  readonly method?: 'lm' | 'gradient';
  /** Model evaluations allowed (each LM trial step costs one). Default 10. */
  readonly iterations?: number;
  /** Also fit offset and slope of `offset + slope * tree` (linear scaling inside the optimiser). */
  readonly scaling?: boolean;
}

/** Result: tuned constants written into a copy of the tree, scaling, and the final sum of squared errors. */
export interface OptimiserResult {
  readonly tree: Tree;
  readonly offset: number;
  readonly slope: number;
  readonly sse: number;
  /** Model evaluations spent. */
  readonly evaluations: number;
}

interface Problem {
  readonly t: Tree;
  readonly consts: number[];
  readonly columns: readonly Float64Array[];
  readonly y: Float64Array;
  readonly rows: number;
  readonly scaling: boolean;
}

/** Parameter vector layout: [constants..., offset, slope] (the last two only with scaling). */
function withParams(pr: Problem, p: Float64Array): Tree {
  const arg = Float64Array.from(pr.t.arg);
  pr.consts.forEach((c, k) => (arg[c] = p[k] as number));
  return { op: pr.t.op, arg };
}

function residuals(pr: Problem, p: Float64Array): { r: Float64Array; sse: number; values: Float64Array[]; tree: Tree } {
  const tree = withParams(pr, p);
  const values = forwardColumns(tree, pr.columns, pr.rows);
  const f = values[values.length - 1] as Float64Array;
  const k = pr.consts.length;
  const off = pr.scaling ? (p[k] as number) : 0;
  const sl = pr.scaling ? (p[k + 1] as number) : 1;
  const r = new Float64Array(pr.rows);
  let sse = 0;
  for (let i = 0; i < pr.rows; i++) {
    const e = (pr.y[i] as number) - (off + sl * (f[i] as number));
    r[i] = e;
    sse += e * e;
  }
  return { r, sse: Number.isFinite(sse) ? sse : Infinity, values, tree };
}

/** Jacobian of the model output with respect to the parameters, column-major (one column per parameter). */
function jacobian(pr: Problem, p: Float64Array, values: Float64Array[], tree: Tree): Float64Array[] {
  const adj = reverseAdjoints(tree, values, pr.rows);
  const k = pr.consts.length;
  const sl = pr.scaling ? (p[k + 1] as number) : 1;
  const J: Float64Array[] = pr.consts.map((c) => {
    const col = Float64Array.from(adj[c] as Float64Array);
    if (sl !== 1) for (let i = 0; i < col.length; i++) col[i] = (col[i] as number) * sl;
    return col;
  });
  if (pr.scaling) {
    J.push(new Float64Array(pr.rows).fill(1));
    J.push(Float64Array.from(values[values.length - 1] as Float64Array));
  }
  return J;
}

/** Solves the symmetric positive definite system A x = b by Cholesky; null when A is not positive definite. */
export function choleskySolve(A: Float64Array, b: Float64Array, m: number): Float64Array | null {
  const L = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * m + j] as number;
      for (let k = 0; k < j; k++) s -= (L[i * m + k] as number) * (L[j * m + k] as number);
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * m + i] = Math.sqrt(s);
      } else L[i * m + j] = s / (L[j * m + j] as number);
    }
  }
  const z = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (L[i * m + k] as number) * (z[k] as number);
    z[i] = s / (L[i * m + i] as number);
  }
  const x = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    let s = z[i] as number;
    for (let k = i + 1; k < m; k++) s -= (L[k * m + i] as number) * (x[k] as number);
    x[i] = s / (L[i * m + i] as number);
  }
  return x;
}

function initialParams(pr: Problem, offset: number, slope: number): Float64Array {
  const k = pr.consts.length;
  const p = new Float64Array(k + (pr.scaling ? 2 : 0));
  pr.consts.forEach((c, j) => (p[j] = pr.t.arg[c] as number));
  if (pr.scaling) {
    p[k] = offset;
    p[k + 1] = slope;
  }
  return p;
}

/**
 * Tunes the constants of `t` (and, with `scaling`, the offset and slope of `offset + slope * t`) to
 * minimise the sum of squared errors on (columns, y), within a budget of model evaluations.
 *
 * Levenberg-Marquardt (Levenberg 1944, Marquardt 1963; the damping schedule of Nielsen 1999), with
 * the Jacobian from reverse-mode differentiation of the flat postfix program ({@link reverseAdjoints}):
 *
 * ```
 * p <- initial constants (offset, slope from the closed-form linear scaling)
 * r <- y - f(p); J <- df/dp; lambda <- 1e-3 * max diag(J'J); nu <- 2
 * while evaluations < budget:
 *   solve (J'J + lambda diag(J'J)) d = J'r
 *   if sse(p + d) < sse(p): p <- p + d; recompute r, J; lambda <- lambda * max(1/3, 1 - (2 rho - 1)^3); nu <- 2
 *   else lambda <- lambda * nu; nu <- 2 nu
 * ```
 * Never returns a worse fit than the initial one. `gradient` is steepest descent with a
 * backtracking step, kept as the simpler baseline the benchmark compares against.
 */
export function optimiseConstants(
  t: Tree,
  columns: readonly Float64Array[],
  y: Float64Array,
  init: { offset: number; slope: number } = { offset: 0, slope: 1 },
  s: OptimiserSettings = {},
): OptimiserResult {
  const pr: Problem = { t, consts: constantIndices(t), columns, y, rows: y.length, scaling: s.scaling ?? false };
  const budget = s.iterations ?? 10;
  let p = initialParams(pr, init.offset, init.slope);
  let cur = residuals(pr, p);
  let evaluations = 1;
  const m = p.length;
  const done = (): OptimiserResult => {
    const k = pr.consts.length;
    return {
      tree: cur.tree,
      offset: pr.scaling ? (p[k] as number) : 0,
      slope: pr.scaling ? (p[k + 1] as number) : 1,
      sse: cur.sse,
      evaluations,
    };
  };
  if (m === 0 || !Number.isFinite(cur.sse) || budget <= 1) return done();
  if (s.method === 'gradient') {
    let step = 1;
    while (evaluations < budget) {
      const J = jacobian(pr, p, cur.values, cur.tree);
      const g = new Float64Array(m);
      let gg = 0;
      for (let j = 0; j < m; j++) {
        let d = 0;
        const col = J[j] as Float64Array;
        for (let i = 0; i < pr.rows; i++) d += (col[i] as number) * (cur.r[i] as number);
        g[j] = d;
        gg += d * d;
      }
      if (!(gg > 0) || !Number.isFinite(gg)) break;
      let accepted = false;
      while (evaluations < budget) {
        const q = p.map((v, j) => v + (step * (g[j] as number)) / Math.sqrt(gg));
        const next = residuals(pr, q);
        evaluations++;
        if (next.sse < cur.sse) {
          p = q;
          cur = next;
          step *= 2;
          accepted = true;
          break;
        }
        step /= 4;
      }
      if (!accepted) break;
    }
    return done();
  }
  let J = jacobian(pr, p, cur.values, cur.tree);
  let JtJ = new Float64Array(m * m);
  let Jtr = new Float64Array(m);
  const normal = (): boolean => {
    JtJ = new Float64Array(m * m);
    Jtr = new Float64Array(m);
    for (let a = 0; a < m; a++) {
      const ca = J[a] as Float64Array;
      let d = 0;
      for (let i = 0; i < pr.rows; i++) d += (ca[i] as number) * (cur.r[i] as number);
      Jtr[a] = d;
      for (let b = 0; b <= a; b++) {
        const cb = J[b] as Float64Array;
        let v = 0;
        for (let i = 0; i < pr.rows; i++) v += (ca[i] as number) * (cb[i] as number);
        JtJ[a * m + b] = v;
        JtJ[b * m + a] = v;
      }
    }
    return JtJ.every(Number.isFinite) && Jtr.every(Number.isFinite);
  };
  if (!normal()) return done();
  let maxDiag = 0;
  for (let a = 0; a < m; a++) maxDiag = Math.max(maxDiag, JtJ[a * m + a] as number);
  let lambda = 1e-3 * (maxDiag > 0 ? maxDiag : 1);
  let nu = 2;
  while (evaluations < budget) {
    const A = Float64Array.from(JtJ);
    for (let a = 0; a < m; a++) A[a * m + a] = (A[a * m + a] as number) + lambda * Math.max(JtJ[a * m + a] as number, 1e-12);
    const d = choleskySolve(A, Jtr, m);
    if (!d || !d.every(Number.isFinite)) {
      lambda *= nu;
      nu *= 2;
      if (!Number.isFinite(lambda)) break;
      continue;
    }
    const q = p.map((v, j) => v + (d[j] as number));
    const next = residuals(pr, q);
    evaluations++;
    // predicted reduction of the linearised model, for the gain ratio rho
    let pred = 0;
    for (let a = 0; a < m; a++) pred += (d[a] as number) * (lambda * Math.max(JtJ[a * m + a] as number, 1e-12) * (d[a] as number) + (Jtr[a] as number));
    if (next.sse < cur.sse) {
      const rho = pred > 0 ? (cur.sse - next.sse) / pred : 1;
      p = q;
      const improvement = cur.sse - next.sse;
      cur = next;
      lambda *= Math.max(1 / 3, 1 - Math.pow(2 * rho - 1, 3));
      nu = 2;
      if (improvement <= 1e-12 * cur.sse) break;
      J = jacobian(pr, p, cur.values, cur.tree);
      if (!normal()) break;
    } else {
      lambda *= nu;
      nu *= 2;
      if (!Number.isFinite(lambda)) break;
    }
  }
  return done();
}
