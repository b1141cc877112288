/**
 * The 26-set tuning suite of issue 17 (../shared/data/sr: 6 sets, ../shared/data/pmlb: 20 sets) and the
 * procedure that chose the `--data` defaults (bench/SUITE.md has the procedure and the figures).
 *
 *   npx tsx bench/suite.ts studies [--out studies]
 *     writes the tuning studies (suite-tune-operators.json, suite-tune-choices.json): every set of the suite
 *     with its *training rows only*, split 75/25 into inner training and inner validation rows; the
 *     study's "test" rows are the inner validation rows, so no test row of any set is seen while tuning.
 *     Run them with `gpmate study run studies/suite-tune-X.json --db X.db`.
 *
 *   npx tsx bench/suite.ts score A.db [B.db ...] [--reference CELL]
 *     scores every cell of the tuning databases: per set the median inner-validation R^2 over the seeds
 *     (each clamped to [-1, 1] so that one runaway seed cannot decide), then over the suite: the mean of
 *     those medians, the sets won and lost against the reference cell (by more than 0.005), the seeds below 0,
 *     and the median wall time per run.
 *
 *   npx tsx bench/suite.ts clamp A.db [B.db ...] [--margins 0,0.1,0.25,0.5,1,2,inf]
 *     re-scores every stored model on its inner validation rows with the clamping bounds widened by each
 *     margin (a share of the training target's range on each side), by the same criterion.
 *
 *   npx tsx bench/suite.ts folds --out DIR [--k 4]
 *     writes K-fold inner cross-validation data over each set's training rows (SET@fK.csv and its JSON):
 *     run them with `npx tsx bench/realworld.ts --data DIR --modes pimp --seeds 1-2 --out RUNS`.
 *
 *   npx tsx bench/suite.ts select RUNS [RUNS ...] [--rules best,score,aic,bic,mdl]
 *     scores model-selection rules on the fronts of finished bench/realworld.ts runs (fold runs: on the
 *     inner validation blocks; runs of the suite's own split: on its test rows, beside Operon's medians).
 *     A rule `RULE@N` selects after a polish of N evaluations (`--polish N`), done here on the stored
 *     front by the run's own code; `RULE+linear` (`RULE@N+linear`) scores the chosen model clamped to
 *     the linear envelope (`--clamp-to linear`) instead of the run's own bounds.
 *
 *   npx tsx bench/suite.ts compare A[,A2...] B[,B2...] [--rule bic+linear] [--boot 2000]
 *     compares two groups of finished runs of the same sets (a variant's against the defaults', say)
 *     under one rule by the same criterion, per set and over the suite, with a bootstrap interval of the
 *     difference of the means (runs resampled within each set): how far the seeds' luck alone moves it.
 *
 * The final table on the sets' own train/test split, beside Operon's figures, is bench/realworld.ts's:
 *   npx tsx bench/realworld.ts --data suite --modes pimp --seeds 1-10
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { csvTask, type RowRange } from '../problems/csv.js';
import { Rng } from '../src/core/rng.js';
import type { Dataset, RegressionTask } from '../src/eval/dataset.js';
import { evaluateTree, rSquared } from '../src/eval/reference.js';
import { robustBounds } from '../src/sr/interval.js';
import { clampBounds, clampedParts, clampPredictions, type Bounds } from '../src/sr/model.js';
import { improving, MODEL_SELECTIONS, selectFromFront, type ModelSelection } from '../src/sr/pareto.js';
import { PRESETS } from '../src/sr/options.js';
import { polishTree } from '../src/sr/scoring.js';
import { StudyStore, type CellRow, type RunRow } from '../src/study/store.js';
import { parseInfix } from '../src/tree/parse.js';
import { FUNCTIONS } from '../src/tree/primitives.js';
import type { Tree } from '../src/tree/tree.js';
import { intFlag } from './common.js';
import { median, operonFigures, suiteSets, type SuiteSet } from './sr-data.js';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The tuning studies' common settings: the comparison's budget and the `--data` preset as it was when
 * they were run (2026-12-02): without `selectModel: 'bic'`, which that preset gained afterwards.
 */
