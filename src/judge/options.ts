/**
 * The options model of the judge layer: how a judge is asked and read (ReadingSettings, shared by both
 * back ends, the renderer and the scoring), and a judge-prompt search: the engine's settings with the
 * judge's own defaults (small populations: every evaluation is paid for), and the judge's search
 * settings. evolveJudge and the command line resolve through it; errors name the option (`distance`,
 * `weights.brier`), never a flag.
 */
import { optionError } from '../core/errors.js';
import { check, resolveEvolutionOptions, stripUndefined, type EvolutionOptions } from '../core/options.js';
import type { LossWeights } from './fitness.js';
import { DEFAULT_MIN_LETTER_MASS, PROTOCOLS, type VerdictOptions } from './verdict.js';

/** How a judge is asked and read: protocol, three-way verdicts, letter-mass threshold, answer tokens. */
export interface ReadingSettings extends VerdictOptions {
  /** Completion tokens of a judgement: room for the answer (direct) or the reasoning and verdict line (reasoned). */
  readonly maxTokens: number;
}

export const DEFAULT_READING: ReadingSettings = {
  protocol: 'direct',
  ties: false,
  minLetterMass: DEFAULT_MIN_LETTER_MASS,
  maxTokens: 8,
};

/** Default completion tokens of a reasoned judgement. */
export const DEFAULT_REASONED_MAX_TOKENS = 512;

/** Fills the defaults (maxTokens: 8 direct, 512 reasoned) and checks each field. */
export function resolveReading(p: Partial<ReadingSettings> = {}): ReadingSettings {
  const protocol = check.oneOf('protocol', p.protocol ?? DEFAULT_READING.protocol, PROTOCOLS);
  const maxTokens = check.int(
    'maxTokens',
    p.maxTokens ?? (protocol === 'reasoned' ? DEFAULT_REASONED_MAX_TOKENS : DEFAULT_READING.maxTokens),
    1,
  );
  const minLetterMass = p.minLetterMass ?? DEFAULT_READING.minLetterMass;
  if (!(minLetterMass >= 0 && minLetterMass <= 1))
    throw optionError('minLetterMass', `expected a share in [0, 1], got ${String(minLetterMass)}`);
  return { protocol, ties: check.boolean('ties', p.ties ?? false), minLetterMass, maxTokens };
}

/** The reading settings as they enter a cache key (every one changes the judgement). */
export function readingKey(s: ReadingSettings): string {
  return JSON.stringify([s.protocol, s.ties, s.minLetterMass, s.maxTokens]);
}

export type JudgeDistance = 'behavioural' | 'structural';
export const JUDGE_DISTANCES = ['behavioural', 'structural'] as const satisfies readonly JudgeDistance[];

/** LLM mutations: `plain` (EvoPrompt-style rewrite of one section) or `reflective` (GEPA-style, from the prompt's failures). */
export type RewriteMode = 'plain' | 'reflective';
export const REWRITE_MODES = ['plain', 'reflective'] as const satisfies readonly RewriteMode[];

/** Loss weights (src/judge/fitness.ts judgeLoss): accuracy, consistency, Brier score, prompt cost per 1000 tokens. */
export const DEFAULT_WEIGHTS: Readonly<LossWeights> = { accuracy: 1, consistency: 0.5, brier: 1, cost: 0 };

