import { cos, exp, ln, sin } from '../tree/elementary.js';
import { Op, PROTECT_DIV, PROTECT_LOG } from '../tree/primitives.js';
import { treeOf, type Tree } from '../tree/tree.js';

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
        case Op.Sin:
          for (let r = 0; r < rows; r++) v[r] = sin(a[r] as number);
          break;
        case Op.Cos:
          for (let r = 0; r < rows; r++) v[r] = cos(a[r] as number);
          break;
        case Op.Exp:
          for (let r = 0; r < rows; r++) v[r] = exp(a[r] as number);
          break;
        case Op.Log:
          for (let r = 0; r < rows; r++) {
            const x = a[r] as number;
            v[r] = Math.abs(x) > PROTECT_LOG ? ln(Math.abs(x)) : 0;
          }
          break;
        case Op.Sqrt:
          for (let r = 0; r < rows; r++) v[r] = Math.sqrt(Math.abs(a[r] as number));
          break;
        case Op.Neg:
          for (let r = 0; r < rows; r++) v[r] = -(a[r] as number);
          break;
        case Op.Square:
          for (let r = 0; r < rows; r++) {
            const x = a[r] as number;
            v[r] = x * x;
          }
          break;
        default:
          throw new Error(`opcode ${op} is not unary`);
      }
    } else {
      const b = values[stack[--sp] as number] as Float64Array;
      const a = values[stack[--sp] as number] as Float64Array;
      switch (op) {
        case Op.Add:
          for (let r = 0; r < rows; r++) v[r] = (a[r] as number) + (b[r] as number);
          break;
        case Op.Sub:
          for (let r = 0; r < rows; r++) v[r] = (a[r] as number) - (b[r] as number);
          break;
        case Op.Mul:
          for (let r = 0; r < rows; r++) v[r] = (a[r] as number) * (b[r] as number);
          break;
        case Op.Div:
          for (let r = 0; r < rows; r++) {
            const d = b[r] as number;
            v[r] = Math.abs(d) > PROTECT_DIV ? (a[r] as number) / d : 1;
          }
          break;
        default:
          throw new Error(`opcode ${op} is not binary`);
      }
    }
    values[i] = v;
    stack[sp++] = i;
  }
  return values;
}

/** The number of constant nodes of a tree (its fitted coefficients, the optimiser's parameters). */
export function constantsOf(t: Tree): number {
  let p = 0;
  for (let i = 0; i < t.op.length; i++) if (t.op[i] === Op.Const) p++;
  return p;
}

/** Indices of the Const nodes of a tree: the parameters the optimiser tunes, in postfix order. */
export function constantIndices(t: Tree): Int32Array {
  const out = new Int32Array(constantsOf(t));
  for (let i = 0, j = 0; i < t.op.length; i++) if (t.op[i] === Op.Const) out[j++] = i;
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
        case Op.Sin:
          for (let r = 0; r < rows; r++) ga[r]! += (g[r] as number) * cos(a[r] as number);
          break;
        case Op.Cos:
          for (let r = 0; r < rows; r++) ga[r]! -= (g[r] as number) * sin(a[r] as number);
          break;
        case Op.Exp:
          for (let r = 0; r < rows; r++) ga[r]! += (g[r] as number) * (v[r] as number);
          break;
        case Op.Log:
          for (let r = 0; r < rows; r++) {
            const x = a[r] as number;
            if (Math.abs(x) > PROTECT_LOG) ga[r]! += (g[r] as number) / x;
          }
          break;
        case Op.Sqrt:
          for (let r = 0; r < rows; r++) {
            const s = v[r] as number;
            if (s > 0) ga[r]! += ((g[r] as number) * Math.sign(a[r] as number)) / (2 * s);
          }
          break;
        case Op.Neg:
          for (let r = 0; r < rows; r++) ga[r]! -= g[r] as number;
          break;
        case Op.Square:
          for (let r = 0; r < rows; r++) ga[r]! += 2 * (g[r] as number) * (a[r] as number);
          break;
      }
      continue;
    }
    const ib = right[i] as number;
    const b = values[ib] as Float64Array;
    const gb = adj[ib] as Float64Array;
    switch (op) {
      case Op.Add:
        for (let r = 0; r < rows; r++) {
          ga[r]! += g[r] as number;
          gb[r]! += g[r] as number;
        }
        break;
      case Op.Sub:
        for (let r = 0; r < rows; r++) {
          ga[r]! += g[r] as number;
          gb[r]! -= g[r] as number;
        }
        break;
      case Op.Mul:
        for (let r = 0; r < rows; r++) {
          const gr = g[r] as number;
          ga[r]! += gr * (b[r] as number);
          gb[r]! += gr * (a[r] as number);
        }
        break;
      case Op.Div:
        for (let r = 0; r < rows; r++) {
          const d = b[r] as number;
          if (Math.abs(d) > PROTECT_DIV) {
            const gr = g[r] as number;
            ga[r]! += gr / d;
            gb[r]! -= (gr * (a[r] as number)) / (d * d);
          }
        }
        break;
    }
  }
  return adj;
}

