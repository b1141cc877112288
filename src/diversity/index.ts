/**
 * Per-generation diversity measures for tree populations, shaped as the `measure`
 * hook of {@link evolve}: genotypic (unique share, structural distance), behavioural (distinct
 * output vectors and their entropy), fitness entropy, size/depth/balance, and PIMP preference
 * statistics. They use their own seeded random stream, so turning them on never changes a run.
 */
import { ConfigError, optionError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Individual } from '../core/types.js';
import type { Dataset } from '../eval/dataset.js';
import { WasmEvaluator } from '../eval/wasm-evaluator.js';
import { evaluateTree } from '../eval/reference.js';
import { depth, treeKey, type Tree } from '../tree/tree.js';
import { topDownDistance } from '../tree/distance.js';

/** The keys every call of a {@link treeDiversity} measure returns, in this order. */
export const DIVERSITY_KEYS = [
  'uniqueShare',
  'structuralDiversity',
  'structuralDiversityNorm',
  'behaviouralUnique',
  'behaviouralEntropy',
  'fitnessEntropy',
  'meanSize',
  'medianSize',
  'meanDepth',
  'medianDepth',
  'depthBalance',
  'prefMeanSize',
  'prefMeanDepth',
  'prefSingleNodeShare',
] as const;
export type DiversityKey = (typeof DIVERSITY_KEYS)[number];
export type DiversityMeasures = Record<DiversityKey, number>;

/**
 * Outputs of a batch of trees on every row of a data set, one Float64Array per tree. This is the
 * one place the diversity measures evaluate trees: swap in a faster batch evaluator here.
 */
export type TreeOutputs = (trees: readonly Tree[], data: Dataset) => Float64Array[];

/** The reference evaluator, tree by tree (f64, the project's semantics): slow, kept for checks. */
export const treeOutputs: TreeOutputs = (trees, data) => trees.map((t) => evaluateTree(t, data.columns, data.rows));

/**
 * Default {@link TreeOutputs} of a measure: the WebAssembly kernel (src/eval/wasm-evaluator.ts), bit-identical
 * to {@link treeOutputs}, built once for the data set the measure is made for.
 */
function fastOutputs(train: Dataset): TreeOutputs {
  const fast = new WasmEvaluator(train);
  return (trees, data) => (data === train ? fast.outputsSync(trees) : treeOutputs(trees, data));
}

export interface TreeDiversityOptions {
  /**
   * Pairs sampled for structural diversity (default 100, at most {@link MAX_DIVERSITY_SAMPLE}). When the population has no more
   * distinct pairs than this, every pair is used and no sampling happens.
   */
  sampleSize?: number;
  /** Seed of the pair sampling; each generation draws from its own stream seeded by (seed, generation). */
  seed?: number | string;
  /** Output values are rounded to this many decimal places before comparing vectors (default 6). */
  decimals?: number;
  /** Fitness values are binned by rounding to this many significant digits (default 3). */
  fitnessDigits?: number;
  /** How to compute output vectors (default: the fast kernel, bit-identical to {@link treeOutputs}). */
  outputs?: TreeOutputs;
}

/** Most tree pairs whose distance the structural diversity measures per generation (option diversity.sampleSize). */
export const MAX_DIVERSITY_SAMPLE = 1_000_000;

