import { resolveTask, type ProblemSpec } from '../../problems/index.js';
import { ConfigError, DataError, readJsonFile } from '../core/errors.js';
import { MAX_SEED } from '../core/options.js';
import { SELECTION_MODES, type SelectionMode } from '../core/types.js';
import { diversityFromOption, type DiversitySetting } from '../diversity/index.js';
import { makeDataset, type RegressionTask } from '../eval/dataset.js';
import {
  OPTION_KINDS,
  OPTION_NAMES,
  REGRESSION_DEFAULTS,
  resolveRegressionOptions,
  type OptionKind,
  type OptionName,
  type RegressionOptions,
} from '../sr/options.js';
import { parseMutation, type MutationSpec } from '../tree/variation.js';

/**
 * A study: a grid of GP configurations run over many seeds, whose results land in one SQLite file.
 *
 * ```json
 * { "name": "paper", "problems": ["koza-1", {"name": "concrete", "data": "Concrete.csv"}],
 *   "selection": ["pimp", "tournament", "random-mate"], "mutation": ["subtree", "point"],
 *   "mutationRate": [0.1, 0.3], "variants": {"k7": {"tournamentSize": 7}},
 *   "settings": {"populationSize": 100, "generations": 50}, "seeds": 30, "successThreshold": 0.01 }
 * ```
 * The grid is problems x selection x mutation x mutationRate x variants; each cell runs every seed.
 */
export interface StudySpec {
  readonly name: string;
  readonly description?: string;
  readonly problems: readonly StudyProblem[];
  readonly selection: readonly SelectionMode[];
  /** Mutation settings: operator names or weighted lists (`subtree:1,constant:2`), as `--mutation` takes them. */
  readonly mutation: readonly MutationSpec[];
  readonly mutationRate: readonly number[];
  /**
   * Named option overrides: one more grid axis. Default: one variant, `default`, with no overrides. A variant
   * may list the selection modes it runs under (`"selection": ["pimp"]`, a subset of the study's); the report
   * compares it with the other modes' runs of the first variant that has them (see {@link StudyVariant}).
   */
  readonly variants: Readonly<Record<string, StudyVariant>>;
  /** Options shared by every cell (any run option except the axes and the seed). */
  readonly settings: StudyOptions;
  readonly seeds: readonly number[];
  readonly successThreshold: number;
  /** The diversity measures every generation: true (default), false, or {sampleSize, decimals, fitnessDigits}. */
  readonly diversity: DiversitySetting;
}

/** A problem of a study: a benchmark by name, or a CSV file (paths relative to the study file's folder). */
export interface StudyProblem extends ProblemSpec {
  readonly name: string;
}

/** Run options a study may set in `settings` or a variant. */
export type StudyOptions = Omit<RegressionOptions, (typeof AXES)[number]>;

/**
 * A variant: run options, and optionally the selection modes it runs under (default: all of the study's).
 * A variant that changes only PIMP's choices need not rerun the baselines: `{"mateRule": "dissimilar",
 * "selection": ["pimp"]}`.
 */
export type StudyVariant = StudyOptions & { readonly selection?: readonly SelectionMode[] };

/** The selection modes a variant runs under: its own list, else all of the study's. */
export function variantSelections(spec: Pick<StudySpec, 'selection' | 'variants'>, variant: string): readonly SelectionMode[] {
  return spec.variants[variant]?.selection ?? spec.selection;
}

/** A variant's run options, without its selection list. */
export function variantOptions(v: StudyVariant): StudyOptions {
  const { selection: _selection, ...options } = v;
  return options;
}

/** Most seeds of a study (each cell runs every one). */
export const MAX_STUDY_SEEDS = 100_000;

/** Most runs of a study (cells x seeds): each is a row of the results database, with a row per generation. */
export const MAX_STUDY_RUNS = 1_000_000;

/** Options a study file may not set in `settings` or a variant: the grid's axes, the seed, the diversity measures. */
const AXES = ['seed', 'selection', 'mutation', 'mutationRate', 'successThreshold', 'diversity'] as const;

const TOP_KEYS = [
  'name',
  'description',
  'problems',
  'selection',
  'mutation',
  'mutationRate',
  'variants',
  'settings',
  'seeds',
  'successThreshold',
  'diversity',
] as const;

const PROBLEM_KEYS = ['name', 'problem', 'data', 'meta', 'target', 'train', 'test'] as const;