/**
 * Where the optimiser's passes over the data run. `pass` returns the sum of squared residuals
 * y - (offset + slope * tree) over every row, the tree's constants at node indices `params` being the
 * parameters; with `jacobian` it also writes the Gram matrix of the Jacobian's columns into `gram`
 * (m x m, m = params + 2 with scaling; at least the lower triangle) and their products with the
 * residual into `rhs`. The columns are d tree / d constant for each parameter (unscaled), then, with
 * scaling, the column of ones and the tree's output. Implementations: {@link jsBackend} (below, the
 * reference) and the WebAssembly kernel's `lmPass` (src/eval/kernel.ts), which never stores the
 * Jacobian. Each is a pure function of its inputs.
 */
export interface LmBackend {
  pass(
    t: Tree,
    params: Int32Array,
    scaling: boolean,
    offset: number,
    slope: number,
    jacobian: boolean,
    gram: Float64Array,
    rhs: Float64Array,
  ): number;
}

/** The optimiser's passes in plain JavaScript on {@link forwardColumns} and {@link reverseAdjoints}. */
export function jsBackend(columns: readonly Float64Array[], y: Float64Array): LmBackend {
  const rows = y.length;
  return {
    pass(t, params, scaling, offset, slope, jacobian, gram, rhs) {
      const values = forwardColumns(t, columns, rows);
      const f = values[values.length - 1] as Float64Array;
      const r = new Float64Array(rows);
      let sse = 0;
      for (let i = 0; i < rows; i++) {
        const e = (y[i] as number) - (offset + slope * (f[i] as number));
        r[i] = e;
        sse += e * e;
      }
      if (!jacobian || !Number.isFinite(sse)) return sse;
      const adj = reverseAdjoints(t, values, rows);
      const cols: Float64Array[] = Array.from(params, (c) => adj[c] as Float64Array);
      if (scaling) cols.push(new Float64Array(rows).fill(1), f);
      const m = cols.length;
      for (let a = 0; a < m; a++) {
        const ca = cols[a] as Float64Array;
        for (let b = 0; b <= a; b++) {
          const cb = cols[b] as Float64Array;
          let v = 0;
          for (let i = 0; i < rows; i++) v += (ca[i] as number) * (cb[i] as number);
          gram[a * m + b] = v;
        }
        let v = 0;
        for (let i = 0; i < rows; i++) v += (ca[i] as number) * (r[i] as number);
        rhs[a] = v;
      }
      return sse;
    },
  };
}

