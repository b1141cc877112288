import type { Evaluation, EvaluationRequest, Evaluator } from '../core/types.js';
import type { Dataset } from '../eval/dataset.js';
import { dedupe, encodedFrom, encodeTrees, expand, type EncodedTrees } from '../eval/encode.js';
import type { TaskHandler, TreeRangeTask, WorkerContext } from '../eval/protocol.js';
import { WasmEngine } from '../eval/wasm-engine.js';
import type { FitnessKind } from '../eval/loss.js';
import { Op } from '../tree/primitives.js';
import { treeOf, type Tree } from '../tree/tree.js';
import { isRobust, type RobustBounds } from './interval.js';
import { constantsOf, optimiseConstants, rowStride, strideRows, type LmBackend, type OptimiserSettings } from './optimise.js';

/**
 * How a regression candidate is scored: the error measure (`rmse` or `scaled-rmse`, Keijzer 2003),
 * optional local optimisation of its constants, Lamarckian write-back, and the robustness check.
 * Plain data: it travels to worker threads as is.
 */
export interface ScoreSettings {
  readonly fitness: FitnessKind;
  /** Constant optimisation; absent or `iterations` <= 1 = off. */
  readonly optimiser?: OptimiserSettings;
  /** Write the tuned constants back into the genome (Lamarckian) instead of only scoring with them (Baldwinian). */
  readonly lamarckian?: boolean;
  /** When set, a candidate whose scaled output leaves `robust.out` somewhere in `robust.box` scores +Infinity. */
  readonly robust?: RobustBounds;
  /**
   * Also return per-case losses (for lexicase and pareto parent selection): each row's squared
   * residual of the scored model (after linear scaling when it is on; +Infinity on every row when
   * the loss is +Infinity). Off the plain-RMSE fast path.
   */
  readonly cases?: boolean;
}

/** The data a score needs: the rows, and the kernel that holds them (in this thread or a worker). */
export interface ScoreData {
  readonly columns: readonly Float64Array[];
  readonly y: Float64Array;
  readonly rows: number;
  /** The WebAssembly kernel on these rows: scores, scaling and outputs, a batch per call. */
  readonly engine: WasmEngine;
  /** Where the constant optimiser's passes run, on every `step`-th row (strideRows): the kernel (default) or JavaScript. */
  readonly lm: (step: number) => LmBackend;
}

/** Score data on a kernel: scores and optimiser passes run in its WebAssembly code. */
export function coreScoreData(core: WasmEngine, columns: readonly Float64Array[], y: Float64Array): ScoreData {
  // one kernel per row stride (the optimiser's row cap), built on first use
  const backends = new Map<number, LmBackend>();
  return {
    columns,
    y,
    rows: y.length,
    engine: core,
    lm: (step) => {
      let b = backends.get(step);
      if (!b) {
        const sub = strideRows(columns, y, step);
        const c = step <= 1 ? core : new WasmEngine(sub.columns, sub.y);
        b = { pass: c.lmPass.bind(c) };
        backends.set(step, b);
      }
      return b;
    },
  };
}

/** The kernel holding a data set's rows (built once per data set object): outputs bit-identical to evaluateTree. */
export function engineOf(d: Dataset): WasmEngine {
  return scoreDataOf(d).engine;
}

/** Score data of a data set, built once per data set object (a kernel instance holds its rows). */
const dataOfDataset = new WeakMap<Dataset, ScoreData>();
function scoreDataOf(d: Dataset | ScoreData): ScoreData {
  if ('engine' in d) return d;
  let sd = dataOfDataset.get(d);
  if (!sd) dataOfDataset.set(d, (sd = coreScoreData(new WasmEngine(d.columns, d.y), d.columns, d.y)));
  return sd;
}

/** A scored candidate: its loss, the tree with tuned constants, and the linear scaling of its output. */
export interface Scored {
  readonly loss: number;
  readonly tree: Tree;
  readonly offset: number;
  readonly slope: number;
}

/**
 * Scores one tree (see {@link scoreRange}, which scores a batch the same way). With optimisation, the
 * constants are tuned first (offset and slope included when scaling), then the loss is measured on
 * every row at the tuned constants with the closed-form optimal scaling. Fitted on every row it is
 * never worse than without optimisation; fitted on a strided subsample (`maxRows`) it can be, on the
 * other rows, and the loss says so: the tuned tree is what is scored (and, Lamarckian, written back).
 */
