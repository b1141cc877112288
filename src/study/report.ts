import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../core/atomic.js';
import { ConfigError, optionError } from '../core/errors.js';
import { DEFAULT_ENGINE_CHOICES } from '../core/options.js';
import { resolveRegressionOptions } from '../sr/options.js';
import { iqr, kruskalWallis, median, pairwiseComparisons, wilson } from '../stats/index.js';
import { acrossByCell, ACROSS_RESAMPLES, type AcrossMeasures, type Interval } from './across.js';
import { canonicalJson, expandGrid } from './grid.js';
import { variantSelections, type StudySpec } from './schema.js';
import { StudyStore, type CellRow, type GenerationRow, type RunRow } from './store.js';

/** A per-generation measure drawn over generations: a column of the generations table or an `extra` key. */
interface SeriesMeasure {
  readonly key: string;
  readonly label: string;
  readonly log?: boolean;
}

/** A final measure of a run, compared between selection modes; `better` says which way is good. */
interface FinalMeasure {
  readonly key: string;
  readonly label: string;
  readonly better: 'lower' | 'higher';
}

const SERIES: readonly SeriesMeasure[] = [
  { key: 'best_fitness', label: 'best fitness (train RMSE)', log: true },
  { key: 'median_fitness', label: 'median fitness (train RMSE)', log: true },
  { key: 'unique_share', label: 'unique genotypes (share)' },
  { key: 'x.structuralDiversity', label: 'structural diversity (mean pairwise tree distance)' },
  { key: 'x.structuralDiversityNorm', label: 'normalised structural diversity (mean of d / (|a| + |b|))' },
  { key: 'x.behaviouralUnique', label: 'behavioural diversity (distinct output vectors, share)' },
  { key: 'x.behaviouralEntropy', label: 'behavioural entropy (bits)' },
  { key: 'x.fitnessEntropy', label: 'fitness entropy (bits)' },
  { key: 'mean_size', label: 'mean tree size (nodes)' },
  { key: 'x.meanDepth', label: 'mean tree depth' },
  { key: 'x.depthBalance', label: 'depth balance' },
];

const PREFERENCE_SERIES: readonly SeriesMeasure[] = [
  { key: 'pref_mean_size', label: 'preference mean size (nodes)' },
  { key: 'x.prefMeanDepth', label: 'preference mean depth' },
  { key: 'pref_single_node_share', label: 'single-node preferences (share)' },
  { key: 'pref_mean_mate_distance', label: "distance chooser's preference to chosen mate" },
];

const FINAL: readonly FinalMeasure[] = [
  { key: 'run.best_train', label: 'best train RMSE', better: 'lower' },
  { key: 'run.best_test', label: 'best test RMSE', better: 'lower' },
  { key: 'run.size', label: 'best solution size', better: 'lower' },
  { key: 'run.depth', label: 'best solution depth', better: 'lower' },
  { key: 'unique_share', label: 'final unique genotypes', better: 'higher' },
  { key: 'x.structuralDiversity', label: 'final structural diversity', better: 'higher' },
  { key: 'x.structuralDiversityNorm', label: 'final normalised structural diversity', better: 'higher' },
  { key: 'x.behaviouralEntropy', label: 'final behavioural entropy', better: 'higher' },
  { key: 'x.meanSize', label: 'final mean size', better: 'lower' },
  { key: 'x.depthBalance', label: 'final depth balance', better: 'higher' },
];

const ALPHA = 0.05;
const SELECTION_ORDER = ['pimp', 'random-mate', 'tournament'];

/** One run with its generations, measures flattened (`x.` = the extra measures). */
interface RunData {
  readonly cell: CellRow;
  readonly run: RunRow;
  readonly gens: readonly Record<string, number | null>[];
}

/**
 * A problem x mutation x rate x variant instance: the selection modes are compared inside it. A variant
 * that runs under some selection modes only borrows the other modes' runs from the first variant that has
 * them (`borrowed`: mode -> that variant).
 */
interface Instance {
  readonly problem: string;
  readonly label: string;
  readonly variant: string;
  readonly runs: Map<string, RunData[]>;
  readonly borrowed: Map<string, string>;
}