const { selectModel: _chosenLater, ...previousPreset } = PRESETS.data;
const BASE_SETTINGS = { populationSize: 1000, generations: 100, ...previousPreset, functions: [...PRESETS.data.functions] };

/** A set's inner split: the first 75% of its training rows to train on, the rest to validate on. */
function innerSplit(s: SuiteSet): { train: RowRange; test: RowRange } {
  const [a, b] = s.train;
  const cut = a + Math.floor((b - a) * 0.75);
  return { train: { start: a, end: cut }, test: { start: cut, end: b } };
}

/** Operon's mutation operators by our names (its onepoint and discretepoint both move constants). */
export const OPERON_LIKE_MUTATION = 'subtree:1,changevar:1,changefunc:1,insert:1,remove:1,constant:2';

function writeStudies(outDir: string): void {
  const problems = suiteSets().map((s) => {
    const { train, test } = innerSplit(s);
    return { name: s.name, data: relative(outDir, s.csv), train: [train.start, train.end], test: [test.start, test.end] };
  });
  const common = {
    problems,
    selection: ['pimp'],
    settings: BASE_SETTINGS,
    seeds: 3,
    diversity: false,
  };
  const studies = {
    'suite-tune-operators': {
      name: 'suite-tune-operators',
      description:
        'Issue 17, step 1: mutation operators and rate, every other choice at the previous --data defaults; 26 sets, training rows only (inner 75/25 split).',
      ...common,
      mutation: ['subtree', OPERON_LIKE_MUTATION],
      mutationRate: [0.1, 0.25],
    },
    'suite-tune-choices': {
      name: 'suite-tune-choices',
      description:
        'Issue 17, step 1: one choice at a time against the previous --data defaults (subtree mutation at rate 0.1); 26 sets, training rows only (inner 75/25 split).',
      ...common,
      mutation: ['subtree'],
      mutationRate: [0.1],
      variants: {
        'keep-best': { replacement: 'keep-best' },
        'size-40': { maxSize: 40 },
        'model-score': { selectModel: 'score' },
        'model-validation': { selectModel: 'validation' },
        'init-btc': { init: 'btc' },
        'optimise-share-0.25': { optimiseShare: 0.25 },
        'optimise-off': { optimiseIterations: 0 },
        'size-50': { maxSize: 50 },
      },
    },
  };
  for (const [name, spec] of Object.entries(studies)) {
    const file = join(outDir, `${name}.json`);
    writeFileSync(file, JSON.stringify(spec, null, 1) + '\n');
    console.log(`wrote ${file}`);
  }
}

/** A stored run of a tuning database with its cell. */
type StoredRun = RunRow & { readonly cellRow: CellRow };

/** The finished runs of study databases, each with its cell (read through the study store). */
function doneRuns(dbs: readonly string[]): StoredRun[] {
  return dbs.flatMap((file) => {
    const store = StudyStore.openForRead(file);
    try {
      const cells = new Map(store.cells().map((c) => [c.hash, c]));
      return store
        .runs()
        .filter((r) => r.status === 'done')
        .map((r) => ({ ...r, cellRow: cells.get(r.cell)! }));
    } finally {
      store.close();
    }
  });
}

/** A run's R^2 as the criterion counts it: clamped to [-1, 1], a missing or NaN value as -1. */
const criterionR2 = (r2: number | null): number => (r2 === null || Number.isNaN(r2) ? -1 : Math.max(-1, Math.min(1, r2)));

interface CellScore {
  readonly key: string;
  readonly bySet: Map<string, number>;
  readonly below0: number;
  readonly runs: number;
  readonly wall: number;
}

