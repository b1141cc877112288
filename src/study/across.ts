import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { resolveTask } from '../../problems/index.js';
import { Rng } from '../core/rng.js';
import { roundVector } from '../diversity/index.js';
import type { Dataset } from '../eval/dataset.js';
import { evaluateTree } from '../eval/reference.js';
import { quantile } from '../stats/index.js';
import { topDownDistance } from '../tree/distance.js';
import { clampedParts, clampRows } from '../sr/model.js';
import { parseInfix } from '../tree/parse.js';
import type { Tree } from '../tree/tree.js';
import { filesDigest } from './grid.js';
import type { StudyProblem, StudySpec } from './schema.js';

/*
 * Diversity across runs: how different are the solutions that the seeds of one configuration find?
 * The papers on PIMP speak of "a more diverse set of solutions"; the per-generation measures look
 * inside one population, these look across the best solutions of a cell's seeds.
 */

/** A value with its bootstrap 95% percentile interval. */
export interface Interval {
  readonly value: number;
  readonly lo: number;
  readonly hi: number;
}

/** Diversity of one cell's best solutions (one per finished seed). NaN where it does not apply. */
export interface AcrossMeasures {
  /** Best solutions measured (finished runs with a readable expression; the first {@link MAX_ACROSS_SOLUTIONS} by seed). */
  readonly runs: number;
  /** Distinct output vectors among them (values rounded to 6 decimals on the common inputs). */
  readonly behaviours: number;
  /** Mean top-down tree edit distance over the pairs of best solutions. */
  readonly distance: Interval;
  /** The same pairs, each distance divided by the two trees' sizes (d / (|a| + |b|), in [0, 1)). */
  readonly distanceNorm: Interval;
  /**
   * Behavioural distinctness: the share of pairs of solutions whose output vectors differ. Unlike
   * `behaviours / runs` it does not depend on the number of seeds, so it has an honest bootstrap interval.
   */
  readonly distinct: Interval;
}

/** Bootstrap resamples of the seeds behind every interval. */
export const ACROSS_RESAMPLES = 1000;

/** Most solutions of a cell measured (the first by seed): the cost grows with their square, 1,000 times over. */
export const MAX_ACROSS_SOLUTIONS = 200;

/** Decimal places output values are rounded to before two solutions count as behaving alike (as the per-generation measure). */
const DECIMALS = 6;

/**
 * A best solution as the store keeps it: its infix text, with `clamp(f, lo, hi)` (or, with a linear
 * envelope L, `clamp(f, min(lo, L), max(hi, L))`) around it when the run clamped.
 */
export interface StoredSolution {
  readonly expression: string;
}

/**
 * The tree of a stored expression, its clamp bounds and the envelope's line; undefined when the text does
 * not parse with these names.
 */
export function solutionTree(
  expression: string,
  names: readonly string[],
): { tree: Tree; lo: number; hi: number; line?: Tree } | undefined {
  const m = clampedParts(expression);
  try {
    if (m) {
      const line = m.line !== undefined ? parseInfix(m.line, names) : undefined;
      return { tree: parseInfix(m.formula, names), lo: m.lo, hi: m.hi, ...(line ? { line } : {}) };
    }
    return { tree: parseInfix(expression, names), lo: -Infinity, hi: Infinity };
  } catch {
    return undefined;
  }
}

/**
 * The across-run measures of a set of best solutions. `inputs` are the common inputs their outputs are
 * compared on (undefined: no behavioural measure). Intervals: the 2.5% and 97.5% quantiles of the
 * measure over {@link ACROSS_RESAMPLES} resamples of the solutions with replacement, drawn from an Rng
 * seeded by `seed`; in a resample, pairs of two draws of one solution are left out (they would bias
 * every pair measure downwards). A resample that draws one solution n times is skipped.
 */