/**
 * Builds the per-generation measure. Definitions (N = population size; NaN where a measure does
 * not apply, e.g. structural diversity of one individual or preference statistics without
 * preferences):
 *
 * - `uniqueShare`: distinct genotypes by {@link treeKey} / N.
 * - `structuralDiversity`: mean top-down tree edit distance (Selkow; src/tree/distance.ts) between two different members (i != j),
 *   over `sampleSize` index pairs drawn uniformly with replacement by an Rng seeded with
 *   `${seed}:diversity:${generation}` (all N(N-1)/2 pairs when that is no more than `sampleSize`).
 *   The sample has a fixed size so the cost per generation does not grow with N².
 * - `structuralDiversityNorm`: the same pairs, each distance divided by the sum of the two trees' sizes,
 *   d(a, b) / (|a| + |b|), then averaged. The top-down distance is below |a| + |b| (delete one tree,
 *   insert the other), so this lies in [0, 1): 0 for identical trees, near 1 for trees that share
 *   nothing. Unlike the raw mean it does not fall just because the trees are smaller.
 * - `behaviouralUnique`: distinct output vectors on the training rows / N, each value rounded to
 *   `decimals` places (so 1e-9 noise from reordered arithmetic does not count as new behaviour;
 *   NaN outputs equal each other). This is phenotypic diversity in the sense of Burke, Gustafson &
 *   Kendall (2004), "Diversity in genetic programming: an analysis of measures and correlation with
 *   fitness", IEEE TEVC 8(1).
 * - `behaviouralEntropy`: Shannon entropy, in bits, of the partition of the population into those
 *   output-vector classes: -Σ (c/N) log2(c/N); 0 when all behave alike, log2 N when all differ.
 * - `fitnessEntropy`: the same entropy over fitness classes (Rosca 1995, "Entropy-driven adaptive
 *   representation"), where two fitness values are in one class when they agree to `fitnessDigits`
 *   significant digits (`toPrecision`); every non-finite fitness (a failed evaluation) is one
 *   class. Binning by significant digits rather than fixed-width bins keeps the measure
 *   meaningful both at RMSE 100 and at RMSE 1e-4, without knowing the range in advance.
 * - `meanSize`, `medianSize`, `meanDepth`, `medianDepth`: genome size in nodes, depth in edges.
 * - `depthBalance`: mean over the population of minDepth(size) / depth, where
 *   minDepth(n) = ⌊log2 n⌋ is the least depth any tree of n nodes with arity <= 2 can have (a depth-d
 *   tree has at most 2^(d+1) - 1 nodes); a single node counts as 1. It is 1 for a tree as shallow as
 *   its size allows (perfectly balanced) and falls towards 0 for a chain. Simões, Lourenço &
 *   Machado (arXiv 2504.06110, 2025) report PIMP's solutions as smaller and "more balanced
 *   depth-wise" than tournament's; the abstract does not give an operational definition (and we
 *   could not retrieve the body), so this ratio is ours. Relating depth to size is what makes
 *   that claim testable, since depth alone shrinks with size.
 * - `prefMeanSize`, `prefMeanDepth`, `prefSingleNodeShare`: size and depth of the preferences
 *   (ideal mates) and the share that are a single node, the collapse the 2025 paper reports under
 *   point mutation.
 *
 * The returned function remembers the previous generation's output vectors by genotype, so
 * elites and unvaried copies are not evaluated again.
 */