/** Each tuning cell's per-set medians (inner validation R^2, clamped to [-1, 1]) and its summary. */
function score(dbs: readonly string[], reference: string): void {
  const cells = new Map<string, { r2: Map<string, number[]>; walls: number[]; below0: number }>();
  for (const run of doneRuns(dbs)) {
    const cell = run.cellRow;
    const mutation = cell.mutation === OPERON_LIKE_MUTATION ? 'operon-like' : cell.mutation;
    const key = `${mutation}@${cell.mutation_rate}/${cell.variant}`;
    const c = cells.get(key) ?? { r2: new Map<string, number[]>(), walls: [], below0: 0 };
    cells.set(key, c);
    if (!((run.test_r2 ?? NaN) >= 0)) c.below0++;
    const list = c.r2.get(cell.problem) ?? [];
    list.push(criterionR2(run.test_r2));
    c.r2.set(cell.problem, list);
    c.walls.push((run.wall_ms ?? NaN) / 1000);
  }
  const scores: CellScore[] = [...cells].map(([key, c]) => ({
    key,
    bySet: new Map([...c.r2].map(([set, xs]) => [set, median(xs)])),
    below0: c.below0,
    runs: c.walls.length,
    wall: median(c.walls),
  }));
  const ref = scores.find((s) => s.key === reference);
  if (!ref) throw new Error(`reference cell ${reference} not found (cells: ${scores.map((s) => s.key).join(', ')})`);
  const sets = [...ref.bySet.keys()].sort();
  const mean = (s: CellScore) => sets.reduce((a, set) => a + (s.bySet.get(set) ?? -1), 0) / sets.length;
  scores.sort((a, b) => mean(b) - mean(a));
  console.log(`# bench/suite.ts score  ${dbs.join(' ')}  reference ${reference}; ${sets.length} sets`);
  console.log('| cell | runs | mean of set medians | sets won / lost vs reference (> 0.005) | seeds below 0 | median wall s |');
  console.log('|---|---|---|---|---|---|');
  for (const s of scores) {
    let won = 0;
    let lost = 0;
    for (const set of sets) {
      const d = (s.bySet.get(set) ?? -1) - ref.bySet.get(set)!;
      if (d > 0.005) won++;
      else if (d < -0.005) lost++;
    }
    console.log(`| ${s.key} | ${s.runs} | ${mean(s).toFixed(4)} | ${won} / ${lost} | ${s.below0} | ${s.wall.toFixed(1)} |`);
  }
  console.log('\n| set | ' + scores.map((s) => s.key).join(' | ') + ' |');
  console.log('|---|' + scores.map(() => '---|').join(''));
  for (const set of sets) console.log(`| ${set} | ${scores.map((s) => (s.bySet.get(set) ?? NaN).toFixed(3)).join(' | ')} |`);
}

/**
 * Clamping only bounds the reported model (the search is the same), so its margin can be chosen on the
 * tuning runs already stored: each stored model (its formula with the scaling terms, inside
 * `clamp(formula, lo, hi)`) is evaluated again on its inner validation rows with the bounds widened by
 * margin x (hi - lo) on each side, and scored by the same criterion as `score`.
 */