/** Reads and validates a study file; every error names the file and the field. */
export function readStudyFile(path: string): StudySpec {
  return parseStudy(readJsonFile(path, `study file ${path}`), path);
}

/** Validates a parsed study object (see {@link StudySpec}) and fills its defaults. */
export function parseStudy(json: unknown, source = 'study'): StudySpec {
  const fail = (field: string, msg: string): never => studyError(source, field, msg);
  if (!isObject(json)) throw new ConfigError(`study file ${source}: expected a JSON object at the top level`);
  for (const k of Object.keys(json)) {
    if (!(TOP_KEYS as readonly string[]).includes(k)) fail(k, `unknown field (known: ${TOP_KEYS.join(', ')})`);
  }
  const name = json['name'];
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    fail('name', `expected a name of letters, digits, '.', '_' or '-', got ${show(name)}`);
  }
  const description = json['description'];
  if (description !== undefined && typeof description !== 'string') fail('description', `expected a string, got ${show(description)}`);

  const problems = nonEmptyArray(json['problems'], 'problems', fail).map((p, i) => problemOf(p, `problems[${i}]`, fail));
  const names = new Set<string>();
  problems.forEach((p, i) => {
    if (names.has(p.name)) fail(`problems[${i}]`, `problem name "${p.name}" is listed twice`);
    names.add(p.name);
  });
  const selection = choices(json['selection'] ?? [...SELECTION_MODES], 'selection', SELECTION_MODES, fail);
  const mutation = nonEmptyArray(json['mutation'] ?? ['subtree'], 'mutation', fail).map((m, i) => {
    try {
      parseMutation(m);
    } catch (e) {
      if (e instanceof ConfigError && e.detail !== undefined) fail(`mutation[${i}]`, e.detail);
      throw e;
    }
    return m as MutationSpec;
  });
  distinct(mutation, 'mutation', fail);
  const mutationRate = nonEmptyArray(json['mutationRate'] ?? [0.1], 'mutationRate', fail).map((r, i) => {
    if (typeof r !== 'number' || !(r >= 0 && r <= 1)) fail(`mutationRate[${i}]`, `expected a probability in [0, 1], got ${show(r)}`);
    return r as number;
  });
  distinct(mutationRate, 'mutationRate', fail);

  const settings = optionsOf(json['settings'] ?? {}, 'settings', fail);
  const rawVariants = json['variants'] ?? { default: {} };
  if (!isObject(rawVariants) || Object.keys(rawVariants).length === 0) fail('variants', 'expected a non-empty object of named option sets');
  const variants: Record<string, StudyVariant> = {};
  for (const [label, v] of Object.entries(rawVariants as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.=-]*$/.test(label)) fail(`variants.${label}`, "variant names are letters, digits, '.', '_', '=' or '-'");
    if (isObject(v) && v['selection'] !== undefined) {
      const { selection: only, ...rest } = v;
      const own = choices(only, `variants.${label}.selection`, SELECTION_MODES, fail);
      own.forEach((m, i) => {
        if (!selection.includes(m))
          fail(`variants.${label}.selection[${i}]`, `"${m}" is not one of the study's selection modes (${selection.join(', ')})`);
      });
      variants[label] = { ...optionsOf(rest, `variants.${label}`, fail), selection: own };
    } else variants[label] = optionsOf(v, `variants.${label}`, fail);
  }

  selection.forEach((m, i) => {
    if (!Object.keys(variants).some((label) => variantSelections({ selection, variants }, label).includes(m)))
      fail(`selection[${i}]`, `"${m}" is run by no variant (every variant lists its own selection modes without it)`);
  });

  const seeds = seedsOf(json['seeds'], fail);
  const successThreshold = json['successThreshold'] ?? REGRESSION_DEFAULTS.successThreshold;
  if (typeof successThreshold !== 'number' || !(successThreshold >= 0))
    fail('successThreshold', `expected a number >= 0, got ${show(successThreshold)}`);
  const diversity = json['diversity'] ?? true;
  try {
    diversityFromOption(makeDataset(['x'], [new Float64Array([0, 1])], new Float64Array([0, 1])), diversity, 1);
  } catch (e) {
    if (e instanceof ConfigError) fail('diversity', e.message);
    throw e;
  }

  const spec: StudySpec = {
    name: name as string,
    ...(description !== undefined ? { description: description as string } : {}),
    problems,
    selection,
    mutation,
    mutationRate,
    variants,
    settings,
    seeds,
    successThreshold: successThreshold as number,
    diversity: diversity as DiversitySetting,
  };
  const perGrid = Object.keys(variants).reduce((n, label) => n + variantSelections({ selection, variants }, label).length, 0);
  const runs = problems.length * mutation.length * mutationRate.length * perGrid * seeds.length;
  if (runs > MAX_STUDY_RUNS) fail('seeds', `the grid has ${runs} runs (cells x seeds); a study holds at most ${MAX_STUDY_RUNS}`);
  checkOptionValues(spec, fail);
  return spec;
}