export function treeDiversity(
  train: Dataset,
  o: TreeDiversityOptions = {},
): (population: readonly Individual<Tree>[], generation: number) => DiversityMeasures {
  const sampleSize = o.sampleSize ?? 100;
  if (!Number.isInteger(sampleSize) || sampleSize < 1 || sampleSize > MAX_DIVERSITY_SAMPLE)
    throw new ConfigError(`option diversity.sampleSize: expected an integer in 1..${MAX_DIVERSITY_SAMPLE}, got ${String(sampleSize)}`);
  const decimals = o.decimals ?? 6;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 15)
    throw new ConfigError(`option diversity.decimals: expected an integer in 0..15, got ${String(decimals)}`);
  const fitnessDigits = o.fitnessDigits ?? 3;
  if (!Number.isInteger(fitnessDigits) || fitnessDigits < 1 || fitnessDigits > 21) {
    throw new ConfigError(`option diversity.fitnessDigits: expected an integer in 1..21, got ${String(fitnessDigits)}`);
  }
  const seed = o.seed ?? 'gpmate';
  const outputs = o.outputs ?? fastOutputs(train);
  let cache = new Map<string, Float64Array>();

  return (population, generation) => {
    const n = population.length;
    const genomes = population.map((p) => p.genome);
    const keys = genomes.map(treeKey);
    // Rounded output vectors, by genotype: reuse last generation's, evaluate only new genotypes.
    const vectors = new Map<string, Float64Array>();
    const todo: Tree[] = [];
    const todoKeys: string[] = [];
    const pending = new Set<string>();
    keys.forEach((k, i) => {
      if (vectors.has(k) || pending.has(k)) return;
      const hit = cache.get(k);
      if (hit) vectors.set(k, hit);
      else {
        todo.push(genomes[i] as Tree);
        todoKeys.push(k);
        pending.add(k);
      }
    });
    if (todo.length) {
      const out = outputs(todo, train);
      if (out.length !== todo.length) throw new Error(`diversity outputs: ${out.length} output vectors for ${todo.length} trees`);
      todoKeys.forEach((k, i) => vectors.set(k, roundVector(out[i] as Float64Array, decimals)));
    }
    cache = vectors;

    const sizes = genomes.map((g) => g.op.length);
    const depths = genomes.map(depth);
    const prefs = n > 0 && population.every((p) => p.preference !== undefined) ? population.map((p) => p.preference as Tree) : undefined;
    const behaviour = classCounts(keys.map((k) => vectors.get(k) as Float64Array));
    const structural = structuralDiversities(genomes, sampleSize, new Rng(`${seed}:diversity:${generation}`));
    return {
      uniqueShare: n ? new Set(keys).size / n : NaN,
      structuralDiversity: structural.mean,
      structuralDiversityNorm: structural.normalised,
      behaviouralUnique: n ? behaviour.length / n : NaN,
      behaviouralEntropy: n ? entropyBits(behaviour) : NaN,
      fitnessEntropy: fitnessEntropy(population, fitnessDigits),
      meanSize: mean(sizes),
      medianSize: median(sizes),
      meanDepth: mean(depths),
      medianDepth: median(depths),
      depthBalance: mean(genomes.map((g, i) => depthBalance(g.op.length, depths[i] as number))),
      prefMeanSize: prefs ? mean(prefs.map((t) => t.op.length)) : NaN,
      prefMeanDepth: prefs ? mean(prefs.map(depth)) : NaN,
      prefSingleNodeShare: prefs ? prefs.filter((t) => t.op.length === 1).length / n : NaN,
    };
  };
}

/** The settings of the diversity measures a run (or a study file) may give: `true`, or some of these. */
export type DiversitySetting = boolean | Pick<TreeDiversityOptions, 'sampleSize' | 'decimals' | 'fitnessDigits'>;
const SETTING_KEYS = ['sampleSize', 'decimals', 'fitnessDigits'] as const;

/**
 * The measure for a run's `diversity` option, validated (undefined when off): `true` for the
 * defaults, or an object with some of sampleSize, decimals, fitnessDigits. The run's seed seeds
 * the pair sampling.
 */
export function diversityFromOption(
  train: Dataset,
  setting: unknown,
  seed: number | string,
): ((population: readonly Individual<Tree>[], generation: number) => DiversityMeasures) | undefined {
  if (setting === undefined || setting === false) return undefined;
  checkDiversitySetting(setting);
  return treeDiversity(train, { ...(setting === true ? {} : (setting as Exclude<DiversitySetting, boolean>)), seed });
}

/** Checks a `diversity` option: true, false, or an object with some of sampleSize, decimals, fitnessDigits. */
export function checkDiversitySetting(setting: unknown): asserts setting is DiversitySetting {
  if (typeof setting === 'boolean') return;
  if (typeof setting !== 'object' || setting === null || Array.isArray(setting)) {
    throw optionError('diversity', `expected true, false or an object with ${SETTING_KEYS.join(', ')}, got ${JSON.stringify(setting)}`);
  }
  for (const k of Object.keys(setting)) {
    if (!(SETTING_KEYS as readonly string[]).includes(k))
      throw optionError(`diversity.${k}`, `unknown (expected ${SETTING_KEYS.join(', ')})`);
  }
}

/** minDepth(size) / depth with minDepth(n) = ⌊log2 n⌋; 1 for a single node. See {@link treeDiversity}. */
export function depthBalance(size: number, treeDepth: number): number {
  if (treeDepth === 0) return 1;
  return (31 - Math.clz32(size)) / treeDepth;
}

/**
 * Mean top-down distance over index pairs i != j: every pair when N(N-1)/2 <= sampleSize, else
 * `sampleSize` pairs drawn uniformly with replacement from `rng`. NaN for fewer than two members.
 */