function clampMargins(dbs: readonly string[], margins: readonly number[]): void {
  const sets = new Map(suiteSets().map((s) => [s.name, s]));
  const tasks = new Map<string, RegressionTask>();
  // per margin, per set: the validation R^2 of every stored run
  const r2 = margins.map(() => new Map<string, number[]>());
  let parsed = 0;
  for (const run of doneRuns(dbs)) {
    const problem = run.cellRow.problem;
    const set = sets.get(problem);
    if (!set) throw new Error(`problem ${problem} is not a suite set`);
    let task = tasks.get(set.name);
    if (!task) {
      task = csvTask(set.csv, innerSplit(set));
      tasks.set(set.name, task);
    }
    const m = clampedParts(run.expression ?? '');
    if (!m) throw new Error(`a model without clamp bounds: ${(run.expression ?? '(none)').slice(0, 80)}`);
    const { formula, lo, hi } = m;
    const test = task.test!;
    const raw = evaluateTree(parseInfix(formula, test.names), test.columns, test.rows);
    parsed++;
    margins.forEach((margin, k) => {
      const w = margin === Infinity ? Infinity : margin * (hi - lo);
      const pred = clampPredictions(Float64Array.from(raw), { lo: lo - w, hi: hi + w });
      const list = r2[k]!.get(set.name) ?? [];
      list.push(rSquared(pred, test.y));
      r2[k]!.set(set.name, list);
    });
  }
  console.log(`# bench/suite.ts clamp  ${dbs.join(' ')}: ${parsed} stored models re-scored on their inner validation rows`);
  console.log('| clamp margin (x training target range, each side) | mean of set medians | seeds below 0 | worst |');
  console.log('|---|---|---|---|');
  margins.forEach((margin, k) => {
    const bySet = [...r2[k]!.values()];
    const mean = bySet.reduce((a, xs) => a + median(xs.map(criterionR2)), 0) / bySet.length;
    const all = bySet.flat();
    const below = all.filter((x) => !(x >= 0)).length;
    console.log(
      `| ${margin === Infinity ? 'none (no clamping)' : margin} | ${mean.toFixed(4)} | ${below} of ${all.length} | ${Math.min(...all).toPrecision(3)} |`,
    );
  });
}

/**
 * K-fold inner cross-validation over each set's training rows (no test row is used): fold k validates on
 * the k-th of K contiguous blocks of the training rows and trains on the rest. Written as data files
 * `SET@fK.csv` (inner training rows first, then the validation block) with Operon's JSON beside them, so
 * that `bench/realworld.ts --data DIR --modes pimp` runs them with the `--data` defaults unchanged.
 */
function writeFolds(outDir: string, k: number): void {
  mkdirSync(outDir, { recursive: true });
  const sets = suiteSets();
  for (const s of sets) {
    const lines = readFileSync(s.csv, 'utf8').split(/\r?\n/);
    const header = lines[0]!;
    const rows = lines.slice(1).filter((l) => l.trim() !== '');
    const [a, b] = s.train;
    for (let f = 0; f < k; f++) {
      const lo = a + Math.floor(((b - a) * f) / k);
      const hi = a + Math.floor(((b - a) * (f + 1)) / k);
      const train = [...rows.slice(a, lo), ...rows.slice(hi, b)];
      const name = `${s.name}@f${f}`;
      writeFileSync(join(outDir, `${name}.csv`), [header, ...train, ...rows.slice(lo, hi)].join('\n') + '\n');
      const json = {
        metadata: {
          name,
          target: s.target,
          training_rows: { start: 0, end: train.length },
          test_rows: { start: train.length, end: train.length + hi - lo },
        },
      };
      writeFileSync(join(outDir, `${name}.json`), JSON.stringify(json, null, 1) + '\n');
    }
  }
  console.log(`wrote ${sets.length * k} fold files to ${outDir}`);
}

/** A reported model's formula (inside its clamp) as a tree; its variables are the names it uses. */
function formulaOf(expression: string): Tree {
  const inner = clampedParts(expression)?.formula ?? expression;
  const names = [...new Set(inner.match(/(?<![0-9.])[A-Za-z_][A-Za-z_0-9]*/g) ?? [])].filter((n) => !(n in FUNCTIONS));
  return parseInfix(inner, names);
}

/** What `select` reads from a run's summary.json. */
interface RunSummary {
  data: { train: [number, number] };
  options: { robust?: boolean };
  bounds?: [number, number];
  front: { loss: number; genomeSize: number; size: number; testR2: number; expression: string }[];
}

/** A selection rule: a model-selection mode, after the polish of `polish` model evaluations (0: none). */
interface SelectionRule {
  readonly name: string;
  readonly select: ModelSelection;
  readonly polish: number;
  /** Score the chosen model clamped to the linear envelope (option `clampTo: 'linear'`). */
  readonly linear: boolean;
}