/** Settings of the local constant optimiser. */
export interface OptimiserSettings {
  /** `lm`: Levenberg-Marquardt (default); `gradient`: steepest descent with backtracking (the simpler baseline). */
  readonly method?: 'lm' | 'gradient';
  /**
   * Tune only the best `share` (0 < share <= 1) of a batch's candidates that have constants, ranked by
   * their loss before tuning (the scorers apply it to each batch as a whole: see scoreBatch in
   * src/sr/scoring.ts). Default 1: every candidate.
   */
  readonly share?: number;
  /** Model evaluations allowed (each LM trial step costs one). Default 10. */
  readonly iterations?: number;
  /** Also fit offset and slope of `offset + slope * tree` (linear scaling inside the optimiser). */
  readonly scaling?: boolean;
  /**
   * Fit on at most this many rows: every ceil(rows / maxRows)-th row from the first (see
   * {@link strideRows}); the loss is still measured on every row. Default: every row.
   */
  readonly maxRows?: number;
}

/** The stride that leaves at most `maxRows` of `rows` rows (1: every row). */
export function rowStride(rows: number, maxRows: number | undefined): number {
  return maxRows !== undefined && maxRows > 0 && rows > maxRows ? Math.ceil(rows / maxRows) : 1;
}

/** Rows 0, step, 2 step, ... of columns and target (copies; the inputs themselves when step is 1). */
export function strideRows(columns: readonly Float64Array[], y: Float64Array, step: number): { columns: Float64Array[]; y: Float64Array } {
  if (step <= 1) return { columns: [...columns], y };
  const pick = (c: Float64Array): Float64Array =>
    Float64Array.from({ length: Math.ceil(y.length / step) }, (_, i) => c[i * step] as number);
  return { columns: columns.map(pick), y: pick(y) };
}

/**
 * Result: tuned constants written into a copy of the tree, scaling, and the final sum of squared
 * errors on the rows fitted (every `rowStride`-th row with `maxRows`; a given backend's rows).
 */
export interface OptimiserResult {
  readonly tree: Tree;
  readonly offset: number;
  readonly slope: number;
  readonly sse: number;
  /** Model evaluations spent. */
  readonly evaluations: number;
}

/**
 * A point of the search: parameters, SSE, and (once asked for, see {@link Problem.jacobian}) J'J and
 * J'r there. A trial step that is rejected, or the last one the budget allows, never needs them.
 */
interface Point {
  readonly p: Float64Array;
  readonly sse: number;
  /**
   * J'J (m x m, full) and J'r; empty until computed, then one of the search's two places for them
   * (Workspace.JtJs, Workspace.Jtrs), valid while the point is the current one or the trial step.
   */
  JtJ: Float64Array;
  Jtr: Float64Array;
  /** J'J and J'r are computed and finite (usable for a step). */
  ok: boolean;
}

/**
 * Scratch arrays of a search with m parameters. A search runs to its end before the next one starts, so
 * all searches of one size (in one thread) share them; each array is written before it is read.
 */
interface Workspace {
  /** The last pass's Gram matrix and residual products (the backend's output). */
  readonly gram: Float64Array;
  readonly rhs: Float64Array;
  /**
   * Two places for a point's J'J and J'r: a search holds at most two points that have them (the current
   * one and a trial step), so a point's go where the point to keep has not put its own.
   */
  readonly JtJs: [Float64Array, Float64Array];
  readonly Jtrs: [Float64Array, Float64Array];
  /** Levenberg-Marquardt's damped matrix, its Cholesky factor and the step. */
  readonly A: Float64Array;
  readonly L: Float64Array;
  readonly step: Float64Array;
}
/**
 * Searches with at most this many parameters keep their workspace between searches (about 3.5 MB per
 * thread for all sizes up to it); a larger one gets its own, so that the cache stays bounded whatever
 * the size limit of the trees.
 */
const SHARED_WORKSPACE_MAX = 64;
const workspaces: Workspace[] = [];
function workspace(m: number): Workspace {
  const mm = (): Float64Array => new Float64Array(m * m);
  const v = (): Float64Array => new Float64Array(m);
  const make = (): Workspace => ({ gram: mm(), rhs: v(), JtJs: [mm(), mm()], Jtrs: [v(), v()], A: mm(), L: mm(), step: v() });
  return m <= SHARED_WORKSPACE_MAX ? (workspaces[m] ??= make()) : make();
}

