import { ConfigError, optionError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import type { Representation } from '../core/types.js';
import { contentKey, type Example } from './data.js';
import type { FragmentLibrary } from './library.js';
import type { RewriteMode } from './options.js';

/** The single-fragment sections of a prompt, in rendering order (criteria and examples come between). */
export const TEXT_SECTIONS = ['role', 'framing', 'procedure', 'format'] as const;
export type TextSection = (typeof TEXT_SECTIONS)[number];

/**
 * An LLM-driven variation waiting for the generator model. Representation operators are synchronous,
 * so an operator that needs the generator records the request here; the fitness evaluator carries the
 * requests out in order (through the cache) just before it scores the genome. A request names its
 * target by the text it had when it was made: when a later variation has replaced that text (a
 * library mutation switched the section, or dropped the criterion), the request is counted as
 * skipped; a second rewrite of the same target rewrites the first one's result.
 */
export interface PendingRewrite {
  /** `mutate` (plain rewrite), `crossover` (fuse with the other parent's text), `reflect` (GEPA-style, from the prompt's failures). */
  readonly kind: 'mutate' | 'crossover' | 'reflect';
  /** Which text is rewritten: a text section or a criterion. */
  readonly section: TextSection | 'criterion';
  /** The target's text when the request was made. */
  readonly text: string;
  /** The other parent's text (crossover). */
  readonly other?: string;
  /** Seed of the generator's sampling (used when the rewrite temperature is above 0). */
  readonly seed: number;
}

/**
 * A structured judge prompt: ordered sections (role, task framing, a list of criteria, a procedure,
 * an output-format instruction) and optional few-shot examples, stored as their texts (so that a
 * prompt file works on any data set). Genomes are treated as immutable by the operators; only the
 * evaluator resolves `pending` in place.
 */
export interface PromptGenome {
  role: string;
  framing: string;
  criteria: string[];
  procedure: string;
  format: string;
  examples: Example[];
  pending?: PendingRewrite[];
}

/** The plain baseline prompt the best evolved prompt is compared with on the test split. */
export function baselineGenome(): PromptGenome {
  return {
    role: 'You are a helpful assistant.',
    framing: 'Which of the two responses better follows the instruction?',
    criteria: [],
    procedure: '',
    format: 'Answer with A or B.',
    examples: [],
  };
}

function exampleOf(x: unknown, source: string, resolveId?: (id: string) => Example | undefined): Example {
  if (typeof x === 'string') {
    const e = resolveId?.(x);
    if (!e)
      throw new ConfigError(
        `prompt ${source}: few-shot example "${x}" is an item id of another data file (old prompt files); it is not in this one`,
      );
    return e;
  }
  const o = x as Record<string, unknown>;
  const ok =
    typeof o === 'object' &&
    o !== null &&
    typeof o.instruction === 'string' &&
    typeof o.response1 === 'string' &&
    typeof o.response2 === 'string' &&
    (o.label === 0 || o.label === 1 || o.label === 2);
  if (!ok) throw new ConfigError(`prompt ${source}: field "examples" must hold {instruction, response1, response2, label: 0|1|2} objects`);
  return {
    instruction: o.instruction as string,
    response1: o.response1 as string,
    response2: o.response2 as string,
    label: o.label as 0 | 1 | 2,
  };
}

/**
 * Checks a genome read from a file; the message names the file and the field. Examples are texts;
 * a prompt file of the first format (examples as item ids) is read when `resolveId` finds the ids.
 */
export function validateGenome(x: unknown, source: string, resolveId?: (id: string) => Example | undefined): PromptGenome {
  const o = x as Record<string, unknown>;
  const bad = (f: string, want: string) => new ConfigError(`prompt ${source}: field "${f}" must be ${want}`);
  if (typeof o !== 'object' || o === null) throw new ConfigError(`prompt ${source}: expected a JSON object`);
  for (const s of TEXT_SECTIONS) if (typeof o[s] !== 'string') throw bad(s, 'a string');
  const criteria = o.criteria;
  if (criteria !== undefined && (!Array.isArray(criteria) || !criteria.every((t) => typeof t === 'string')))
    throw bad('criteria', 'an array of strings');
  const examples = o.examples;
  if (examples !== undefined && !Array.isArray(examples)) throw bad('examples', 'an array');
  return {
    role: o.role as string,
    framing: o.framing as string,
    criteria: [...((criteria as string[] | undefined) ?? [])],
    procedure: o.procedure as string,
    format: o.format as string,
    examples: ((examples as unknown[] | undefined) ?? []).map((e) => exampleOf(e, source, resolveId)),
  };
}

function copy(g: PromptGenome): PromptGenome {
  // Pending rewrites travel with the copy: every request is carried out or counted as skipped.
  return {
    role: g.role,
    framing: g.framing,
    criteria: [...g.criteria],
    procedure: g.procedure,
    format: g.format,
    examples: [...g.examples],
    ...(g.pending?.length ? { pending: [...g.pending] } : {}),
  };
}

function pickOther(rng: Rng, items: readonly string[], current: string): string {
  const others = items.filter((s) => s !== current);
  return others.length ? rng.pick(others) : current;
}

function sample<T>(rng: Rng, items: readonly T[], k: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < k && pool.length) out.push(pool.splice(rng.int(pool.length), 1)[0] as T);
  return out;
}