/** The front a rule selects from: the stored one (`0`), polished (`N`), clamped to the linear envelope. */
function variant(rule: SelectionRule): string {
  return `${rule.polish > 1 ? rule.polish : 0}${rule.linear ? '+linear' : ''}`;
}

/**
 * A run's front as `polishIterations` would have reported it: each member (scaling included) polished
 * on the run's training rows by the run's own polishTree, with its new training RMSE and its test R^2
 * (clamped to the run's bounds); those no better than a smaller one leave the front, as in the run.
 */
function polishedFront(summary: RunSummary, task: RegressionTask, polish: number, linear: boolean) {
  const robust = summary.options.robust ? robustBounds(task.train.columns, task.train.y) : undefined;
  const bounds = boundsFor(summary, task, linear);
  const test = task.test!;
  const polished = summary.front.map((e) => {
    const parsed = parseInfix(clampedParts(e.expression)?.formula ?? e.expression, task.train.names);
    const { tree, rmse } = polishTree(parsed, task.train, polish, robust);
    return { tree, loss: rmse, size: e.genomeSize };
  });
  return improving(polished).map((e) => ({ ...e, testR2: clampedR2(e.tree, bounds, test) }));
}

/** A tree's R^2 on a data set, its predictions clamped to the bounds. */
function clampedR2(tree: Tree, bounds: Bounds | undefined, data: Dataset): number {
  return rSquared(clampPredictions(evaluateTree(tree, data.columns, data.rows), bounds, data.columns), data.y);
}

/** The bounds a run's models are scored with: the run's own, or (`linear`) its range and linear envelope. */
function boundsFor(summary: RunSummary, task: RegressionTask, linear: boolean): Bounds | undefined {
  if (!summary.bounds) return undefined;
  return linear ? clampBounds(task.train, 'linear') : { lo: summary.bounds[0], hi: summary.bounds[1] };
}

/** A run's front with each member's test R^2 clamped to the linear envelope (from its printed formula). */
function linearFront<T extends { testR2: number }>(front: readonly T[], summary: RunSummary, task: RegressionTask): T[] {
  const bounds = boundsFor(summary, task, true);
  const test = task.test!;
  return front.map((e, j) => {
    const expression = (summary.front[j] as RunSummary['front'][number]).expression;
    return { ...e, testR2: clampedR2(parseInfix(clampedParts(expression)?.formula ?? expression, task.train.names), bounds, test) };
  });
}

/**
 * The reported member of every run in `dirs` under each rule: per rule and set, the chosen members' R^2
 * (on the run's test rows; fold runs: the inner validation block) and sizes, with each run's wall time.
 */
