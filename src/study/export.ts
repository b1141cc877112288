import { mkdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { optionError } from '../core/errors.js';
import { acrossByCell } from './across.js';
import { StudyStore, type GenerationRow } from './store.js';

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
function field(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A CSV file's text in pieces of `linesPerPiece` lines (a header line, then one line per row, each ending
 * in a line break): the text of millions of rows would pass the longest string V8 can make.
 */
export function* csvPieces(header: readonly string[], rows: Iterable<readonly unknown[]>, linesPerPiece = 10_000): Generator<string> {
  let piece = header.map(field).join(',') + '\n';
  let lines = 1;
  for (const r of rows) {
    if (lines === linesPerPiece) {
      yield piece;
      piece = '';
      lines = 0;
    }
    piece += r.map(field).join(',') + '\n';
    lines++;
  }
  yield piece;
}

/** `rows` with `f` applied to each, lazily. */
function* mapped<T, U>(rows: Iterable<T>, f: (row: T) => U): Generator<U> {
  for (const r of rows) yield f(r);
}

/**
 * Writes the study's tables as CSV into `dir`: runs.csv (one row per run, with its cell's axes),
 * generations.csv (one row per run per generation; the diversity measures as columns), cells.csv and
 * across.csv (per cell, the diversity of its seeds' best solutions with bootstrap 95% bounds; src/study/across.ts).
 * Each file is written atomically. Returns the paths written.
 */
export function exportCsv(dbPath: string, dir: string): string[] {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw optionError('csv', `${dir} is not a folder`);
  const store = StudyStore.openForRead(dbPath);
  try {
    const spec = store.study(); // read before anything is written: a study it cannot read leaves no files behind
    const cells = store.cells();
    const byHash = new Map(cells.map((c) => [c.hash, c]));
    const axes = (hash: string): unknown[] => {
      const c = byHash.get(hash);
      return [c?.problem, c?.selection, c?.mutation, c?.mutation_rate, c?.variant];
    };
    const AXES = ['problem', 'selection', 'mutation', 'mutation_rate', 'variant'];
    mkdirSync(dir, { recursive: true });
    const written: string[] = [];
    const put = (name: string, text: Iterable<string>): void => {
      const p = join(dir, name);
      writeFileAtomic(p, text);
      written.push(p);
    };
    put(
      'cells.csv',
      csvPieces(
        ['cell', ...AXES, 'options'],
        cells.map((c) => [c.hash, c.problem, c.selection, c.mutation, c.mutation_rate, c.variant, c.options]),
      ),
    );
    const runs = store.runs();
    const runCols = [
      'status',
      'best_train',
      'best_test',
      'train_r2',
      'test_r2',
      'success',
      'size',
      'depth',
      'expression',
      'preference',
      'generations',
      'evaluations',
      'error',
      'started_at',
      'finished_at',
      'wall_ms',
    ] as const;
    put(
      'runs.csv',
      csvPieces(
        ['cell', ...AXES, 'seed', ...runCols],
        runs.map((r) => [r.cell, ...axes(r.cell), r.seed, ...runCols.map((k) => r[k])]),
      ),
    );
    // generation rows are read twice, one at a time (the measure names first), never held together
    const extras = extraKeys(store.eachGeneration());
    const genCols = [
      'generation',
      'evaluations',
      'best_fitness',
      'median_fitness',
      'mean_fitness',
      'invalid_share',
      'best_size',
      'mean_size',
      'unique_share',
      'pref_mean_size',
      'pref_median_size',
      'pref_single_node_share',
      'pref_mean_mate_distance',
    ] as const;
    put(
      'generations.csv',
      csvPieces(
        ['cell', ...AXES, 'seed', ...genCols, ...extras],
        mapped(store.eachGeneration(), (g) => {
          const extra = g.extra ? (JSON.parse(g.extra) as Record<string, number>) : {};
          return [g.cell, ...axes(g.cell), g.seed, ...genCols.map((k) => g[k]), ...extras.map((k) => extra[k])];
        }),
      ),
    );
    const across = acrossByCell(spec, dbPath, store.studyDir(), cells, runs, store.dataDigests()).measures;
    const measures = ['distance', 'distanceNorm', 'distinct'] as const;
    const names = ['distance', 'distance_norm', 'distinct_pairs'];
    put(
      'across.csv',
      csvPieces(
        ['cell', ...AXES, 'runs', 'behaviours', ...names.flatMap((n) => [n, `${n}_lo`, `${n}_hi`])],
        cells
          .filter((c) => across.has(c.hash))
          .map((c) => {
            const a = across.get(c.hash)!;
            return [c.hash, ...axes(c.hash), a.runs, a.behaviours, ...measures.flatMap((k) => [a[k].value, a[k].lo, a[k].hi])];
          }),
      ),
    );
    return written;
  } finally {
    store.close();
  }
}

/** The union of the extra measure names, sorted. */
export function extraKeys(gens: Iterable<GenerationRow>): string[] {
  const keys = new Set<string>();
  for (const g of gens) if (g.extra) for (const k of Object.keys(JSON.parse(g.extra) as object)) keys.add(k);
  return [...keys].sort();
}