/** Settings of the prompt representation. */
export interface PromptOptions {
  readonly library: FragmentLibrary;
  /** Items that may serve as few-shot examples (set apart from the scored items). */
  readonly examplePool: readonly Example[];
  /** Most criteria in a prompt. Default 6. */
  readonly maxCriteria?: number;
  /** Most few-shot examples in a prompt. Default 2. */
  readonly maxExamples?: number;
  /** When a generator model is configured: probability that a mutation / crossover is LLM-driven. Default 0 (none). */
  readonly llmRate?: number;
  /** LLM mutations: plain rewrites (default) or reflective ones. */
  readonly rewrite?: RewriteMode;
}

/** Context the mutation operators share. */
interface MutationContext {
  readonly lib: FragmentLibrary;
  readonly pool: readonly Example[];
  readonly maxCriteria: number;
  readonly maxExamples: number;
}

export type PromptMutation = (rng: Rng, g: PromptGenome, c: MutationContext) => PromptGenome;
export type PromptMutationName =
  | 'add-criterion'
  | 'drop-criterion'
  | 'replace-criterion'
  | 'reorder-criteria'
  | 'switch-role'
  | 'switch-framing'
  | 'switch-procedure'
  | 'switch-format'
  | 'switch-examples';

/**
 * Library-driven mutations (each returns a new genome). Operators that cannot apply (adding to a full
 * list, dropping from an empty one) fall back to the nearest one that can, so a mutation always varies.
 */
export const PROMPT_MUTATIONS: Record<PromptMutationName, PromptMutation> = {
  'add-criterion': (rng, g, c) => {
    const fresh = c.lib.criteria.filter((s) => !g.criteria.includes(s));
    if (g.criteria.length >= c.maxCriteria || fresh.length === 0) return PROMPT_MUTATIONS['replace-criterion'](rng, g, c);
    const out = copy(g);
    out.criteria.splice(rng.int(out.criteria.length + 1), 0, rng.pick(fresh));
    return out;
  },
  'drop-criterion': (rng, g, c) => {
    if (g.criteria.length === 0) return PROMPT_MUTATIONS['add-criterion'](rng, g, c);
    const out = copy(g);
    out.criteria.splice(rng.int(out.criteria.length), 1);
    return out;
  },
  'replace-criterion': (rng, g, c) => {
    const fresh = c.lib.criteria.filter((s) => !g.criteria.includes(s));
    if (g.criteria.length === 0 || fresh.length === 0)
      return g.criteria.length === 0 ? PROMPT_MUTATIONS['add-criterion'](rng, g, c) : PROMPT_MUTATIONS['drop-criterion'](rng, g, c);
    const out = copy(g);
    out.criteria[rng.int(out.criteria.length)] = rng.pick(fresh);
    return out;
  },
  'reorder-criteria': (rng, g, c) => {
    if (g.criteria.length < 2) return PROMPT_MUTATIONS['add-criterion'](rng, g, c);
    const out = copy(g);
    const i = rng.int(out.criteria.length);
    let j = rng.int(out.criteria.length - 1);
    if (j >= i) j++;
    [out.criteria[i], out.criteria[j]] = [out.criteria[j] as string, out.criteria[i] as string];
    return out;
  },
  'switch-role': (rng, g, c) => ({ ...copy(g), role: pickOther(rng, c.lib.role, g.role) }),
  'switch-framing': (rng, g, c) => ({ ...copy(g), framing: pickOther(rng, c.lib.framing, g.framing) }),
  'switch-procedure': (rng, g, c) => ({ ...copy(g), procedure: pickOther(rng, c.lib.procedure, g.procedure) }),
  'switch-format': (rng, g, c) => ({ ...copy(g), format: pickOther(rng, c.lib.format, g.format) }),
  'switch-examples': (rng, g, c) => {
    if (c.maxExamples === 0 || c.pool.length === 0) return PROMPT_MUTATIONS['switch-procedure'](rng, g, c);
    const out = copy(g);
    const shown = new Set(g.examples.map(contentKey));
    const fresh = c.pool.filter((e) => !shown.has(contentKey(e)));
    if (out.examples.length > 0 && (rng.chance(0.5) || fresh.length === 0)) out.examples.splice(rng.int(out.examples.length), 1);
    else if (out.examples.length < c.maxExamples) out.examples.push(rng.pick(fresh));
    else out.examples[rng.int(out.examples.length)] = rng.pick(fresh);
    return out;
  },
};