function chosenMembers(dirs: readonly string[], rules: readonly SelectionRule[]) {
  // per rule, per set: the chosen members' R^2
  const chosen = rules.map(() => new Map<string, number[]>());
  const size = rules.map(() => new Map<string, number[]>());
  // wall seconds per run (bench/realworld.ts's wall.txt): the same for every rule
  const wall = new Map<string, number[]>();
  const tasks = new Map<string, RegressionTask>();
  let runs = 0;
  let folds = false;
  for (const dir of dirs) {
    for (const name of readdirSync(dir).sort()) {
      const m = /^(.*?)(@f\d+)?-(pimp|tournament|random-mate)-seed\d+$/.exec(name);
      const file = join(dir, name, 'summary.json');
      if (!m || !existsSync(file)) continue;
      const summary = JSON.parse(readFileSync(file, 'utf8')) as RunSummary;
      if (m[2]) folds = true;
      const rows = summary.data.train[1] - summary.data.train[0];
      // aic and bic count the model's constants: its formula (scaling terms included, the same two for
      // every member) parsed back; the sizes are the genomes'
      const asRun = summary.front.map((e) => ({ tree: formulaOf(e.expression), loss: e.loss, size: e.genomeSize, testR2: e.testR2 }));
      // per rule variant (`N` polished, `+linear`): the front as it would have been reported
      const fronts = new Map<string, typeof asRun>([['0', asRun]]);
      const taskOfRun = () => {
        const args = JSON.parse(readFileSync(join(dir, name, 'args.json'), 'utf8')) as string[];
        const at = args.indexOf('--data');
        if (at < 0) throw new Error(`select: ${name} is not a --data run, so it cannot be scored again`);
        const path = args[at + 1] as string;
        const task = tasks.get(path) ?? csvTask(path);
        tasks.set(path, task);
        return task;
      };
      for (const rule of rules) {
        const key = variant(rule);
        if (fronts.has(key)) continue;
        const task = taskOfRun();
        fronts.set(key, rule.polish > 1 ? polishedFront(summary, task, rule.polish, rule.linear) : linearFront(asRun, summary, task));
      }
      const wallFile = join(dir, name, 'wall.txt');
      const walls = wall.get(m[1]!) ?? [];
      walls.push(existsSync(wallFile) ? Number(readFileSync(wallFile, 'utf8')) : NaN);
      wall.set(m[1]!, walls);
      rules.forEach((rule, k) => {
        let front = fronts.get(variant(rule))!;
        // mdl evaluates each model on the training rows, so its variables must be the task's columns
        // (formulaOf numbers them in order of appearance, which is enough to count constants)
        const train = rule.select === 'mdl' ? taskOfRun().train : undefined;
        if (train && rule.polish <= 1) {
          front = front.map((e, j) => {
            const expression = (summary.front[j] as RunSummary['front'][number]).expression;
            return { ...e, tree: parseInfix(clampedParts(expression)?.formula ?? expression, train.names) };
          });
        }
        const i = selectFromFront(front, rule.select, undefined, rows, train);
        const list = chosen[k]!.get(m[1]!) ?? [];
        list.push(front[i]?.testR2 ?? NaN);
        chosen[k]!.set(m[1]!, list);
        const sizes = size[k]!.get(m[1]!) ?? [];
        sizes.push(front[i]?.tree.op.length ?? NaN);
        size[k]!.set(m[1]!, sizes);
      });
      runs++;
    }
  }
  return { chosen, size, wall, runs, folds };
}

/**
 * Model selection only picks the reported model from the run's front (the search is the same, except
 * under `validation`), so every rule can be scored on the same runs: the summaries bench/realworld.ts
 * keeps (`--out DIR`), each front member with its R^2 on the run's test rows (for fold runs: the inner
 * validation block). Per rule and set: the median over the runs (folds and seeds) of the chosen member's
 * R^2 clamped to [-1, 1]; over the sets: their mean, the sets won and lost against `best` (> 0.005), the
 * runs below 0, and, for the suite's own sets, how many medians are at or above Operon's.
 */