class Problem {
  readonly consts: Int32Array;
  readonly m: number;
  readonly w: Workspace;
  /** The tree the passes evaluate: the original opcodes, the point's constants written in (one array, reused). */
  private readonly scratch: Tree;

  constructor(
    readonly t: Tree,
    readonly scaling: boolean,
    private readonly backend: LmBackend,
  ) {
    this.consts = constantIndices(t);
    this.m = this.consts.length + (scaling ? 2 : 0);
    this.w = workspace(this.m);
    this.scratch = { op: t.op, arg: new Float64Array(t.arg) };
  }

  /** Parameter vector layout: [constants..., offset, slope] (the last two only with scaling). */
  tree(p: Float64Array): Tree {
    const arg = new Float64Array(this.t.arg); // a copy by constructor: slice() looks up the species constructor
    for (let k = 0; k < this.consts.length; k++) arg[this.consts[k] as number] = p[k] as number;
    return treeOf(this.t.op, arg);
  }

  /** One pass at p: the SSE, and with `jacobian` the Gram matrix and residual products into gram and rhs. */
  private pass(p: Float64Array, jacobian: boolean): number {
    const k = this.consts.length;
    const arg = this.scratch.arg;
    for (let j = 0; j < k; j++) arg[this.consts[j] as number] = p[j] as number;
    const off = this.scaling ? (p[k] as number) : 0;
    const sl = this.scaling ? (p[k + 1] as number) : 1;
    const raw = this.backend.pass(this.scratch, this.consts, this.scaling, off, sl, jacobian, this.w.gram, this.w.rhs);
    return Number.isFinite(raw) ? raw : Infinity;
  }

  /**
   * The SSE at p; with `withJacobian` also J'J and J'r there, from the same pass (its forward sweep is
   * the pass without them, so the SSE is the same number). Otherwise they are computed when a step from
   * there is needed ({@link jacobian}), at the cost of a second forward sweep. `keep`: a point whose
   * J'J and J'r must stay as they are (the search's current point).
   */
  at(p: Float64Array, withJacobian = false, keep?: Point): Point {
    const pt: Point = { p, sse: this.pass(p, withJacobian), JtJ: NONE, Jtr: NONE, ok: false };
    if (withJacobian && pt.sse !== Infinity) this.fill(pt, keep);
    return pt;
  }

  /** Fills J'J and J'r of the residual's model at a point (J = d model / d p); false when not finite. */
  jacobian(pt: Point): boolean {
    if (pt.JtJ.length > 0 || pt.sse === Infinity) return pt.ok;
    this.pass(pt.p, true);
    return this.fill(pt);
  }

  /**
   * J'J and J'r at pt from the Gram matrix and residual products of the last pass (which was at pt.p,
   * with the reverse sweep), in the place that `keep`'s are not in.
   */
  private fill(pt: Point, keep?: Point): boolean {
    const k = this.consts.length;
    const m = this.m;
    const sl = this.scaling ? (pt.p[k + 1] as number) : 1;
    const { gram, rhs, JtJs, Jtrs } = this.w;
    const slot = keep !== undefined && keep.JtJ === JtJs[0] ? 1 : 0;
    const JtJ = JtJs[slot];
    const Jtr = Jtrs[slot];
    let ok = true;
    // a constant's column is slope * d tree / d constant; offset's and slope's are as the backend gives them
    for (let a = 0; a < m; a++) {
      const sa = a < k ? sl : 1;
      for (let b = 0; b <= a; b++) {
        const v = sa * (b < k ? sl : 1) * (gram[a * m + b] as number);
        JtJ[a * m + b] = v;
        JtJ[b * m + a] = v;
        if (!Number.isFinite(v)) ok = false;
      }
      Jtr[a] = sa * (rhs[a] as number);
      if (!Number.isFinite(Jtr[a] as number)) ok = false;
    }
    pt.JtJ = JtJ;
    pt.Jtr = Jtr;
    pt.ok = ok;
    return ok;
  }
}