export function scoreCandidate(t: Tree, data: Dataset | ScoreData, s: ScoreSettings): Scored {
  const e = encodeTrees([t]);
  const out = new Float64Array(1);
  const outArg = new Float64Array(t.arg.length);
  const lin = new Float64Array(2);
  scoreRange(e, 0, 1, scoreDataOf(data), s, out, outArg, lin);
  const tree = sameBits(outArg, t.arg) ? t : treeOf(t.op, outArg);
  return { loss: out[0] as number, tree, offset: lin[0] as number, slope: lin[1] as number };
}

/**
 * {@link scoreCandidate} with the per-case losses of the scored model: cases[r] = (offset + slope *
 * output[r] - y[r])^2 (offset 0 and slope 1 without scaling), non-finite as +Infinity, and +Infinity
 * on every row when the loss is.
 */
export function scoreCandidateCases(t: Tree, data: Dataset | ScoreData, s: ScoreSettings): Scored & { readonly cases: Float64Array } {
  const d = scoreDataOf(data);
  const out = new Float64Array(1);
  const outArg = new Float64Array(t.arg.length);
  const lin = new Float64Array(2);
  const cases = new Float64Array(d.rows);
  scoreRange(encodeTrees([t]), 0, 1, d, s, out, outArg, lin, cases);
  const tree = sameBits(outArg, t.arg) ? t : treeOf(t.op, outArg);
  return { loss: out[0] as number, tree, offset: lin[0] as number, slope: lin[1] as number, cases };
}

/**
 * Regression scores of trees [from, to) (scaled fitness, constant optimisation, robustness check), a
 * task of the worker pool: out[t] = loss; the constants of the scored tree (tuned when optimising) are
 * written into outArg at the tree's own node offsets (the structure never changes). With `outCases`
 * (settings.cases) tree t's per-case losses go to outCases[t * rows, (t + 1) * rows).
 */
export interface ScoreTask extends TreeRangeTask {
  readonly kind: 'score';
  readonly settings: ScoreSettings;
  readonly outArg: Float64Array;
  readonly outCases?: Float64Array;
}

/** Each worker's score data, built on its first score task (the kernel it already holds, the shared rows). */
const workerScoreData = new WeakMap<WorkerContext, ScoreData>();

/** The regression layer's task handlers for the pool's workers (workers/eval-worker.ts). */
export const SCORE_HANDLERS = {
  score: ((ctx, t) => {
    let d = workerScoreData.get(ctx);
    if (!d) workerScoreData.set(ctx, (d = coreScoreData(ctx.engine, ctx.columns, ctx.y)));
    scoreRange(encodedFrom(t.trees), t.from, t.to, d, t.settings, t.out, t.outArg, undefined, t.outCases);
  }) satisfies TaskHandler<ScoreTask>,
};

/**
 * Scores trees [from, to) of a flat batch (in-process, and the worker pool's `score` task): out[t] =
 * loss, the scored tree's constants (tuned when optimising) into outArg at the tree's offsets, with
 * `lin` its offset and slope at lin[2 (t - from)], lin[2 (t - from) + 1], and with `outCases` its
 * per-case losses (see {@link scoreCandidateCases}) at outCases[t * rows, (t + 1) * rows).
 *
 * ```
 * loss, offset, slope <- kernel scores of the batch (one call: outputs, closed-form scaling, RMSE)
 * with constant optimisation: for each tree with constants and a finite scaling:
 *   tune its constants (LM, from that offset and slope); where they changed, score it again
 *   (one kernel call for all re-scored trees)
 * with the robustness check: loss <- +Infinity where offset + slope * tree leaves the bounds
 * with per-case losses: the scored models' outputs (one kernel call), their squared residuals
 * ```
 * Each tree's score is a pure function of the tree, the rows and the settings, whatever batch or
 * thread computes it.
 */