function scoreSelection(dirs: readonly string[], rules: readonly SelectionRule[]): void {
  const { chosen, size, wall, runs, folds } = chosenMembers(dirs, rules);
  const sets = [...chosen[0]!.keys()].sort();
  // fold runs are scored on inner validation rows: Operon's test figures are no comparison for them
  const operon = folds ? new Map<string, [number, number]>() : operonFigures();
  const medians = chosen.map((bySet) => new Map(sets.map((set) => [set, median(bySet.get(set)!.map(criterionR2))])));
  const raw = chosen.map((bySet) => new Map(sets.map((set) => [set, median(bySet.get(set)!)])));
  console.log(`# bench/suite.ts select  ${dirs.join(' ')}: ${runs} runs, ${sets.length} sets`);
  console.log('| rule | mean of set medians | sets won / lost vs best (> 0.005) | runs below 0 | at or above Operon |');
  console.log('|---|---|---|---|---|');
  rules.forEach((rule, k) => {
    let won = 0;
    let lost = 0;
    let level = 0;
    let compared = 0;
    for (const set of sets) {
      const d = medians[k]!.get(set)! - medians[0]!.get(set)!;
      if (d > 0.005) won++;
      else if (d < -0.005) lost++;
      const op = operon.get(set);
      if (op) {
        compared++;
        if (Math.round(raw[k]!.get(set)! * 1000) / 1000 >= op[0]) level++;
      }
    }
    const mean = sets.reduce((a, set) => a + medians[k]!.get(set)!, 0) / sets.length;
    const below = [...chosen[k]!.values()].flat().filter((x) => !(x >= 0)).length;
    console.log(`| ${rule.name} | ${mean.toFixed(4)} | ${won} / ${lost} | ${below} | ${compared ? `${level} of ${compared}` : '-'} |`);
  });
  console.log('\nPer set, each rule: median / worst R^2, median size of the chosen model (nodes, scaling included)\n');
  console.log('| set | ' + rules.map((r) => r.name).join(' | ') + ' | median wall s | Operon median / worst |');
  console.log('|---|' + rules.map(() => '---|').join('') + '---|---|');
  for (const set of sets) {
    const op = operon.get(set);
    const cell = (k: number) =>
      `${raw[k]!.get(set)!.toFixed(3)} / ${Math.min(...chosen[k]!.get(set)!).toFixed(3)} / ${median(size[k]!.get(set)!)}`;
    const w = median(wall.get(set)!);
    console.log(`| ${set} | ${rules.map((_, k) => cell(k)).join(' | ')} | ${w.toFixed(1)} | ${op ? `${op[0]} / ${op[1]}` : '-'} |`);
  }
}

/** A rule's name: a selection mode, optionally `@N` (after a polish of N evaluations), optionally `+linear`. */
function parseRule(name: string): SelectionRule {
  const linear = name.endsWith('+linear');
  const [select, polish = '0'] = name.replace(/\+linear$/, '').split('@') as [string, string?];
  if (!(MODEL_SELECTIONS as readonly string[]).includes(select) || select === 'validation' || !/^\d+$/.test(polish))
    throw new Error(
      `unknown rule ${name} (a selection mode, optionally @N: after a polish of N model evaluations, optionally +linear: clamped to the linear envelope)`,
    );
  return { name, select: select as ModelSelection, polish: Number(polish), linear };
}

/**
 * Two groups of runs of the same sets (a variant's and the defaults', or the same settings under other
 * seeds) compared under one selection rule, by the criterion of `select`: per set the median R^2 of each
 * group (each run's clamped to [-1, 1]), the difference, won / lost (> 0.005) and the runs below 0; over
 * the sets the difference of the means of the set medians, with a bootstrap interval: each group's runs
 * resampled with replacement within each set, `boot` times, from a fixed seed (the same output on every
 * call). Searches that differ in any way differ by their seeds' luck as well; the interval says how far
 * that luck alone moves the difference, so a difference well inside it is not one the procedure can see.
 */