/**
 * Solves the symmetric positive definite system A x = b by Cholesky; null when A is not positive definite.
 * `L` (m x m) is scratch space: the factor is written at and below its diagonal before it is read.
 * The solution goes to `x` (m), which also holds the forward substitution's result on the way.
 */
export function choleskySolve(
  A: Float64Array,
  b: ArrayLike<number>,
  m: number,
  L: Float64Array = new Float64Array(m * m),
  x: Float64Array = new Float64Array(m),
): Float64Array | null {
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
  // forward: z into x; backward in place (x[i] reads z[i] and the solution's x[k], k > i)
  for (let i = 0; i < m; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (L[i * m + k] as number) * (x[k] as number);
    x[i] = s / (L[i * m + i] as number);
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = x[i] as number;
    for (let k = i + 1; k < m; k++) s -= (L[k * m + i] as number) * (x[k] as number);
    x[i] = s / (L[i * m + i] as number);
  }
  return x;
}

function initialParams(pr: Problem, offset: number, slope: number): Float64Array {
  const k = pr.consts.length;
  const p = new Float64Array(pr.m);
  for (let j = 0; j < k; j++) p[j] = pr.t.arg[pr.consts[j] as number] as number;
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
 * the Jacobian from reverse-mode differentiation of the flat postfix program (the backend's pass:
 * {@link reverseAdjoints} in JavaScript, or the WebAssembly kernel, which accumulates J'J and J'r block
 * by block without storing J):
 *
 * ```
 * p <- initial constants (offset, slope from the closed-form linear scaling)
 * J'J, J'r at p; lambda <- 1e-3 * max diag(J'J) (with scaling, over the offset's and slope's entries only); nu <- 2
 * while evaluations < budget:
 *   solve (J'J + lambda diag(J'J)) d = J'r
 *   evaluate sse, J'J, J'r at p + d (one pass: forward and reverse)
 *   if sse(p + d) < sse(p): accept; lambda <- lambda * max(1/3, 1 - (2 rho - 1)^3); nu <- 2
 *   else lambda <- lambda * nu; nu <- 2 nu
 * ```
 * With scaling, the search does not depend on the target's units (up to rounding; exactly for a power of
 * 2, short of units so small that the constants' entries fall below D's floor of 1e-12): the offset's
 * diagonal entry is the number of rows and the slope's the tree's sum of squared outputs, while the
 * constants' entries carry the slope and grow with the square of the units. A start taken from them
 * damped a target in large units into almost no search. Without scaling the constants carry the units
 * themselves, and the start, over all entries, depends on them.
 * Never returns a worse fit than the initial one on the rows it fits (with `maxRows`, or a backend
 * over a subsample, the fit on the other rows can be worse). `gradient` is steepest descent with a
 * backtracking step, kept as the simpler baseline the benchmark compares against.
 */
export function optimiseConstants(
  t: Tree,
  columns: readonly Float64Array[],
  y: Float64Array,
  init: { offset: number; slope: number } = { offset: 0, slope: 1 },
  s: OptimiserSettings = {},
  backend: LmBackend = ((sub) => jsBackend(sub.columns, sub.y))(strideRows(columns, y, rowStride(y.length, s.maxRows))),
): OptimiserResult {
  const pr = new Problem(t, s.scaling ?? false, backend);
  const budget = s.iterations ?? 10;
  const search = pr.consts.length > 0 && budget > 1;
  // a search's first step needs J'J and J'r at the start: one pass gives them with the SSE
  const start = pr.at(initialParams(pr, init.offset, init.slope), search);
  const { point, evaluations } =
    !search || !pr.jacobian(start)
      ? { point: start, evaluations: 1 }
      : (s.method === 'gradient' ? gradientDescent : levenbergMarquardt)(pr, start, budget);
  const k = pr.consts.length;
  return {
    tree: pr.tree(point.p),
    offset: pr.scaling ? (point.p[k] as number) : 0,
    slope: pr.scaling ? (point.p[k + 1] as number) : 1,
    sse: point.sse,
    evaluations,
  };
}

