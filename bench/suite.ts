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
 * The final table on the sets' own train/test split, beside Operon's figures, is bench/realworld.ts's:
 *   npx tsx bench/realworld.ts --data suite --modes pimp --seeds 1-10
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { csvTask, type RowRange } from '../problems/csv.js';
import type { RegressionTask } from '../src/eval/dataset.js';
import { evaluateTree, rSquared } from '../src/eval/reference.js';
import { clampPredictions } from '../src/sr/model.js';
import { PRESETS } from '../src/sr/options.js';
import { StudyStore, type CellRow, type RunRow } from '../src/study/store.js';
import { parseInfix } from '../src/tree/parse.js';
import { median, suiteSets, type SuiteSet } from './sr-data.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The tuning studies' common settings: the comparison's budget and the `--data` preset (the committed studies: the preset of 2026-12-02). */
const BASE_SETTINGS = { populationSize: 1000, generations: 100, ...PRESETS.data, functions: [...PRESETS.data.functions] };

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
    const m = /^clamp\((.*), (\S+), (\S+)\)$/.exec(run.expression ?? '');
    if (!m) throw new Error(`a model without clamp bounds: ${(run.expression ?? '(none)').slice(0, 80)}`);
    const [lo, hi] = [Number(m[2]), Number(m[3])];
    const test = task.test!;
    const raw = evaluateTree(parseInfix(m[1]!, test.names), test.columns, test.rows);
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

const [command, ...rest] = process.argv.slice(2);
if (command === 'studies') {
  const { values } = parseArgs({ args: rest, options: { out: { type: 'string', default: join(here, '..', 'studies') } } });
  writeStudies(resolve(values.out as string));
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
  console.error('usage: npx tsx bench/suite.ts studies | score DB... | clamp DB... (see the comment at the top)');
  process.exit(2);
}