/** Resolves every combination of settings, variant and axes through the options model, naming the field on error. */
function checkOptionValues(spec: StudySpec, fail: (field: string, msg: string) => never): void {
  // The shared settings alone first, so that their errors name "settings" rather than a variant.
  const checks: [string, StudyOptions, readonly SelectionMode[]][] = [
    ['settings', {}, spec.selection],
    ...Object.entries(spec.variants).map(([label, v]): [string, StudyOptions, readonly SelectionMode[]] => [
      `variants.${label}`,
      variantOptions(v),
      variantSelections(spec, label),
    ]),
  ];
  for (const [field, v, selections] of checks) {
    for (const selection of selections) {
      for (const mutation of spec.mutation) {
        try {
          resolveRegressionOptions({ ...spec.settings, ...v, selection, mutation, mutationRate: spec.mutationRate[0] });
        } catch (e) {
          if (e instanceof ConfigError) fail(field, e.message);
          throw e;
        }
      }
    }
  }
}

/** Checks that every problem of the study resolves (benchmark known, CSV readable); returns their tasks, in order. */
export function checkProblems(spec: StudySpec, source: string = spec.name): RegressionTask[] {
  return spec.problems.map((p, i) => {
    try {
      return resolveTask(p, spec.seeds[0] ?? 1);
    } catch (e) {
      if (e instanceof ConfigError || e instanceof DataError) studyError(source, `problems[${i}]`, e.message);
      throw e;
    }
  });
}

/** The error of a study file's field. */
export function studyError(source: string, field: string, msg: string): never {
  throw new ConfigError(`study file ${source}: field "${field}": ${msg}`);
}

/**
 * A parsed study (as a database stores it) in the study file's own form again, so that parseStudy reads it back:
 * a problem's row ranges `{start, end}` become `[start, end]`.
 */
export function studyFileJson(spec: StudySpec): unknown {
  const asPair = (r: { start: number; end: number } | undefined): [number, number] | undefined => r && [r.start, r.end];
  return {
    ...spec,
    problems: spec.problems.map(({ train, test, ...p }) => ({
      ...p,
      ...(train ? { train: asPair(train) } : {}),
      ...(test ? { test: asPair(test) } : {}),
    })),
  };
}

function problemOf(p: unknown, field: string, fail: (f: string, m: string) => never): StudyProblem {
  if (typeof p === 'string') return { name: p.toLowerCase(), problem: p.toLowerCase() };
  if (!isObject(p)) return fail(field, `expected a benchmark name or an object {name, problem | data, ...}, got ${show(p)}`);
  for (const k of Object.keys(p)) {
    if (!(PROBLEM_KEYS as readonly string[]).includes(k)) fail(`${field}.${k}`, `unknown field (known: ${PROBLEM_KEYS.join(', ')})`);
  }
  const strField = (k: string): string | undefined => {
    const v = p[k];
    if (v !== undefined && typeof v !== 'string') fail(`${field}.${k}`, `expected a string, got ${show(v)}`);
    return v as string | undefined;
  };
  const range = (k: string): { start: number; end: number } | undefined => {
    const v = p[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 0) || v[0] > v[1]) {
      return fail(`${field}.${k}`, `expected [start, end] row indices, got ${show(v)}`);
    }
    return { start: v[0] as number, end: v[1] as number };
  };
  const problem = strField('problem');
  const data = strField('data');
  if ((problem === undefined) === (data === undefined)) fail(field, 'give exactly one of "problem" (a benchmark) or "data" (a CSV file)');
  const name = strField('name') ?? problem?.toLowerCase();
  if (name === undefined) return fail(`${field}.name`, 'a CSV problem needs a name');
  const train = range('train');
  const test = range('test');
  const meta = strField('meta');
  const target = strField('target');
  return {
    name,
    ...(problem !== undefined ? { problem: problem.toLowerCase() } : {}),
    ...(data !== undefined ? { data } : {}),
    ...(meta !== undefined ? { meta } : {}),
    ...(target !== undefined ? { target } : {}),
    ...(train ? { train } : {}),
    ...(test ? { test } : {}),
  };
}