function compareRuns(a: readonly string[], b: readonly string[], rule: SelectionRule, boot: number): void {
  const ca = chosenMembers(a, [rule]);
  const cb = chosenMembers(b, [rule]);
  const byA = ca.chosen[0]!;
  const byB = cb.chosen[0]!;
  const sets = [...byA.keys()].filter((set) => byB.has(set)).sort();
  if (sets.length === 0) throw new Error('compare: the two groups have no set in common');
  const meanOfMedians = (pick: (set: string) => number[]) =>
    sets.reduce((t, set) => t + median(pick(set).map(criterionR2)), 0) / sets.length;
  const meanA = meanOfMedians((set) => byA.get(set)!);
  const meanB = meanOfMedians((set) => byB.get(set)!);
  const diff = meanB - meanA;
  const rng = new Rng(1);
  const resample = (xs: number[]) => Array.from(xs, () => xs[rng.int(xs.length)] as number);
  const diffs = Float64Array.from(
    { length: boot },
    () => meanOfMedians((set) => resample(byB.get(set)!)) - meanOfMedians((set) => resample(byA.get(set)!)),
  ).sort();
  const at = (q: number) => diffs[Math.min(boot - 1, Math.floor(q * boot))] as number;
  console.log(
    `# bench/suite.ts compare, rule ${rule.name}: A ${a.join(',')} (${ca.runs} runs), B ${b.join(',')} (${cb.runs} runs), ${sets.length} sets in both`,
  );
  console.log('| set | A median | B median | B - A | A worst | B worst |');
  console.log('|---|---|---|---|---|---|');
  let won = 0;
  let lost = 0;
  for (const set of sets) {
    const xa = byA.get(set)!;
    const xb = byB.get(set)!;
    const d = median(xb.map(criterionR2)) - median(xa.map(criterionR2));
    if (d > 0.005) won++;
    else if (d < -0.005) lost++;
    const f = (v: number) => v.toFixed(3);
    console.log(
      `| ${set} | ${f(median(xa))} | ${f(median(xb))} | ${d >= 0 ? '+' : ''}${f(d)} | ${f(Math.min(...xa))} | ${f(Math.min(...xb))} |`,
    );
  }
  const below = (m: Map<string, number[]>) => sets.flatMap((set) => m.get(set)!).filter((x) => !(x >= 0)).length;
  const above = diffs.filter((d) => d > 0).length / boot;
  console.log(
    `\nmean of set medians: A ${meanA.toFixed(4)}, B ${meanB.toFixed(4)}; ` +
      `B - A ${diff >= 0 ? '+' : ''}${diff.toFixed(4)}, 95% bootstrap interval [${at(0.025).toFixed(4)}, ${at(0.975).toFixed(4)}] ` +
      `(${boot} resamples; B above A in ${(100 * above).toFixed(1)}%); sets won / lost by B (> 0.005): ${won} / ${lost}; ` +
      `runs below 0: A ${below(byA)}, B ${below(byB)}`,
  );
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'studies') {
  const { values } = parseArgs({ args: rest, options: { out: { type: 'string', default: join(here, '..', 'studies') } } });
  writeStudies(resolve(values.out as string));
} else if (command === 'folds') {
  const { values } = parseArgs({ args: rest, options: { out: { type: 'string' }, k: { type: 'string', default: '4' } } });
  if (!values.out) throw new Error('folds: give --out DIR');
  writeFolds(resolve(values.out), Number(values.k));
} else if (command === 'select') {
  const { values, positionals } = parseArgs({
    args: rest,
    options: { rules: { type: 'string', default: 'best,score,aic,bic' } },
    allowPositionals: true,
  });
  const names = (values.rules as string).split(',');
  if (names[0] !== 'best') names.unshift('best');
  scoreSelection(positionals, names.map(parseRule));
} else if (command === 'compare') {
  const { values, positionals } = parseArgs({
    args: rest,
    options: { rule: { type: 'string', default: 'bic+linear' }, boot: { type: 'string', default: '2000' } },
    allowPositionals: true,
  });
  const boot = intFlag('boot', values.boot, 100, 100_000);
  if (positionals.length !== 2) throw new Error('compare: give two groups of run directories, A[,A2...] B[,B2...]');
  const [a, b] = positionals.map((p) => p.split(',')) as [string[], string[]];
  compareRuns(a, b, parseRule(values.rule as string), boot);
} else if (command === 'score') {
  const { values, positionals } = parseArgs({
    args: rest,
    options: { reference: { type: 'string', default: 'subtree@0.1/default' } },
    allowPositionals: true,
  });
  score(positionals, values.reference as string);
} else if (command === 'clamp') {
  const { values, positionals } = parseArgs({
    args: rest,
    options: { margins: { type: 'string', default: '0,0.1,0.25,0.5,1,2,inf' } },
    allowPositionals: true,
  });
  clampMargins(
    positionals,
    (values.margins as string).split(',').map((m) => (m === 'inf' ? Infinity : Number(m))),
  );
} else {
  console.error(
    'usage: npx tsx bench/suite.ts studies | score DB... | clamp DB... | folds | select RUNS... | compare A B (see the comment at the top)',
  );
  process.exit(2);
}
