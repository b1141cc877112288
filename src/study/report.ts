import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../core/atomic.js';
import { ConfigError, optionError } from '../core/errors.js';
import { iqr, kruskalWallis, median, pairwiseComparisons, wilson } from '../stats/index.js';
import { canonicalJson, expandGrid } from './grid.js';
import type { StudySpec } from './schema.js';
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

/** A problem x mutation x rate x variant instance: the selection modes are compared inside it. */
interface Instance {
  readonly problem: string;
  readonly label: string;
  readonly runs: Map<string, RunData[]>;
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
  try {
    spec = store.study();
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
  const findings: string[] = [];
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
    for (const m of SERIES)
      await fig(
        `gen-${m.key}`,
        `${problem}: ${m.label}`,
        seriesSpec(inst, m, () => true, 'selection'),
      );
    parts.push('<h3>Final measures</h3>');
    for (const m of FINAL) await fig(`box-${m.key}`, `${problem}: ${m.label} (box: quartiles; whiskers: min-max)`, boxSpec(inst, m));
    parts.push('<h3>Success rate</h3>', successTable(inst, spec.successThreshold));
    parts.push(
      `<h3>Pairwise tests (two-sided Mann-Whitney U; Holm over the three pairs of each measure and instance; winner where Holm p ≤ ${ALPHA})</h3>`,
    );
    parts.push(testTables(inst, findings));
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
  const planned = cells.length > 0 ? spec.seeds.length * countCells(spec) : 0;
  const html = page(spec, { done, failed, planned }, findings, sections);
  for (const f of figures) writeFileAtomic(join(outDir, 'figures', f.file), f.svg);
  const htmlPath = join(outDir, 'report.html');
  writeFileAtomic(htmlPath, html);
  return { html: htmlPath, figures: figures.map((f) => join(outDir, 'figures', f.file)) };
}

function countCells(spec: StudySpec): number {
  return spec.problems.length * spec.selection.length * spec.mutation.length * spec.mutationRate.length * Object.keys(spec.variants).length;
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
  const multiVariant = Object.keys(spec.variants).length > 1;
  const out = new Map<string, Instance>();
  for (const run of runs) {
    const cell = byCell.get(run.cell);
    if (!cell || run.status !== 'done') continue;
    const label = `${cell.mutation} mutation, rate ${cell.mutation_rate}${multiVariant ? `, ${cell.variant}` : ''}`;
    const key = `${cell.problem}\u0000${label}`;
    let inst = out.get(key);
    if (!inst) out.set(key, (inst = { problem: cell.problem, label, runs: new Map() }));
    let list = inst.runs.get(cell.selection);
    if (!list) inst.runs.set(cell.selection, (list = []));
    list.push({ cell, run, gens: gensOf.get(`${run.cell}/${run.seed}`) ?? [] });
  }
  // Study order: problems, then mutation, rate and variant as listed in the study file.
  const order = (i: Instance): number[] => {
    const c = [...i.runs.values()][0]?.[0]?.cell as CellRow;
    return [
      spec.problems.findIndex((p) => p.name === c.problem),
      spec.mutation.indexOf(c.mutation as never),
      spec.mutationRate.indexOf(c.mutation_rate),
      Object.keys(spec.variants).indexOf(c.variant),
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
function testTables(inst: readonly Instance[], findings: string[]): string {
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
          findings.push(
            `${i.problem}, ${i.label}: ${m.label}: ${t.winner} better than ${loser} (Holm p = ${fmt(t.pHolm)}, A12(${t.a},${t.b}) = ${fmt(t.a12, 2)})`,
          );
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

function page(spec: StudySpec, counts: { done: number; failed: number; planned: number }, findings: string[], sections: string[]): string {
  const css = `body{font-family:system-ui,sans-serif;max-width:1400px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;font-size:.9em}
tr.sig{background:#eef7ee}.ci{color:#666}figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}
pre{background:#f6f6f6;padding:.5em;overflow:auto;font-size:.85em}svg{max-width:100%;height:auto}`;
  const toc =
    sections.length > 1 ? `<nav>${spec.problems.map((p) => `<a href="#${esc(slug(p.name))}">${esc(p.name)}</a>`).join(' · ')}</nav>` : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gpmate study ${esc(spec.name)}</title><style>${css}</style></head>
<body><h1>Study ${esc(spec.name)}</h1>
${spec.description ? `<p>${esc(spec.description)}</p>` : ''}
<p>${counts.done} of ${counts.planned} runs finished${counts.failed > 0 ? `, ${counts.failed} failed` : ''}. Grid: ${spec.problems.length} problems × ${spec.selection.length} selection modes × ${spec.mutation.length} mutation types × ${spec.mutationRate.length} mutation rates × ${Object.keys(spec.variants).length} variants × ${spec.seeds.length} seeds.</p>
<h2>Findings involving PIMP (Holm-adjusted p ≤ ${ALPHA})</h2>
${findings.length > 0 ? `<ul>${findings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : '<p>No significant difference involving PIMP.</p>'}
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