export function structuralDiversity(trees: readonly Tree[], sampleSize: number, rng: Rng): number {
  return structuralDiversities(trees, sampleSize, rng).mean;
}

/**
 * {@link structuralDiversity} and, over the same pairs, the mean of d(a, b) / (|a| + |b|) (in [0, 1)).
 * Both NaN for fewer than two members.
 */
export function structuralDiversities(trees: readonly Tree[], sampleSize: number, rng: Rng): { mean: number; normalised: number } {
  const n = trees.length;
  if (n < 2) return { mean: NaN, normalised: NaN };
  let sum = 0;
  let norm = 0;
  const pair = (a: Tree, b: Tree): void => {
    const d = topDownDistance(a, b);
    sum += d;
    norm += d / (a.op.length + b.op.length);
  };
  if ((n * (n - 1)) / 2 <= sampleSize) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pair(trees[i] as Tree, trees[j] as Tree);
    const pairs = (n * (n - 1)) / 2;
    return { mean: sum / pairs, normalised: norm / pairs };
  }
  for (let s = 0; s < sampleSize; s++) {
    const i = rng.int(n);
    let j = rng.int(n - 1);
    if (j >= i) j++;
    pair(trees[i] as Tree, trees[j] as Tree);
  }
  return { mean: sum / sampleSize, normalised: norm / sampleSize };
}

/** Shannon entropy in bits of a partition given by its class sizes. */
export function entropyBits(counts: readonly number[]): number {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return NaN;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / total) * Math.log2(c / total);
  return h === 0 ? 0 : h; // no -0
}

/** Entropy of fitness classes (values equal to `digits` significant digits; non-finite = one class). */
export function fitnessEntropy(population: readonly Individual<unknown>[], digits: number): number {
  if (population.length === 0) return NaN;
  const counts = new Map<string, number>();
  for (const p of population) {
    const f = p.fitness;
    if (f === undefined) return NaN;
    const k = Number.isFinite(f) ? f.toPrecision(digits) : 'non-finite';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return entropyBits([...counts.values()]);
}

/** Rounds every value to `decimals` places (halves upwards, as Math.round); -0 becomes 0; NaN and ±Infinity stay. */
export function roundVector(v: Float64Array, decimals: number): Float64Array {
  const scale = 10 ** decimals;
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    const s = x * scale;
    // Beyond 2^52 every double is already an integer multiple of 1/scale's precision: keep it.
    const r = Number.isFinite(s) && Math.abs(s) < 4503599627370496 ? Math.round(s) / scale : x;
    out[i] = r === 0 ? 0 : r;
  }
  return out;
}

const hashF64 = new Float64Array(1);
const hashU32 = new Uint32Array(hashF64.buffer);

/** FNV-1a-style hash over the two 32-bit words of each value (all NaNs hashed alike). */
function hashVector(v: Float64Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    hashF64[0] = Number.isNaN(x) ? NaN : x;
    h = Math.imul(h ^ (hashU32[0] as number), 0x01000193);
    h = Math.imul(h ^ (hashU32[1] as number), 0x01000193);
  }
  return h >>> 0;
}

function sameVector(a: Float64Array, b: Float64Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y && !(Number.isNaN(x) && Number.isNaN(y))) return false;
  }
  return true;
}

/** Sizes of the classes of equal vectors (exact comparison after hashing; collisions are resolved). */
export function classCounts(vectors: readonly Float64Array[]): number[] {
  const buckets = new Map<number, { v: Float64Array; c: number }[]>();
  const classes: { v: Float64Array; c: number }[] = [];
  for (const v of vectors) {
    const h = hashVector(v);
    let bucket = buckets.get(h);
    if (!bucket) buckets.set(h, (bucket = []));
    const hit = bucket.find((e) => sameVector(e.v, v));
    if (hit) hit.c++;
    else {
      const e = { v, c: 1 };
      bucket.push(e);
      classes.push(e);
    }
  }
  return classes.map((e) => e.c);
}

function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? (s[h] as number) : ((s[h - 1] as number) + (s[h] as number)) / 2;
}