/** Settings of a judge-prompt search as given. */
export interface JudgeOptions extends Partial<EvolutionOptions>, Partial<ReadingSettings> {
  seed?: number;
  /** PIMP mate distance: `behavioural` (verdicts on the probe subset) or `structural`. */
  distance?: JudgeDistance;
  /** Training items scored per generation (a fresh seeded sample each generation). */
  minibatch?: number;
  /** Training items of the fixed probe subset for the behavioural distance. */
  probe?: number;
  /** Most criteria a prompt holds. */
  maxCriteria?: number;
  /** Most few-shot examples a prompt holds. */
  maxExamples?: number;
  /**
   * Training items set apart as the few-shot example pool (never scored). Default: 4 per allowed
   * example, at most a quarter of the training split; none when maxExamples is 0.
   */
  examplePool?: number;
  /** Share of LLM-driven variation (needs a generator; 0 = library operators only). */
  llmRate?: number;
  /** Generator tokens per LLM rewrite. */
  rewriteTokens?: number;
  /** LLM mutations: plain rewrites or reflective ones. */
  rewrite?: RewriteMode;
  /** Sampling temperature of rewrites (0: greedy; above 0 each rewrite has its own seed). */
  rewriteTemperature?: number;
  /** Token budget of the failures a reflective rewrite shows (about 4 characters a token). */
  reflectTokens?: number;
  /** Loss weights; missing ones take DEFAULT_WEIGHTS'. */
  weights?: Partial<LossWeights>;
}

/** Every setting of a judge-prompt search, filled and checked. */
export interface JudgeSettings
  extends
    EvolutionOptions,
    ReadingSettings,
    Required<Omit<JudgeOptions, keyof EvolutionOptions | keyof ReadingSettings | 'weights' | 'examplePool'>> {
  readonly weights: LossWeights;
  /** Absent: the default, which depends on the size of the training split. */
  readonly examplePool?: number;
}

/** The judge's defaults: the engine's, but a population of 12 over 5 generations, tournaments of 3, mutation rate 0.5. */
export const JUDGE_DEFAULTS = {
  populationSize: 12,
  generations: 5,
  tournamentSize: 3,
  mutationRate: 0.5,
  seed: 1,
  distance: 'behavioural',
  minibatch: 16,
  probe: 8,
  maxCriteria: 6,
  maxExamples: 2,
  llmRate: 0,
  rewriteTokens: 60,
  rewrite: 'plain',
  rewriteTemperature: 0,
  reflectTokens: 1000,
} as const satisfies JudgeOptions;

/** Fills the defaults and checks every field; each error names its option. */
export function resolveJudgeOptions(partial: JudgeOptions = {}): JudgeSettings {
  const o = { ...JUDGE_DEFAULTS, ...stripUndefined(partial) };
  const rewriteTemperature = o.rewriteTemperature;
  if (!(rewriteTemperature >= 0 && rewriteTemperature <= 2))
    throw optionError('rewriteTemperature', `expected a number in [0, 2], got ${String(rewriteTemperature)}`);
  return {
    ...resolveEvolutionOptions(o),
    ...resolveReading(o),
    seed: check.int('seed', o.seed, 0),
    distance: check.oneOf('distance', o.distance, JUDGE_DISTANCES),
    minibatch: check.int('minibatch', o.minibatch, 1),
    probe: check.int('probe', o.probe, 1),
    maxCriteria: check.int('maxCriteria', o.maxCriteria, 0),
    maxExamples: check.int('maxExamples', o.maxExamples, 0),
    ...(o.examplePool !== undefined ? { examplePool: check.int('examplePool', o.examplePool, 0) } : {}),
    llmRate: check.probability('llmRate', o.llmRate),
    rewriteTokens: check.int('rewriteTokens', o.rewriteTokens, 1),
    rewrite: check.oneOf('rewrite', o.rewrite, REWRITE_MODES),
    rewriteTemperature,
    reflectTokens: check.int('reflectTokens', o.reflectTokens, 50),
    weights: resolveWeights(partial.weights ?? {}),
  };
}

/** The loss weights with DEFAULT_WEIGHTS filled in, each a finite number >= 0. */
export function resolveWeights(w: Partial<LossWeights>): LossWeights {
  const out = { ...DEFAULT_WEIGHTS, ...stripUndefined(w) } as LossWeights;
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw optionError(`weights.${k}`, `expected a number >= 0, got ${String(v)}`);
  }
  return out;
}