/** A point's J'J and J'r before they are computed. */
const NONE = new Float64Array(0);

function allFinite(v: Float64Array): boolean {
  for (let j = 0; j < v.length; j++) if (!Number.isFinite(v[j] as number)) return false;
  return true;
}

/** Where a search ended and the model evaluations it spent (the starting point counts as one). */
interface SearchEnd {
  readonly point: Point;
  readonly evaluations: number;
}

/** Levenberg-Marquardt from `cur` within `budget` model evaluations (see {@link optimiseConstants}). */
function levenbergMarquardt(pr: Problem, start: Point, budget: number): SearchEnd {
  const m = pr.m;
  let cur = start;
  let evaluations = 1;
  // with scaling, from the offset's and slope's entries alone: unit-free (see optimiseConstants)
  let maxDiag = 0;
  for (let a = pr.scaling ? m - 2 : 0; a < m; a++) maxDiag = Math.max(maxDiag, cur.JtJ[a * m + a] as number);
  let lambda = 1e-3 * (maxDiag > 0 ? maxDiag : 1);
  let nu = 2;
  const { A, L, step } = pr.w;
  while (evaluations < budget) {
    const { JtJ, Jtr } = cur;
    A.set(JtJ);
    for (let a = 0; a < m; a++) A[a * m + a] = (A[a * m + a] as number) + lambda * Math.max(JtJ[a * m + a] as number, 1e-12);
    const d = choleskySolve(A, Jtr, m, L, step);
    if (!d || !allFinite(d)) {
      lambda *= nu;
      nu *= 2;
      if (!Number.isFinite(lambda)) break;
      continue;
    }
    // J'J and J'r with the trial's SSE unless it is the budget's last evaluation: an accepted step (most
    // are) needs them for the next, so computing them in the same pass saves a forward sweep, at the cost
    // of a reverse sweep wasted on a rejected one; the search itself is the same
    const p = new Float64Array(m);
    for (let j = 0; j < m; j++) p[j] = (cur.p[j] as number) + (d[j] as number);
    const next = pr.at(p, evaluations + 1 < budget, cur);
    evaluations++;
    // predicted reduction of the linearised model, for the gain ratio rho
    let pred = 0;
    for (let a = 0; a < m; a++)
      pred += (d[a] as number) * (lambda * Math.max(JtJ[a * m + a] as number, 1e-12) * (d[a] as number) + (Jtr[a] as number));
    if (next.sse < cur.sse) {
      const rho = pred > 0 ? (cur.sse - next.sse) / pred : 1;
      const improvement = cur.sse - next.sse;
      cur = next;
      lambda *= Math.max(1 / 3, 1 - Math.pow(2 * rho - 1, 3));
      nu = 2;
      // the next step needs J'J and J'r here, unless the budget is spent
      if (improvement <= 1e-12 * cur.sse || evaluations >= budget || !pr.jacobian(cur)) break;
    } else {
      lambda *= nu;
      nu *= 2;
      if (!Number.isFinite(lambda)) break;
    }
  }
  return { point: cur, evaluations };
}

/** Steepest descent with a backtracking step, the simpler baseline (see {@link optimiseConstants}). */
function gradientDescent(pr: Problem, start: Point, budget: number): SearchEnd {
  const m = pr.m;
  let cur = start;
  let evaluations = 1;
  let step = 1;
  while (evaluations < budget && pr.jacobian(cur)) {
    const g = cur.Jtr;
    let gg = 0;
    for (let j = 0; j < m; j++) gg += (g[j] as number) * (g[j] as number);
    if (!(gg > 0) || !Number.isFinite(gg)) break;
    let accepted = false;
    while (evaluations < budget) {
      const norm = Math.sqrt(gg);
      const next = pr.at(cur.p.map((v, j) => v + (step * (g[j] as number)) / norm));
      evaluations++;
      if (next.sse < cur.sse) {
        cur = next;
        step *= 2;
        accepted = true;
        break;
      }
      step /= 4;
    }
    if (!accepted) break;
  }
  return { point: cur, evaluations };
}