function optionsOf(v: unknown, field: string, fail: (f: string, m: string) => never): StudyOptions {
  if (!isObject(v)) return fail(field, `expected an object of run options, got ${show(v)}`);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if ((AXES as readonly string[]).includes(k)) fail(`${field}.${k}`, `"${k}" is set at the top level of the study`);
    const kind = Object.hasOwn(OPTION_KINDS, k) ? OPTION_KINDS[k as OptionName] : undefined;
    if (kind === undefined) {
      const known = OPTION_NAMES.filter((n) => !(AXES as readonly string[]).includes(n));
      return fail(`${field}.${k}`, `unknown option (known: ${known.join(', ')})`);
    }
    const [matches, shape] = JSON_SHAPES[kind.type];
    if (!matches(x)) fail(`${field}.${k}`, `expected ${shape}, got ${show(x)}`);
    out[k] = x;
  }
  return out as StudyOptions;
}

const isPair = (x: unknown) => Array.isArray(x) && x.length === 2 && x.every((n) => typeof n === 'number' && Number.isFinite(n));

/** The JSON shape of each kind of option and its description (ranges are the options model's to check). */
const JSON_SHAPES: Record<OptionKind['type'], readonly [(x: unknown) => boolean, string]> = {
  integer: [Number.isInteger, 'an integer'],
  number: [(x) => typeof x === 'number' && Number.isFinite(x), 'a number'],
  choice: [(x) => typeof x === 'string', 'a string'],
  boolean: [(x) => typeof x === 'boolean', 'a boolean'],
  pair: [isPair, 'a pair [a, b]'],
  'integer-pair': [isPair, 'a pair [a, b]'],
  string: [(x) => typeof x === 'string', 'a string'],
  strings: [(x) => Array.isArray(x) && x.every((s) => typeof s === 'string'), 'a list of strings'],
  diversity: [() => true, 'a diversity setting'],
};

function seedsOf(v: unknown, fail: (f: string, m: string) => never): number[] {
  const seedList = `a list of seeds (integers in 0..${MAX_SEED})`;
  if (v === undefined) return fail('seeds', `required: a count N (seeds 1..N) or ${seedList}`);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || v > MAX_STUDY_SEEDS)
      fail('seeds', `expected a count in 1..${MAX_STUDY_SEEDS} or ${seedList}, got ${show(v)}`);
    return Array.from({ length: v }, (_, i) => i + 1);
  }
  const list = nonEmptyArray(v, 'seeds', fail);
  if (list.length > MAX_STUDY_SEEDS) fail('seeds', `${list.length} seeds; a study runs at most ${MAX_STUDY_SEEDS} seeds per cell`);
  list.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0 || s > MAX_SEED)
      fail(`seeds[${i}]`, `expected an integer in 0..${MAX_SEED}, got ${show(s)}`);
  });
  distinct(list as number[], 'seeds', fail);
  return list as number[];
}

function choices<T extends string>(v: unknown, field: string, allowed: readonly T[], fail: (f: string, m: string) => never): T[] {
  const list = nonEmptyArray(v, field, fail);
  list.forEach((x, i) => {
    if (typeof x !== 'string' || !(allowed as readonly string[]).includes(x))
      fail(`${field}[${i}]`, `expected one of ${allowed.join(', ')}, got ${show(x)}`);
  });
  distinct(list as string[], field, fail);
  return list as T[];
}

function nonEmptyArray(v: unknown, field: string, fail: (f: string, m: string) => never): unknown[] {
  if (!Array.isArray(v) || v.length === 0) return fail(field, `expected a non-empty list, got ${show(v)}`);
  return v;
}

function distinct(xs: readonly (string | number)[], field: string, fail: (f: string, m: string) => never): void {
  const seen = new Set<string | number>();
  xs.forEach((x, i) => {
    if (seen.has(x)) fail(`${field}[${i}]`, `${show(x)} is listed twice`);
    seen.add(x);
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
