import type { Evaluation, EvaluationRequest, Evaluator } from '../core/types.js';
import type { Dataset } from '../eval/dataset.js';
import { encodedFrom } from '../eval/encode.js';
import type { TaskHandler, TreeRangeTask, WorkerContext } from '../eval/protocol.js';
import { WasmEngine } from '../eval/wasm-engine.js';
import { linearScaling, type FitnessKind } from '../eval/loss.js';
import { rmse } from '../eval/reference.js';
import { Op } from '../tree/primitives.js';
import type { Tree } from '../tree/tree.js';
import { isRobust, type RobustBounds } from './interval.js';
import { forwardColumns, optimiseConstants, rowStride, strideRows, type LmBackend, type OptimiserSettings } from './optimise.js';

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

/** The data a score needs (a Dataset, or its columns as they arrive in a worker). */
export interface ScoreData {
  readonly columns: readonly Float64Array[];
  readonly y: Float64Array;
  readonly rows: number;
  /**
   * Outputs of a tree on every row, bit-identical to evaluateTree: the fast kernel (WasmEngine) where
   * one is at hand; default: the optimiser's forward pass.
   */
  readonly outputs?: (t: Tree) => Float64Array;
  /**
   * Where the constant optimiser's passes run, on every `step`-th row (strideRows): the fast kernel
   * where one is at hand; default: JavaScript.
   */
  readonly lm?: (step: number) => LmBackend;
}