export interface ReportFiles {
  readonly html: string;
  readonly figures: string[];
}

/** Renders a Vega-Lite spec to SVG in Node (no browser: the `none` renderer and View.toSVG). */
export async function renderSvg(spec: object): Promise<string> {
  const vg = compile(spec as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Writes `DIR/report.html` (self-contained: figures inline, no scripts, no network) and `DIR/figures/*.svg`.
 * Per problem: each measure over generations per selection mode (median line, interquartile band), box plots
 * of the final measures, success rates with Wilson 95% intervals, Kruskal-Wallis and pairwise Mann-Whitney U
 * tests (Holm-adjusted within each measure and instance) with Vargha-Delaney A12, and PIMP's preference dynamics.
 */
export async function writeReport(dbPath: string, outDir: string): Promise<ReportFiles> {
  const store = StudyStore.openForRead(dbPath);
  let spec: StudySpec;
  let cells: CellRow[];
  let runs: RunRow[];
  let gens: GenerationRow[];
  let studyDir: string | undefined;
  let digests: Map<string, string>;
  try {
    spec = store.study();
    studyDir = store.studyDir();
    digests = store.dataDigests();
    cells = store.cells();
    runs = store.runs();
    gens = store.generations();
  } finally {
    store.close();
  }
  const instances = collect(spec, cells, runs, gens);
  if (instances.length === 0) throw new ConfigError(`database ${dbPath}: no finished runs to report`);
  try {
    mkdirSync(join(outDir, 'figures'), { recursive: true });
  } catch (e) {
    throw optionError('out', `cannot create ${outDir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }

  const figures: { file: string; svg: string; title: string; problem: string }[] = [];
  const sections: string[] = [];
  const findings: Findings = new Map(instances.map((i) => [i, []]));
  const across = acrossByCell(spec, dbPath, studyDir, cells, runs, digests);
  const problems = [...new Set(instances.map((i) => i.problem))];
  for (const problem of problems) {
    const inst = instances.filter((i) => i.problem === problem);
    const parts: string[] = [];
    const fig = async (name: string, title: string, vl: object | undefined): Promise<void> => {
      if (!vl) return;
      const svg = await renderSvg(vl);
      const file = `${slug(problem)}-${slug(name)}.svg`;
      figures.push({ file, svg, title, problem });
      parts.push(`<figure id="${esc(file)}"><figcaption>${esc(title)}</figcaption>${svg}</figure>`);
    };
    parts.push('<h3>Over generations (median of the seeds; band: interquartile range)</h3>');
    const mating = matingSettings(inst);
    for (const m of SERIES)
      await fig(
        `gen-${m.key}`,
        `${problem}: ${m.label}; ${mating}`,
        seriesSpec(inst, m, () => true, 'selection'),
      );
    parts.push('<h3>Final measures</h3>');
    for (const m of FINAL) await fig(`box-${m.key}`, `${problem}: ${m.label} (box: quartiles; whiskers: min-max)`, boxSpec(inst, m));
    parts.push('<h3>Success rate</h3>', successTable(inst, spec.successThreshold));
    parts.push(
      `<h3>Pairwise tests (two-sided Mann-Whitney U; Holm over the three pairs of each measure and instance; winner where Holm p ≤ ${ALPHA})</h3>`,
    );
    parts.push(testTables(inst, findings));
    parts.push(acrossTables(inst, across.measures, findings, across.left.get(problem)));
    const pimpOnly = (sel: string): boolean => sel === 'pimp';
    const prefParts: string[] = [];
    for (const m of PREFERENCE_SERIES) {
      const s = seriesSpec(inst, m, pimpOnly, 'instance');
      if (s) {
        const svg = await renderSvg(s);
        const file = `${slug(problem)}-pref-${slug(m.key)}.svg`;
        figures.push({ file, svg, title: `${problem}: PIMP ${m.label}`, problem });
        prefParts.push(`<figure id="${esc(file)}"><figcaption>${esc(`${problem}: PIMP ${m.label}`)}</figcaption>${svg}</figure>`);
      }
    }
    if (prefParts.length > 0) parts.push('<h3>Preference dynamics (PIMP)</h3>', ...prefParts);
    sections.push(`<section id="${esc(slug(problem))}"><h2>${esc(problem)}</h2>${parts.join('\n')}</section>`);
  }

  const done = runs.filter((r) => r.status === 'done').length;
  const failed = runs.filter((r) => r.status === 'failed').length;
  const planned = cells.length > 0 ? spec.seeds.length * expandGrid(spec).length : 0;
  const html = page(spec, instances, { done, failed, planned }, findings, sections);
  for (const f of figures) writeFileAtomic(join(outDir, 'figures', f.file), f.svg);
  const htmlPath = join(outDir, 'report.html');
  writeFileAtomic(htmlPath, html);
  return { html: htmlPath, figures: figures.map((f) => join(outDir, 'figures', f.file)) };
}

/** Findings involving PIMP, by instance (instances in study order). */
type Findings = Map<Instance, string[]>;

/**
 * The mate-choice settings of the instances' runs, one line per figure title: per selection mode its settings
 * (`tournament: k 5`, `random-mate: pool 5 (uniform)`, `pimp: pool 5 (uniform), ideal rule, ...`), given once when
 * every instance has the same, else per variant (`[variant] ...`, separated by ` | `).
 */
function matingSettings(inst: readonly Instance[]): string {
  const settingOf = (i: Instance, sel: string): string | undefined => {
    const cell = i.runs.get(sel)?.[0]?.cell;
    if (!cell) return undefined;
    let s: ReturnType<typeof resolveRegressionOptions>;
    try {
      s = resolveRegressionOptions((JSON.parse(cell.options) as { options: object }).options);
    } catch {
      return 'settings not readable by this version';
    }
    const pool = `pool ${s.poolSize} (${s.poolDraw ?? DEFAULT_ENGINE_CHOICES.poolDraw})`;
    if (sel === 'tournament') return `k ${s.tournamentSize}`;
    if (sel === 'random-mate') return pool;
    const rule = s.mateRule ?? DEFAULT_ENGINE_CHOICES.mateRule;
    const prefs =
      rule === 'ideal'
        ? `, preferences ${s.preferenceInit ?? DEFAULT_ENGINE_CHOICES.preferenceInit}, inherited by ${s.preferenceInheritance}`
        : '';
    return `${pool}, ${rule} rule, ${s.distance} distance${prefs}`;
  };
  const parts = selections(inst).map((sel) => {
    const each = inst.map((i) => settingOf(i, sel));
    const present = each.filter((x): x is string => x !== undefined);
    if (present.every((x) => x === present[0])) return `${sel}: ${present[0] ?? ''}`;
    // mate choice is set per variant: one entry per variant and setting
    const entries = new Set(inst.flatMap((i, k) => (each[k] === undefined ? [] : [`[${i.variant}] ${each[k]}`])));
    return `${sel}: ${[...entries].join(' | ')}`;
  });
  return `mate choice: ${parts.join('; ')}`;
}

const ACROSS: readonly { key: 'distance' | 'distanceNorm' | 'distinct'; label: string }[] = [
  { key: 'distance', label: 'mean pairwise tree distance of the best solutions' },
  { key: 'distanceNorm', label: 'mean normalised distance (d / (|a| + |b|)) of the best solutions' },
  { key: 'distinct', label: 'pairs of best solutions that behave differently (share)' },
];

/** Fewest best solutions on each side before intervals that do not overlap count as a finding (tiny samples give narrow intervals). */
const ACROSS_MIN_RUNS = 10;

/**
 * Diversity across runs (src/study/across.ts): per instance and selection mode, the measures of the seeds'
 * best solutions with bootstrap 95% intervals. A finding where PIMP's interval lies wholly above or below
 * another mode's, both from at least {@link ACROSS_MIN_RUNS} solutions.
 */
function acrossTables(
  inst: readonly Instance[],
  across: Map<string, AcrossMeasures>,
  findings: Findings,
  left: 'unreadable' | 'changed' | undefined,
): string {
  if (left === 'unreadable')
    return "<h3>Across runs</h3><p>Not measured: this problem's data file could not be read again (its path, relative to the study file's folder, is needed to read the solutions back).</p>";
  if (left === 'changed')
    return "<h3>Across runs</h3><p>Not measured: this problem's data file changed since its runs were stored (its SHA-256 differs from the one <code>study run</code> recorded); restore the file to measure its solutions' behaviour.</p>";
  const sels = selections(inst);
  const measuresOf = (i: Instance, sel: string): AcrossMeasures | undefined => {
    const cell = i.runs.get(sel)?.[0]?.cell;
    return cell ? across.get(cell.hash) : undefined;
  };
  const show = (v: Interval | undefined): string =>
    v && Number.isFinite(v.value) ? `${fmt(v.value)} <span class="ci">[${fmt(v.lo)}, ${fmt(v.hi)}]</span>` : '–';
  const out: string[] = [];
  for (const m of ACROSS) {
    const rows = inst.map((i) => {
      const mine = measuresOf(i, 'pimp');
      const own = mine?.[m.key];
      for (const other of sels) {
        const theirs = measuresOf(i, other);
        const o = theirs?.[m.key];
        if (other === 'pimp' || !own || !o || !Number.isFinite(own.value) || !Number.isFinite(o.value)) continue;
        if ((mine?.runs ?? 0) < ACROSS_MIN_RUNS || (theirs?.runs ?? 0) < ACROSS_MIN_RUNS) continue;
        const side = own.lo > o.hi ? 'above' : own.hi < o.lo ? 'below' : undefined;
        if (side)
          findings
            .get(i)
            ?.push(`across runs: ${m.label}: pimp ${fmt(own.value)} ${side} ${other} ${fmt(o.value)} (bootstrap 95% intervals apart)`);
      }
      return `<tr><th>${esc(i.label)}</th>${sels.map((sel) => `<td>${show(measuresOf(i, sel)?.[m.key])}</td>`).join('')}</tr>`;
    });
    out.push(
      `<h4>${esc(m.label)}</h4><table class="across"><thead><tr><th>instance</th>${sels.map((x) => `<th>${esc(x)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`,
    );
  }
  if (across.size === 0) return '';
  return `<h3>Across runs (the best solution of each seed; bootstrap 95% interval over ${ACROSS_RESAMPLES} resamples of the seeds)</h3>
<p>Behaviour: outputs on the test inputs (training inputs without a test set) of the study's first seed, rounded to 6 decimals. Findings: intervals apart, at least ${ACROSS_MIN_RUNS} seeds on each side (not corrected for multiple comparisons).</p>
${out.join('\n')}`;
}

/** Groups the finished runs of the study's current cells into instances (problem x mutation x rate x variant). */
function collect(spec: StudySpec, cells: CellRow[], runs: RunRow[], gens: GenerationRow[]): Instance[] {
  const current = new Set(cellHashes(spec));
  const byCell = new Map(cells.filter((c) => current.has(c.hash)).map((c) => [c.hash, c]));
  const gensOf = new Map<string, Record<string, number | null>[]>();
  for (const g of gens) {
    if (!byCell.has(g.cell)) continue;
    const key = `${g.cell}/${g.seed}`;
    const { extra, ...cols } = g;
    const flat: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(cols)) if (typeof v === 'number' || v === null) flat[k] = v;
    if (extra) for (const [k, v] of Object.entries(JSON.parse(extra) as Record<string, number>)) flat[`x.${k}`] = v;
    let list = gensOf.get(key);
    if (!list) gensOf.set(key, (list = []));
    list.push(flat);
  }
  const variants = Object.keys(spec.variants);
  const multiVariant = variants.length > 1;
  const out = new Map<string, Instance>();
  const keyOf = (problem: string, mutation: string, rate: number, variant: string): string =>
    [problem, mutation, String(rate), variant].join('\u0000');
  for (const run of runs) {
    const cell = byCell.get(run.cell);
    if (!cell || run.status !== 'done') continue;
    const label = `${cell.mutation} mutation, rate ${cell.mutation_rate}${multiVariant ? `, ${cell.variant}` : ''}`;
    const key = keyOf(cell.problem, cell.mutation, cell.mutation_rate, cell.variant);
    let inst = out.get(key);
    if (!inst) out.set(key, (inst = { problem: cell.problem, label, variant: cell.variant, runs: new Map(), borrowed: new Map() }));
    let list = inst.runs.get(cell.selection);
    if (!list) inst.runs.set(cell.selection, (list = []));
    list.push({ cell, run, gens: gensOf.get(`${run.cell}/${run.seed}`) ?? [] });
  }
  // A variant run under some selection modes only is compared with the other modes' runs of the first
  // variant that runs them (same problem, mutation and rate).
  for (const inst of out.values()) {
    const own = variantSelections(spec, inst.variant);
    if (own.length === spec.selection.length) continue;
    const c = [...inst.runs.values()][0]?.[0]?.cell as CellRow;
    for (const sel of spec.selection) {
      if (own.includes(sel)) continue;
      const from = variants.find((v) => variantSelections(spec, v).includes(sel));
      const runsOf = from === undefined ? undefined : out.get(keyOf(c.problem, c.mutation, c.mutation_rate, from))?.runs.get(sel);
      if (from === undefined || !runsOf) continue;
      inst.runs.set(sel, runsOf);
      inst.borrowed.set(sel, from);
    }
  }
  // Study order: problems, then mutation, rate and variant as listed in the study file.
  const order = (i: Instance): number[] => {
    const c = [...i.runs.values()][0]?.[0]?.cell as CellRow;
    return [
      spec.problems.findIndex((p) => p.name === c.problem),
      spec.mutation.indexOf(c.mutation as never),
      spec.mutationRate.indexOf(c.mutation_rate),
      // variants run under every selection mode (the baselines' own) before those run under some only
      variantSelections(spec, i.variant).length === spec.selection.length ? 0 : 1,
      variants.indexOf(i.variant),
    ];
  };
  return [...out.values()].sort((a, b) => {
    const x = order(a);
    const y = order(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
    return 0;
  });
}

function cellHashes(spec: StudySpec): string[] {
  return expandGrid(spec).map((c) => c.hash);
}

function selections(inst: readonly Instance[]): string[] {
  const all = new Set<string>();
  for (const i of inst) for (const s of i.runs.keys()) all.add(s);
  return [...all].sort((a, b) => rank(a) - rank(b));
}

function rank(sel: string): number {
  const i = SELECTION_ORDER.indexOf(sel);
  return i < 0 ? SELECTION_ORDER.length : i;
}

function finite(xs: readonly (number | null | undefined)[]): number[] {
  return xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
}

/** Median and quartiles over the seeds, per generation, per (instance, selection). */
function seriesSpec(
  inst: readonly Instance[],
  m: SeriesMeasure,
  keep: (sel: string) => boolean,
  colorBy: 'selection' | 'instance',
): object | undefined {
  const values: object[] = [];
  for (const i of inst) {
    for (const [sel, runs] of i.runs) {
      if (!keep(sel)) continue;
      const maxGen = Math.max(-1, ...runs.map((r) => r.gens.length - 1));
      for (let g = 0; g <= maxGen; g++) {
        const xs = finite(runs.map((r) => r.gens[g]?.[m.key]));
        if (xs.length === 0) continue;
        const q = iqr(xs);
        values.push({ instance: i.label, selection: sel, generation: g, median: median(xs), q1: q.q1, q3: q.q3 });
      }
    }
  }
  if (values.length === 0) return undefined;
  const color =
    colorBy === 'selection'
      ? { field: 'selection', type: 'nominal', title: 'selection', sort: SELECTION_ORDER }
      : { field: 'instance', type: 'nominal', title: 'instance', sort: inst.map((i) => i.label), legend: { labelLimit: 400 } };
  // Log scale only where every plotted value is positive (a perfect fit has RMSE 0).
  const positive = values.every((v) => (v as { q1: number }).q1 > 0);
  const y = { type: 'quantitative', title: m.label, ...(m.log && positive ? { scale: { type: 'log' } } : {}) };
  const layered = {
    width: colorBy === 'selection' ? 220 : 360,
    height: 160,
    encoding: { x: { field: 'generation', type: 'quantitative', title: 'generation' }, color },
    layer: [
      { mark: { type: 'area', opacity: 0.2 }, encoding: { y: { ...y, field: 'q1' }, y2: { field: 'q3' } } },
      { mark: { type: 'line', strokeWidth: 2 }, encoding: { y: { ...y, field: 'median' } } },
    ],
  };
  const head = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', data: { values } };
  // Selection modes are compared inside each instance (one panel each); preference plots overlay the instances.
  return colorBy === 'selection'
    ? { ...head, facet: { column: { field: 'instance', type: 'nominal', title: null, sort: inst.map((i) => i.label) } }, spec: layered }
    : { ...head, ...layered };
}

/** The final value of a measure for one run: a run column (`run.`), else the last generation's value. */
function finalValue(r: RunData, key: string): number | undefined {
  if (key.startsWith('run.')) {
    const v = (r.run as unknown as Record<string, unknown>)[key.slice(4)];
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  }
  const v = r.gens[r.gens.length - 1]?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function boxSpec(inst: readonly Instance[], m: FinalMeasure): object | undefined {
  const values: object[] = [];
  for (const i of inst) {
    for (const [sel, runs] of i.runs) {
      for (const r of runs) {
        const v = finalValue(r, m.key);
        if (v !== undefined) values.push({ instance: i.label, selection: sel, value: v });
      }
    }
  }
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values },
    facet: { column: { field: 'instance', type: 'nominal', title: null, sort: inst.map((i) => i.label) } },
    spec: {
      width: 180,
      height: 160,
      mark: { type: 'boxplot', extent: 'min-max' },
      encoding: {
        x: { field: 'selection', type: 'nominal', title: null, sort: SELECTION_ORDER },
        y: { field: 'value', type: 'quantitative', title: m.label, scale: { zero: false } },
        color: { field: 'selection', type: 'nominal', sort: SELECTION_ORDER, legend: null },
      },
    },
  };
}

function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(2);
  return x.toFixed(digits);
}

function successTable(inst: readonly Instance[], threshold: number): string {
  const sels = selections(inst);
  const rows = inst.map((i) => {
    const cellsHtml = sels.map((s) => {
      const runs = i.runs.get(s) ?? [];
      if (runs.length === 0) return '<td>–</td>';
      const k = runs.filter((r) => r.run.success === 1).length;
      const w = wilson(k, runs.length);
      return `<td>${k}/${runs.length} = ${fmt(w.rate, 2)} <span class="ci">[${fmt(w.lo, 2)}, ${fmt(w.hi, 2)}]</span></td>`;
    });
    return `<tr><th>${esc(i.label)}</th>${cellsHtml.join('')}</tr>`;
  });
  return `<p>Success: best train RMSE ≤ ${threshold}. Rate with Wilson 95% interval.</p><table class="success"><thead><tr><th>instance</th>${sels.map((s) => `<th>${esc(s)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Kruskal-Wallis over the selection modes, then every pair by Mann-Whitney U with Holm's correction (src/stats). */
function testTables(inst: readonly Instance[], findings: Findings): string {
  const out: string[] = [];
  for (const m of FINAL) {
    const rows: string[] = [];
    for (const i of inst) {
      const sels = [...i.runs.keys()].sort((a, b) => rank(a) - rank(b));
      const groups = sels
        .map((s) => ({ name: s, values: finite((i.runs.get(s) ?? []).map((r) => finalValue(r, m.key))) }))
        .filter((g) => g.values.length > 0);
      if (groups.length < 2) continue;
      const kw = kruskalWallis(groups.map((g) => g.values));
      const medianOf = new Map(groups.map((g) => [g.name, median(g.values)]));
      pairwiseComparisons(groups, { better: m.better, alpha: ALPHA }).forEach((t, j) => {
        if (t.winner !== undefined && (t.a === 'pimp' || t.b === 'pimp')) {
          const loser = t.winner === t.a ? t.b : t.a;
          findings
            .get(i)
            ?.push(`${m.label}: ${t.winner} better than ${loser} (Holm p = ${fmt(t.pHolm)}, A12(${t.a},${t.b}) = ${fmt(t.a12, 2)})`);
        }
        rows.push(
          `<tr${t.winner ? ' class="sig"' : ''}><th>${esc(i.label)}</th><td>${j === 0 ? `H = ${fmt(kw.H, 2)}, p = ${fmt(kw.p)}` : ''}</td>` +
            `<td>${esc(t.a)}: ${fmt(medianOf.get(t.a))}</td><td>${esc(t.b)}: ${fmt(medianOf.get(t.b))}</td><td>${fmt(t.p)}</td><td>${fmt(t.pHolm)}</td><td>${fmt(t.a12, 2)}</td>` +
            `<td>${t.winner ? `<strong>★ ${esc(t.winner)}</strong>` : 'no difference'}</td></tr>`,
        );
      });
    }
    if (rows.length === 0) continue;
    out.push(
      `<h4>${esc(m.label)} (${m.better} is better)</h4><table class="tests"><thead><tr><th>instance</th><th>Kruskal-Wallis</th><th>A (median)</th><th>B (median)</th><th>p</th><th>Holm p</th><th>A12(A,B)</th><th>winner</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    );
  }
  return out.join('\n');
}

function page(
  spec: StudySpec,
  instances: readonly Instance[],
  counts: { done: number; failed: number; planned: number },
  findings: Findings,
  sections: string[],
): string {
  const css = `body{font-family:system-ui,sans-serif;max-width:1400px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;font-size:.9em}
tr.sig{background:#eef7ee}.ci{color:#666}figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}
pre{background:#f6f6f6;padding:.5em;overflow:auto;font-size:.85em}svg{max-width:100%;height:auto}`;
  const grouped = [...findings].filter(([, items]) => items.length > 0);
  const findingsHtml =
    grouped.length > 0
      ? grouped
          .map(([i, items]) => `<h3>${esc(`${i.problem}, ${i.label}`)}</h3><ul>${items.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`)
          .join('\n')
      : '<p>No significant difference involving PIMP.</p>';
  const borrowers = instances.filter((i) => i.borrowed.size > 0);
  const borrowed = [...new Set(borrowers.map((i) => i.variant))];
  const lenders = [...new Set(borrowers.flatMap((i) => [...i.borrowed.values()]))];
  const borrowNote =
    borrowed.length > 0
      ? `<p>Variants run under some selection modes only (${esc(borrowed.join(', '))}) are compared with the other modes' runs of the first variant that has them (${esc(lenders.join(', '))}).</p>`
      : '';
  const toc =
    sections.length > 1 ? `<nav>${spec.problems.map((p) => `<a href="#${esc(slug(p.name))}">${esc(p.name)}</a>`).join(' · ')}</nav>` : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gpmate study ${esc(spec.name)}</title><style>${css}</style></head>
<body><h1>Study ${esc(spec.name)}</h1>
${spec.description ? `<p>${esc(spec.description)}</p>` : ''}
<p>${counts.done} of ${counts.planned} runs finished${counts.failed > 0 ? `, ${counts.failed} failed` : ''}. Grid: ${spec.problems.length} problems × ${spec.selection.length} selection modes × ${spec.mutation.length} mutation types × ${spec.mutationRate.length} mutation rates × ${Object.keys(spec.variants).length} variants${borrowed.length > 0 ? ' (some under some selection modes only)' : ''}: ${expandGrid(spec).length} cells × ${spec.seeds.length} seeds.</p>
${borrowNote}
<h2>Findings involving PIMP (Holm-adjusted p ≤ ${ALPHA}; across runs: bootstrap intervals apart), by instance</h2>
${findingsHtml}
${toc}
${sections.join('\n')}
<h2>Study file</h2><pre>${esc(JSON.stringify(JSON.parse(canonicalJson(spec)), null, 2))}</pre>
</body></html>
`;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