export function scoreRange(
  e: EncodedTrees,
  from: number,
  to: number,
  d: ScoreData,
  s: ScoreSettings,
  out: Float64Array,
  outArg: Float64Array,
  lin?: Float64Array,
  outCases?: Float64Array,
): void {
  const scaling = s.fitness === 'scaled-rmse';
  const sc = kernelScores(d.engine, e, from, to, scaling);
  const tuned = tuneConstants(e, from, to, d, s, sc, outArg);
  if (tuned.trees.length > 0)
    rescored(sc, from, tuned.at, kernelScores(d.engine, encodeTrees(tuned.trees), 0, tuned.trees.length, scaling));
  finalLosses(e, from, to, s, sc, outArg, out, lin);
  if (outCases) {
    const rows = d.rows;
    // the scored models' outputs, straight into their rows of outCases, then their squared residuals
    d.engine.outputs(
      { count: e.count, op: e.op, arg: outArg, offsets: e.offsets },
      from,
      to,
      0,
      rows,
      outCases.subarray(from * rows, to * rows),
    );
    for (let t = from; t < to; t++) {
      const k = 3 * (t - from);
      const cases = outCases.subarray(t * rows, (t + 1) * rows);
      if (out[t] === Infinity) {
        cases.fill(Infinity);
        continue;
      }
      const offset = sc[k + 1] as number;
      const slope = sc[k + 2] as number;
      for (let r = 0; r < rows; r++) {
        const p = cases[r] as number;
        const res = (scaling ? offset + slope * p : p) - (d.y[r] as number);
        const sq = res * res;
        cases[r] = Number.isFinite(sq) ? sq : Infinity;
      }
    }
  }
}

/**
 * Constant optimisation of trees [from, to) of `e` (when the settings ask for it): each tree with
 * constants and a finite scaling (sc: loss, offset, slope at 3 (t - from)) is tuned from that offset
 * and slope; every tree's scored constants go to outArg at its offsets. Returns the trees whose
 * constants changed, to be scored again, and their indices.
 */
export function tuneConstants(
  e: EncodedTrees,
  from: number,
  to: number,
  d: ScoreData,
  s: ScoreSettings,
  sc: Float64Array,
  outArg: Float64Array,
): { trees: Tree[]; at: number[] } {
  const off = e.offsets;
  outArg.set(e.arg.subarray(off[from] as number, off[to] as number), off[from] as number);
  const trees: Tree[] = [];
  const at: number[] = [];
  const opt = tuning(s);
  if (!opt) return { trees, at };
  const settings = { ...opt, scaling: s.fitness === 'scaled-rmse' };
  let backend: LmBackend | undefined; // built when the first tree with constants needs it
  for (let t = from; t < to; t++) {
    const k = 3 * (t - from);
    const offset = sc[k + 1] as number;
    const slope = sc[k + 2] as number;
    const tree = encodedTree(e, t);
    if (!hasConstants(tree) || !Number.isFinite(offset) || !Number.isFinite(slope)) continue;
    backend ??= d.lm(rowStride(d.rows, opt.maxRows));
    const r = optimiseConstants(tree, d.columns, d.y, { offset, slope }, settings, backend);
    outArg.set(r.tree.arg, off[t] as number);
    if (!sameBits(r.tree.arg, tree.arg)) {
      trees.push(r.tree);
      at.push(t);
    }
  }
  return { trees, at };
}

/** The optimiser settings when constants are tuned (more than one evaluation per candidate), else undefined. */
function tuning(s: ScoreSettings): ScoreSettings['optimiser'] {
  return s.optimiser && (s.optimiser.iterations ?? 10) > 1 ? s.optimiser : undefined;
}

/** Puts the scores of re-scored trees (3 per tree, in `at`'s order) into sc (3 per tree from `from`). */
export function rescored(sc: Float64Array, from: number, at: readonly number[], again: Float64Array): void {
  at.forEach((t, i) => sc.set(again.subarray(3 * i, 3 * i + 3), 3 * (t - from)));
}

/**
 * The losses of trees [from, to) into out[t]: their scores (sc), +Infinity where the robustness check
 * rejects offset + slope * tree (with the scored constants, outArg); with `lin` the offsets and slopes.
 */
export function finalLosses(
  e: EncodedTrees,
  from: number,
  to: number,
  s: ScoreSettings,
  sc: Float64Array,
  outArg: Float64Array,
  out: Float64Array,
  lin?: Float64Array,
): void {
  const off = e.offsets;
  for (let t = from; t < to; t++) {
    const k = 3 * (t - from);
    let loss = sc[k] as number;
    const offset = sc[k + 1] as number;
    const slope = sc[k + 2] as number;
    if (s.robust && loss !== Infinity) {
      const a = off[t] as number;
      const b = off[t + 1] as number;
      if (!isRobust({ op: e.op.subarray(a, b), arg: outArg.subarray(a, b) }, s.robust, offset, slope)) loss = Infinity;
    }
    out[t] = loss;
    if (lin) {
      lin[2 * (t - from)] = offset;
      lin[2 * (t - from) + 1] = slope;
    }
  }
}