export const PROMPT_MUTATION_NAMES = Object.keys(PROMPT_MUTATIONS) as PromptMutationName[];

/**
 * Section-wise crossover (the prompt analogue of uniform crossover): each text section and the example
 * list come from either parent with probability 1/2; the criteria list is a one-point crossover of the
 * two lists (a prefix of `a`, a suffix of `b`), without duplicates, capped at `maxCriteria`.
 */
export function sectionCrossover(rng: Rng, a: PromptGenome, b: PromptGenome, maxCriteria: number): PromptGenome {
  const child = copy(a);
  for (const s of TEXT_SECTIONS) if (rng.chance(0.5)) child[s] = b[s];
  if (rng.chance(0.5)) child.examples = [...b.examples];
  const cutA = rng.int(a.criteria.length + 1);
  const cutB = rng.int(b.criteria.length + 1);
  const merged = [...a.criteria.slice(0, cutA), ...b.criteria.slice(cutB)];
  child.criteria = [...new Set(merged)].slice(0, maxCriteria);
  return child;
}

function words(s: string): Set<string> {
  return new Set(s.toLowerCase().match(/[a-z0-9']+/g) ?? []);
}

/** Jaccard distance 1 - |A∩B| / |A∪B| (0 for two empty sets); a metric on finite sets. */
export function jaccard<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): number {
  if (a.size === 0 && b.size === 0) return 0;
  let common = 0;
  for (const x of a) if (b.has(x)) common++;
  return 1 - common / (a.size + b.size - common);
}

/** Normalised Kendall distance between the orders of the criteria both lists share (0 if < 2 shared). */
function orderDistance(a: readonly string[], b: readonly string[]): number {
  const shared = a.filter((s) => b.includes(s));
  if (shared.length < 2) return 0;
  const pos = new Map(b.map((s, i) => [s, i]));
  let discordant = 0;
  for (let i = 0; i < shared.length; i++) {
    for (let j = i + 1; j < shared.length; j++)
      if ((pos.get(shared[i] as string) as number) > (pos.get(shared[j] as string) as number)) discordant++;
  }
  return discordant / ((shared.length * (shared.length - 1)) / 2);
}

/**
 * Structural distance between prompts: the sum over sections of a word-level Jaccard distance for
 * each text section (so an LLM rewrite counts by how many words changed), a fragment-level Jaccard
 * distance for the criteria and the examples, and a Kendall distance for the order of shared criteria.
 * Range [0, 7]; 0 exactly when the rendered prompts are equal.
 */
export function structuralDistance(a: PromptGenome, b: PromptGenome): number {
  let d = 0;
  for (const s of TEXT_SECTIONS) if (a[s] !== b[s]) d += jaccard(words(a[s]), words(b[s])) || 1e-3;
  d += jaccard(new Set(a.criteria), new Set(b.criteria));
  d += orderDistance(a.criteria, b.criteria);
  d += jaccard(new Set(a.examples.map(contentKey)), new Set(b.examples.map(contentKey)));
  return d;
}

/** Canonical key: equal keys mean equal genomes (pending rewrites included). */
export function genomeKey(g: PromptGenome): string {
  return JSON.stringify([
    g.role,
    g.framing,
    g.criteria,
    g.procedure,
    g.format,
    g.examples.map(contentKey),
    g.pending?.length ? g.pending : null,
  ]);
}

/** The genome without its pending rewrites (what is scored before they are carried out). */
export function withoutPending(g: PromptGenome): PromptGenome {
  const { pending: _, ...rest } = g;
  return rest;
}

/** Prompt size in fragments: the four text sections, each criterion and each example. */
export function genomeSize(g: PromptGenome): number {
  return TEXT_SECTIONS.length + g.criteria.length + g.examples.length;
}

/** A random prompt: one fragment per section, 1..maxCriteria/2+1 distinct criteria, 0..maxExamples examples. */
export function randomGenome(rng: Rng, c: MutationContext): PromptGenome {
  const k = 1 + rng.int(Math.max(1, Math.floor(c.maxCriteria / 2) + 1));
  const e = c.pool.length && c.maxExamples ? rng.int(c.maxExamples + 1) : 0;
  return {
    role: rng.pick(c.lib.role),
    framing: rng.pick(c.lib.framing),
    criteria: sample(rng, c.lib.criteria, Math.min(k, c.maxCriteria)),
    procedure: rng.pick(c.lib.procedure),
    format: rng.pick(c.lib.format),
    examples: sample(rng, c.pool, e),
  };
}

function llmTarget(rng: Rng, g: PromptGenome): Pick<PendingRewrite, 'section' | 'text'> {
  const texts = TEXT_SECTIONS.filter((s) => g[s].trim() !== '');
  const slots = texts.length + g.criteria.length;
  if (slots === 0) return { section: 'framing', text: g.framing };
  const i = rng.int(slots);
  if (i < texts.length) {
    const section = texts[i] as TextSection;
    return { section, text: g[section] };
  }
  return { section: 'criterion', text: g.criteria[i - texts.length] as string };
}

/** A pending rewrite added to a copy of `g` (after those it already carries). */
function request(g: PromptGenome, p: PendingRewrite): PromptGenome {
  const out = copy(g);
  out.pending = [...(out.pending ?? []), p];
  return out;
}

/**
 * The prompt representation for the generic engine. With `llmRate > 0` (a generator model configured),
 * that share of mutations and crossovers becomes an LLM rewrite, resolved later by the evaluator:
 * EvoPrompt (Guo et al., "Connecting Large Language Models with Evolutionary Algorithms Yields Powerful
 * Prompt Optimizers", ICLR 2024) lets the model cross over and mutate prompts; PromptBreeder (Fernando
 * et al. 2023) mutates task prompts with LLM-written rewrites; GEPA (Agrawal et al. 2025) shows the
 * model the prompt's failures and asks for a revision (`rewrite: 'reflective'`). Here one section is
 * rewritten (mutation) or fused with the same section of the other parent (crossover), so the structure
 * stays intact. Each request draws a sampling seed from the run's generator.
 *
 * ```
 * crossover(a, b): with p = llmRate: a with section s := LLM("combine", a.s, b.s)
 *                  else: sectionCrossover(a, b)
 * mutate(g):       with p = llmRate: g with section s := LLM("rewrite", g.s)  (reflective: LLM("revise", g, failures of g))
 *                  else: one of PROMPT_MUTATIONS, uniformly
 * ```
 */
export function promptRepresentation(o: PromptOptions): Representation<PromptGenome> {
  const c: MutationContext = { lib: o.library, pool: o.examplePool, maxCriteria: o.maxCriteria ?? 6, maxExamples: o.maxExamples ?? 2 };
  if (!Number.isInteger(c.maxCriteria) || c.maxCriteria < 1)
    throw optionError('maxCriteria', `expected an integer >= 1, got ${c.maxCriteria}`);
  if (!Number.isInteger(c.maxExamples) || c.maxExamples < 0)
    throw optionError('maxExamples', `expected an integer >= 0, got ${c.maxExamples}`);
  const llmRate = o.llmRate ?? 0;
  const mutateKind = o.rewrite === 'reflective' ? 'reflect' : 'mutate';
  return {
    random: (rng) => randomGenome(rng, c),
    crossover(rng, a, b) {
      if (llmRate > 0 && rng.chance(llmRate)) {
        const t = llmTarget(rng, a);
        const other = t.section === 'criterion' ? (b.criteria.length ? rng.pick(b.criteria) : b.framing) : b[t.section];
        return request(a, { kind: 'crossover', ...t, other, seed: rng.int(2 ** 31) });
      }
      return sectionCrossover(rng, a, b, c.maxCriteria);
    },
    mutate(rng, g) {
      if (llmRate > 0 && rng.chance(llmRate)) return request(g, { kind: mutateKind, ...llmTarget(rng, g), seed: rng.int(2 ** 31) });
      return PROMPT_MUTATIONS[rng.pick(PROMPT_MUTATION_NAMES)](rng, g, c);
    },
    distance: structuralDistance,
    size: genomeSize,
    key: genomeKey,
  };
}
