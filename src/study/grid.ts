import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { metaPathFor } from '../../problems/index.js';
import type { SelectionMode } from '../core/types.js';
import type { DiversitySetting } from '../diversity/index.js';
import type { RegressionOptions } from '../sr/run.js';
import type { MutationSpec } from '../tree/variation.js';
import { variantOptions, variantSelections, type StudyProblem, type StudySpec } from './schema.js';

/** One configuration of a study's grid; it is run once per seed. */
export interface Cell {
  /** Stable hash of everything that determines a run but the seed (see {@link configHash}). */
  readonly hash: string;
  readonly problem: StudyProblem;
  readonly selection: SelectionMode;
  readonly mutation: MutationSpec;
  readonly mutationRate: number;
  readonly variant: string;
  /** The run options, seed excluded. */
  readonly options: Omit<RegressionOptions, 'seed'>;
  readonly diversity: DiversitySetting;
}

/** One run of a study: a cell and a seed. */
export interface RunKey {
  readonly cell: Cell;
  readonly seed: number;
}

/** JSON with object keys sorted at every level, so equal values always serialise to equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** First 16 hex digits of SHA-256 of the canonical JSON: the identity of a configuration. */
export function configHash(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);
}

/** Hash of the whole study: changes whenever the grid, the seeds or any setting changes. */
export function studyHash(spec: StudySpec): string {
  return configHash(spec);
}

/**
 * Expands a study into its cells, in a fixed order (problem, selection, mutation, mutation rate, variant);
 * a variant that lists its selection modes has cells only for those.
 * The cell hash covers the problem, the full option set (shared settings, variant overrides and axis values),
 * the success threshold and whether diversity is measured; not the seed, the variant's label or the study name,
 * so the same configuration in two studies has the same hash.
 */
export function expandGrid(spec: StudySpec): Cell[] {
  const cells: Cell[] = [];
  for (const problem of spec.problems) {
    for (const selection of spec.selection) {
      for (const mutation of spec.mutation) {
        for (const mutationRate of spec.mutationRate) {
          for (const [variant, v] of Object.entries(spec.variants)) {
            if (!variantSelections(spec, variant).includes(selection)) continue;
            const options = {
              ...spec.settings,
              ...variantOptions(v),
              selection,
              mutation,
              mutationRate,
              successThreshold: spec.successThreshold,
            };
            const { name: _name, ...problemSpec } = problem;
            const hash = configHash({ problem: problemSpec, options, diversity: spec.diversity });
            cells.push({ hash, problem, selection, mutation, mutationRate, variant, options, diversity: spec.diversity });
          }
        }
      }
    }
  }
  return cells;
}

/**
 * Every run of the study, seed-major: the first seed of every cell, then the second, ... so that a study
 * stopped part-way has about as many seeds in every cell and its partial report compares like with like.
 */
export function expandRuns(spec: StudySpec): RunKey[] {
  const cells = expandGrid(spec);
  return spec.seeds.flatMap((seed) => cells.map((cell) => ({ cell, seed })));
}

/**
 * The data files of a study's problems, as its runs read them: each CSV (absolute path) and the JSON
 * description that goes with it (given, or found beside the CSV), with the problem's name and place.
 */
export function studyDataFiles(
  problems: readonly StudyProblem[],
  baseDir: string,
): { readonly name: string; readonly index: number; readonly data: string; readonly meta?: string }[] {
  return problems.flatMap((p, index) => {
    const abs = problemSpecAt(p, baseDir);
    if (abs.data === undefined) return [];
    const meta = abs.meta ?? metaPathFor(abs.data);
    return [{ name: p.name, index, data: abs.data, ...(meta !== undefined ? { meta } : {}) }];
  });
}

/** Per problem with a data file: {@link filesDigest} of its files, so that a changed file is noticed. */
export function dataDigests(problems: readonly StudyProblem[], baseDir: string): Map<string, string> {
  return new Map(studyDataFiles(problems, baseDir).map((f) => [f.name, filesDigest(f.data, f.meta)]));
}

/**
 * SHA-256 (hex) of a problem's data files: the CSV and its JSON description, `meta` when given, else the
 * one beside the CSV if there is one (as a run finds it).
 */
export function filesDigest(data: string, given: string | undefined): string {
  const meta = given ?? metaPathFor(data);
  const h = createHash('sha256').update(readFileSync(data));
  if (meta !== undefined) h.update('\0').update(readFileSync(meta));
  return h.digest('hex');
}

/** A problem's spec with its data paths made absolute against the study file's folder. */
export function problemSpecAt(problem: StudyProblem, baseDir: string): StudyProblem {
  const abs = (p: string | undefined): string | undefined => (p === undefined || isAbsolute(p) ? p : resolve(baseDir, p));
  const data = abs(problem.data);
  const meta = abs(problem.meta);
  return { ...problem, ...(data !== undefined ? { data } : {}), ...(meta !== undefined ? { meta } : {}) };
}
