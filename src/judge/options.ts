/**
 * The options model of a judge-prompt search: the engine's settings with the judge's own defaults (small
 * populations: every evaluation is paid for), and the judge's search settings. evolveJudge and the
 * command line resolve through it; errors name the option (`distance`, `weights.brier`), never a flag.
 */
import { optionError } from '../core/errors.js';
import { check, resolveEvolutionOptions, stripUndefined, type EvolutionOptions } from '../core/options.js';
import type { LossWeights } from './fitness.js';

export type JudgeDistance = 'behavioural' | 'structural';
export const JUDGE_DISTANCES = ['behavioural', 'structural'] as const satisfies readonly JudgeDistance[];

/** Loss weights (src/judge/fitness.ts judgeLoss): accuracy, consistency, Brier score, prompt cost per 1000 tokens. */
export const DEFAULT_WEIGHTS: Readonly<LossWeights> = { accuracy: 1, consistency: 0.5, brier: 1, cost: 0 };

/** Settings of a judge-prompt search as given. */
export interface JudgeOptions extends Partial<EvolutionOptions> {
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
  /** Share of LLM-driven variation (needs a generator; 0 = library operators only). */
  llmRate?: number;
  /** Generator tokens per LLM rewrite. */
  rewriteTokens?: number;
  /** Loss weights; missing ones take DEFAULT_WEIGHTS'. */
  weights?: Partial<LossWeights>;
}

/** Every setting of a judge-prompt search, filled and checked. */
export interface JudgeSettings extends EvolutionOptions, Required<Omit<JudgeOptions, keyof EvolutionOptions | 'weights'>> {
  readonly weights: LossWeights;
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
} as const satisfies JudgeOptions;

/** Fills the defaults and checks every field; each error names its option. */
export function resolveJudgeOptions(partial: JudgeOptions = {}): JudgeSettings {
  const o = { ...JUDGE_DEFAULTS, ...stripUndefined(partial) };
  return {
    ...resolveEvolutionOptions(o),
    seed: check.int('seed', o.seed, 0),
    distance: check.oneOf('distance', o.distance, JUDGE_DISTANCES),
    minibatch: check.int('minibatch', o.minibatch, 1),
    probe: check.int('probe', o.probe, 1),
    maxCriteria: check.int('maxCriteria', o.maxCriteria, 0),
    maxExamples: check.int('maxExamples', o.maxExamples, 0),
    llmRate: check.probability('llmRate', o.llmRate),
    rewriteTokens: check.int('rewriteTokens', o.rewriteTokens, 1),
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