/**
 * Loss, offset and slope of trees [from, to) at 3 (t - from): the RMSE after the optimal linear scaling
 * with `scaling` (one kernel call), else the RMSE with offset 0 and slope 1; +Infinity when not finite.
 */
function kernelScores(engine: WasmEngine, e: EncodedTrees, from: number, to: number, scaling: boolean): Float64Array {
  const sc = new Float64Array(3 * (to - from));
  if (scaling) {
    engine.scaled(e, from, to, sc);
    return sc;
  }
  const loss = new Float64Array(e.count);
  engine.fitness(e, from, to, 'rmse', loss);
  for (let t = from; t < to; t++) {
    sc[3 * (t - from)] = loss[t] as number;
    sc[3 * (t - from) + 2] = 1;
  }
  return sc;
}

function encodedTree(e: EncodedTrees, t: number): Tree {
  const a = e.offsets[t] as number;
  const n = (e.offsets[t + 1] as number) - a;
  // views by constructor: subarray() looks up the species constructor on every call
  return { op: new Uint8Array(e.op.buffer, e.op.byteOffset + a, n), arg: new Float64Array(e.arg.buffer, e.arg.byteOffset + 8 * a, n) };
}

/** Same values bit for bit (0 and -0 differ), as the Lamarckian write-back compares them. */
function sameBits(a: Float64Array, b: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

const hasConstants = (t: Tree): boolean => constantsOf(t) > 0;

/** True when the settings ask only for plain RMSE, which the WebAssembly evaluator computes directly. */
export function isPlainRmse(s: ScoreSettings): boolean {
  return s.fitness === 'rmse' && !s.optimiser && !s.robust && !s.cases;
}

/**
 * Scores a batch as every regression scorer does: each distinct tree once (copies share a score),
 * encoded flat (in shared memory with `shared`, for worker threads); `run` fills the losses and the
 * scored trees' constants (scoreRange), and with `rows` (per-case losses asked for) their per-case
 * losses; with `lamarckian`, a tuned tree replaces each genome whose constants changed.
 */
export async function scoreBatch(
  trees: readonly Tree[],
  settings: ScoreSettings,
  run: (
    enc: EncodedTrees,
    settings: ScoreSettings,
    out: Float64Array,
    outArg: Float64Array,
    outCases: Float64Array | undefined,
  ) => void | Promise<void>,
  shared: boolean,
  rows?: number,
): Promise<Evaluation<Tree> & { losses: Float64Array }> {
  const { unique, index } = dedupe(trees);
  const enc = encodeTrees(unique, shared);
  const buf = (n: number): Float64Array => new Float64Array(shared ? new SharedArrayBuffer(Math.max(n, 1) * 8) : new ArrayBuffer(n * 8));
  const out = buf(unique.length);
  const outArg = buf(enc.arg.length);
  const outCases = rows !== undefined ? buf(unique.length * rows) : undefined;
  const share = settings.optimiser?.share ?? 1;
  if (unique.length > 0 && share < 1) {
    // every tree scored untuned; then the best share of those with constants tuned and scored again,
    // chosen on the whole batch (so the choice is the same whatever the thread count)
    const { optimiser: _tuning, ...untuned } = settings;
    await run(enc, untuned, out, outArg, outCases);
    const chosen = bestShare(unique, out, share);
    if (chosen.length > 0) {
      const sub = encodeTrees(
        chosen.map((u) => unique[u] as Tree),
        shared,
      );
      const subOut = buf(chosen.length);
      const subArg = buf(sub.arg.length);
      const subCases = rows !== undefined ? buf(chosen.length * rows) : undefined;
      await run(sub, settings, subOut, subArg, subCases);
      chosen.forEach((u, i) => {
        out[u] = subOut[i] as number;
        const a = sub.offsets[i] as number;
        outArg.set(subArg.subarray(a, sub.offsets[i + 1] as number), enc.offsets[u] as number);
        if (outCases && subCases && rows !== undefined) outCases.set(subCases.subarray(i * rows, (i + 1) * rows), u * rows);
      });
    }
  } else if (unique.length > 0) await run(enc, settings, out, outArg, outCases);
  const losses = expand(out, index);
  const cases = outCases && rows !== undefined ? { cases: Array.from(index, (u) => outCases.subarray(u * rows, (u + 1) * rows)) } : {};
  // untuned constants are scored as they are: nothing to write back
  if (!settings.lamarckian || !tuning(settings)) return { losses, ...cases };
  const tuned = unique.map((t, u) => {
    const a = enc.offsets[u] as number;
    const arg = outArg.subarray(a, a + t.op.length);
    return sameBits(arg, t.arg) ? undefined : treeOf(t.op, arg.slice());
  });
  return { losses, genomes: Array.from(index, (u) => tuned[u]), ...cases };
}

/** The best `share` of the trees that have constants and a finite loss (lowest loss, then earliest), in batch order. */
function bestShare(trees: readonly Tree[], loss: Float64Array, share: number): number[] {
  const eligible: number[] = [];
  trees.forEach((t, u) => {
    if (hasConstants(t) && Number.isFinite(loss[u] as number)) eligible.push(u);
  });
  const k = Math.ceil(share * eligible.length);
  return eligible
    .sort((u, v) => (loss[u] as number) - (loss[v] as number) || u - v)
    .slice(0, k)
    .sort((u, v) => u - v);
}

/**
 * The regression layer's in-process evaluator: {@link scoreRange} on every distinct genome. Implements
 * `evaluateDetailed` so that, with `lamarckian`, the engine writes the tuned trees back, and so that
 * it can return per-case losses (settings.cases, or when the engine asks).
 */
export class ScoringEvaluator implements Evaluator<Tree> {
  private readonly data: ScoreData;

  constructor(
    data: Dataset,
    private readonly settings: ScoreSettings,
  ) {
    this.data = coreScoreData(new WasmEngine(data.columns, data.y), data.columns, data.y);
  }

  async evaluate(trees: readonly Tree[]): Promise<Float64Array> {
    return (await this.evaluateDetailed(trees)).losses;
  }

  evaluateDetailed(trees: readonly Tree[], request?: EvaluationRequest): Promise<Evaluation<Tree> & { losses: Float64Array }> {
    const withCases = this.settings.cases === true || request?.cases === true;
    return scoreBatch(
      trees,
      this.settings,
      (enc, settings, out, outArg, outCases) => scoreRange(enc, 0, enc.count, this.data, settings, out, outArg, undefined, outCases),
      false,
      withCases ? this.data.rows : undefined,
    );
  }
}

/**
 * The model a scored tree stands for, as one tree: `offset + slope * tree` with scaling (the
 * reported model includes scale and offset), else the tree itself.
 */
export function scaledTree(sc: Scored, scaling: boolean): Tree {
  if (!scaling) return sc.tree;
  const n = sc.tree.op.length;
  const op = new Uint8Array(n + 4);
  const arg = new Float64Array(n + 4);
  op.set(sc.tree.op);
  arg.set(sc.tree.arg);
  op[n] = Op.Const;
  arg[n] = sc.slope;
  op[n + 1] = Op.Mul;
  op[n + 2] = Op.Const;
  arg[n + 2] = sc.offset;
  op[n + 3] = Op.Add;
  return { op, arg };
}

/**
 * The final polish of a reported model (its scaling terms included, so every constant is a parameter):
 * its constants tuned by Levenberg-Marquardt on every training row, within `iterations` model
 * evaluations. The search tunes each candidate briefly on a sample of rows; the few models of the front
 * can afford a full fit. Returns the tuned tree and its training RMSE when it fits better (and, given
 * `robust`, passes the robustness check), else the tree as it was and its RMSE.
 */
export function polishTree(tree: Tree, d: Dataset, iterations: number, robust?: RobustBounds): { tree: Tree; rmse: number } {
  const backend = scoreDataOf(d).lm(1);
  const before = Math.sqrt(backend.pass(tree, new Int32Array(0), false, 0, 1, false, new Float64Array(0), new Float64Array(0)) / d.rows);
  if (iterations <= 1 || !hasConstants(tree) || !Number.isFinite(before)) return { tree, rmse: before };
  const r = optimiseConstants(tree, d.columns, d.y, { offset: 0, slope: 1 }, { iterations }, backend);
  const after = Math.sqrt(r.sse / d.rows);
  const better = after < before && (!robust || isRobust(r.tree, robust));
  return better ? { tree: r.tree, rmse: after } : { tree, rmse: before };
}