/** Score data on a fast-evaluation core: outputs and optimiser passes run in its WebAssembly kernel. */
export function coreScoreData(core: WasmEngine, columns: readonly Float64Array[], y: Float64Array): ScoreData {
  // one kernel per row stride (the optimiser's row cap), built on first use
  const backends = new Map<number, LmBackend>();
  return {
    columns,
    y,
    rows: y.length,
    outputs: (t) => core.treeOutputs(t),
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

/** A scored candidate: its loss, the tree with tuned constants, and the linear scaling of its output. */
export interface Scored {
  readonly loss: number;
  readonly tree: Tree;
  readonly offset: number;
  readonly slope: number;
}

/**
 * Scores one tree (a pure function: safe in a worker). With optimisation, the constants are tuned
 * first (offset and slope included when scaling), then the loss is measured on every row at the tuned
 * constants with the closed-form optimal scaling. Fitted on every row it is never worse than without
 * optimisation; fitted on a strided subsample (`maxRows`) it can be, on the other rows, and the loss
 * says so: the tuned tree is what is scored (and, Lamarckian, written back).
 */
export function scoreCandidate(t: Tree, d: ScoreData, s: ScoreSettings): Scored {
  const scaling = s.fitness === 'scaled-rmse';
  let tree = t;
  // the root column of the forward pass: the same values as evaluateTree, with fewer allocations
  const outputs = d.outputs ?? ((x: Tree): Float64Array => forwardColumns(x, d.columns, d.rows)[x.op.length - 1] as Float64Array);
  let pred = outputs(tree);
  let { offset, slope } = scaling ? linearScaling(pred, d.y) : { offset: 0, slope: 1 };
  if (s.optimiser && (s.optimiser.iterations ?? 10) > 1 && hasConstants(t) && Number.isFinite(offset) && Number.isFinite(slope)) {
    // without a kernel, optimiseConstants runs the JavaScript passes on the same strided rows
    const backend = d.lm?.(rowStride(d.rows, s.optimiser.maxRows));
    const r = optimiseConstants(t, d.columns, d.y, { offset, slope }, { ...s.optimiser, scaling }, backend);
    if (r.tree !== t) {
      tree = r.tree;
      pred = outputs(tree);
      ({ offset, slope } = scaling ? linearScaling(pred, d.y) : { offset: 0, slope: 1 });
    }
  }
  let loss: number;
  if (!Number.isFinite(offset) || !Number.isFinite(slope)) loss = Infinity;
  else if (!scaling) loss = rmse(pred, d.y);
  else {
    let sse = 0;
    for (let r = 0; r < d.rows; r++) {
      const e = offset + slope * (pred[r] as number) - (d.y[r] as number);
      sse += e * e;
    }
    loss = Math.sqrt(sse / d.rows);
  }
  if (!Number.isFinite(loss)) loss = Infinity;
  if (s.robust && loss !== Infinity && !isRobust(tree, s.robust, offset, slope)) loss = Infinity;
  return { loss, tree, offset, slope };
}

/**
 * {@link scoreCandidate} with the per-case losses of the scored model: cases[r] = (offset + slope *
 * output[r] - y[r])^2 (offset 0 and slope 1 without scaling), non-finite as +Infinity, and +Infinity
 * on every row when the loss is. The model's outputs are taken from scoreCandidate's last call of
 * `d.outputs` when that was the scored tree on every row, else computed once more (same bits).
 */
export function scoreCandidateCases(t: Tree, d: ScoreData, s: ScoreSettings): Scored & { readonly cases: Float64Array } {
  const outputs = d.outputs ?? ((x: Tree): Float64Array => forwardColumns(x, d.columns, d.rows)[x.op.length - 1] as Float64Array);
  let last: { tree: Tree; pred: Float64Array } | undefined;
  const capture = (x: Tree): Float64Array => {
    const pred = outputs(x);
    last = { tree: x, pred };
    return pred;
  };
  const sc = scoreCandidate(t, { ...d, outputs: capture }, s);
  const cases = new Float64Array(d.rows);
  if (sc.loss === Infinity) return { ...sc, cases: cases.fill(Infinity) };
  const pred = last && last.tree === sc.tree && last.pred.length === d.rows ? last.pred : outputs(sc.tree);
  const scaling = s.fitness === 'scaled-rmse';
  for (let r = 0; r < d.rows; r++) {
    const e = (scaling ? sc.offset + sc.slope * (pred[r] as number) : (pred[r] as number)) - (d.y[r] as number);
    const sq = e * e;
    cases[r] = Number.isFinite(sq) ? sq : Infinity;
  }
  return { ...sc, cases };
}

/**
 * Regression scores of trees [from, to) (scoreCandidate: scaled fitness, constant optimisation,
 * robustness check), a task of the worker pool: out[t] = loss; the constants of the scored tree (tuned
 * when optimising) are written into outArg at the tree's own node offsets (the structure never changes).
 * With `outCases` (settings.cases) tree t's per-case losses go to outCases[t * rows, (t + 1) * rows).
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
    scoreRange(encodedFrom(t.trees), t.from, t.to, d, t.settings, t.out, t.outArg, t.outCases);
  }) satisfies TaskHandler<ScoreTask>,
};

/**
 * Scores trees [from, to) of a flat batch (the worker pool's `score` task): out[t] = loss, and the
 * scored tree's constants (tuned when optimising) into outArg at the tree's offsets; with `outCases`
 * tree t's per-case losses go to outCases[t * rows, (t + 1) * rows).
 */
export function scoreRange(
  e: { op: Uint8Array; arg: Float64Array; offsets: Int32Array },
  from: number,
  to: number,
  d: ScoreData,
  s: ScoreSettings,
  out: Float64Array,
  outArg: Float64Array,
  outCases?: Float64Array,
): void {
  for (let t = from; t < to; t++) {
    const a = e.offsets[t] as number;
    const b = e.offsets[t + 1] as number;
    const tree = { op: e.op.subarray(a, b), arg: e.arg.subarray(a, b) };
    const r: Scored & { cases?: Float64Array } = outCases ? scoreCandidateCases(tree, d, s) : scoreCandidate(tree, d, s);
    out[t] = r.loss;
    outArg.set(r.tree.arg, a);
    if (r.cases) outCases?.set(r.cases, t * d.rows);
  }
}

function hasConstants(t: Tree): boolean {
  for (let i = 0; i < t.op.length; i++) if (t.op[i] === Op.Const) return true;
  return false;
}

/** True when the settings ask only for plain RMSE, which the WebAssembly evaluator computes directly. */
export function isPlainRmse(s: ScoreSettings): boolean {
  return s.fitness === 'rmse' && !s.optimiser && !s.robust && !s.cases;
}

/**
 * The regression layer's in-process evaluator: {@link scoreCandidate} on every genome. Implements
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

  async evaluateDetailed(trees: readonly Tree[], request?: EvaluationRequest): Promise<Evaluation<Tree> & { losses: Float64Array }> {
    if (this.settings.cases || request?.cases) return this.withCases(trees);
    const losses = new Float64Array(trees.length);
    const genomes: (Tree | undefined)[] = new Array(trees.length);
    trees.forEach((t, i) => {
      const r = scoreCandidate(t, this.data, this.settings);
      losses[i] = r.loss;
      if (this.settings.lamarckian && r.tree !== t) genomes[i] = r.tree;
    });
    return this.settings.lamarckian ? { losses, genomes } : { losses };
  }

  private withCases(trees: readonly Tree[]): Evaluation<Tree> & { losses: Float64Array } {
    const losses = new Float64Array(trees.length);
    const genomes: (Tree | undefined)[] = new Array(trees.length);
    const cases = trees.map((t, i) => {
      const r = scoreCandidateCases(t, this.data, this.settings);
      losses[i] = r.loss;
      if (this.settings.lamarckian && r.tree !== t) genomes[i] = r.tree;
      return r.cases;
    });
    return this.settings.lamarckian ? { losses, genomes, cases } : { losses, cases };
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