export function acrossMeasures(solutions: readonly StoredSolution[], inputs: Dataset | undefined, seed: string): AcrossMeasures {
  const parsed = solutions
    .map((s) => solutionTree(s.expression, inputs?.names ?? []))
    .filter((t) => t !== undefined)
    .slice(0, MAX_ACROSS_SOLUTIONS);
  const n = parsed.length;
  const nan: Interval = { value: NaN, lo: NaN, hi: NaN };
  const dist = new Float64Array(n * n);
  const norm = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = (parsed[i] as { tree: Tree }).tree;
      const b = (parsed[j] as { tree: Tree }).tree;
      const d = topDownDistance(a, b);
      dist[i * n + j] = dist[j * n + i] = d;
      norm[i * n + j] = norm[j * n + i] = d / (a.op.length + b.op.length);
    }
  }
  let classOf: Int32Array | undefined;
  let behaviours = NaN;
  if (inputs) {
    const ids = new Map<string, number>();
    classOf = Int32Array.from(parsed, (p) => {
      const out = evaluateTree(p.tree, inputs.columns, inputs.rows);
      clampRows(out, p.lo, p.hi, p.line && evaluateTree(p.line, inputs.columns, inputs.rows));
      const key = Array.from(roundVector(out, DECIMALS), String).join(',');
      let id = ids.get(key);
      if (id === undefined) ids.set(key, (id = ids.size));
      return id;
    });
    behaviours = new Set(classOf).size;
  }
  if (n < 2) return { runs: n, behaviours, distance: nan, distanceNorm: nan, distinct: nan };
  const differ = new Float64Array(n * n);
  if (classOf) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) differ[i * n + j] = classOf[i] === classOf[j] ? 0 : 1;
  // pairs of two draws of the same solution are left out: their repeats would pull every pair measure down
  const pairMean = (m: Float64Array, idx: ArrayLike<number>): number => {
    let sum = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        if (idx[i] === idx[j]) continue;
        sum += m[(idx[i] as number) * n + (idx[j] as number)] as number;
        pairs++;
      }
    }
    return pairs > 0 ? sum / pairs : NaN;
  };
  const distinctShare = (idx: ArrayLike<number>): number => (classOf ? pairMean(differ, idx) : NaN);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed);
  const boot = { distance: [] as number[], distanceNorm: [] as number[], distinct: [] as number[] };
  const idx = new Int32Array(n);
  for (let b = 0; b < ACROSS_RESAMPLES; b++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    const d = pairMean(dist, idx);
    if (Number.isNaN(d)) continue; // every draw the same solution: no pair to measure
    boot.distance.push(d);
    boot.distanceNorm.push(pairMean(norm, idx));
    boot.distinct.push(distinctShare(idx));
  }
  const interval = (value: number, xs: number[]): Interval =>
    Number.isFinite(value) && xs.length > 0 ? { value, lo: quantile(xs, 0.025), hi: quantile(xs, 0.975) } : nan;
  return {
    runs: n,
    behaviours,
    distance: interval(pairMean(dist, all), boot.distance),
    distanceNorm: interval(pairMean(norm, all), boot.distanceNorm),
    distinct: interval(distinctShare(all), boot.distinct),
  };
}

/**
 * The inputs a problem's best solutions are compared on: the test rows (else the training rows) of the
 * task as the study's first seed resolves it (benchmarks sample their points from the seed; one common
 * set makes the seeds' solutions comparable). A relative data path is looked for in the study file's
 * folder (`studyDir`, recorded by `study run`), else beside the database. `unreadable` when it cannot be
 * read (its variable names are needed to read the solutions back, so the problem then has no across-run
 * measures), `changed` when its files are not those the runs were made on (`digest`, as `study run`
 * recorded it).
 */
export function commonInputs(
  spec: StudySpec,
  problem: StudyProblem,
  dbPath: string,
  studyDir?: string,
  digest?: string,
): Dataset | 'unreadable' | 'changed' {
  const at = (p: string | undefined): string | undefined => {
    if (p === undefined || isAbsolute(p)) return p;
    const inStudy = studyDir === undefined ? undefined : resolve(studyDir, p);
    return inStudy !== undefined && existsSync(inStudy) ? inStudy : resolve(dirname(dbPath), p);
  };
  try {
    const data = at(problem.data);
    const meta = at(problem.meta);
    if (data !== undefined && digest !== undefined && filesDigest(data, meta) !== digest) return 'changed';
    const task = resolveTask(
      { ...problem, ...(data !== undefined ? { data } : {}), ...(meta !== undefined ? { meta } : {}) },
      spec.seeds[0] ?? 1,
    );
    return task.test ?? task.train;
  } catch {
    return 'unreadable';
  }
}

/**
 * The across-run measures of every cell with finished runs, by cell hash (cells in `cells` order), and the
 * problems left out, with why (see {@link commonInputs}; `digests`: the data digests `study run` recorded).
 */
export function acrossByCell(
  spec: StudySpec,
  dbPath: string,
  studyDir: string | undefined,
  cells: readonly { hash: string; problem: string }[],
  runs: readonly { cell: string; seed: number; status: string; expression: string | null }[],
  digests: ReadonlyMap<string, string> = new Map(),
): { measures: Map<string, AcrossMeasures>; left: Map<string, 'unreadable' | 'changed'> } {
  const inputs = new Map<string, Dataset>();
  const left = new Map<string, 'unreadable' | 'changed'>();
  for (const p of spec.problems) {
    const d = commonInputs(spec, p, dbPath, studyDir, digests.get(p.name));
    if (typeof d === 'string') left.set(p.name, d);
    else inputs.set(p.name, d);
  }
  const solutions = new Map<string, StoredSolution[]>();
  for (const r of [...runs].sort((a, b) => a.seed - b.seed)) {
    if (r.status !== 'done' || r.expression === null) continue;
    let list = solutions.get(r.cell);
    if (!list) solutions.set(r.cell, (list = []));
    list.push({ expression: r.expression });
  }
  const out = new Map<string, AcrossMeasures>();
  for (const c of cells) {
    const list = solutions.get(c.hash);
    const data = inputs.get(c.problem);
    if (!list || !data) continue;
    out.set(c.hash, acrossMeasures(list, data, `across:${c.hash}`));
  }
  return { measures: out, left };
}
