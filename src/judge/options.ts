import { ConfigError, optionError } from '../core/errors.js';
import type { EvolutionOptions } from '../core/options.js';
import type { LossWeights } from './fitness.js';
import type { FragmentLibrary } from './library.js';
import type { RenderOptions } from './render.js';
import { DEFAULT_MIN_LETTER_MASS, PROTOCOLS, type Protocol, type VerdictOptions } from './verdict.js';

/**
 * The options of the judge layer, in one place: how a judge is asked and read (JudgeSettings, shared
 * by both back ends and the renderer) and what a prompt-evolution run does (JudgeEvolveOptions).
 * Messages name the option (`option maxTokens: ...`); the command line maps them to its flags.
 */

/** How a judge is asked and read. */
export interface JudgeSettings extends VerdictOptions {
  /** Completion tokens of a judgement: room for the answer (direct) or the reasoning and verdict line (reasoned). */
  readonly maxTokens: number;
}

export const DEFAULT_JUDGE_SETTINGS: JudgeSettings = {
  protocol: 'direct',
  ties: false,
  minLetterMass: DEFAULT_MIN_LETTER_MASS,
  maxTokens: 8,
};

/** Default completion tokens of a reasoned judgement. */
export const DEFAULT_REASONED_MAX_TOKENS = 512;

/** Fills defaults (maxTokens: 8 direct, 512 reasoned) and validates. */
export function resolveJudgeSettings(p: Partial<JudgeSettings> = {}): JudgeSettings {
  const protocol = p.protocol ?? 'direct';
  if (!(PROTOCOLS as readonly string[]).includes(protocol))
    throw optionError('protocol', `expected one of ${PROTOCOLS.join(', ')}, got ${String(protocol)}`);
  const maxTokens = p.maxTokens ?? (protocol === 'reasoned' ? DEFAULT_REASONED_MAX_TOKENS : DEFAULT_JUDGE_SETTINGS.maxTokens);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw optionError('maxTokens', `expected an integer >= 1, got ${maxTokens}`);
  const minLetterMass = p.minLetterMass ?? DEFAULT_MIN_LETTER_MASS;
  if (!(minLetterMass >= 0 && minLetterMass <= 1))
    throw optionError('minLetterMass', `expected a share in [0, 1], got ${String(minLetterMass)}`);
  return { protocol: protocol as Protocol, ties: p.ties ?? false, minLetterMass, maxTokens };
}

/** The settings as they enter a cache key (every one changes the judgement). */
export function judgeSettingsKey(s: JudgeSettings): string {
  return JSON.stringify([s.protocol, s.ties, s.minLetterMass, s.maxTokens]);
}

export type JudgeDistance = 'behavioural' | 'structural';
export const JUDGE_DISTANCES = ['behavioural', 'structural'] as const satisfies readonly JudgeDistance[];

/** LLM mutations: `plain` (EvoPrompt-style rewrite of one section) or `reflective` (GEPA-style, from the prompt's failures). */
export type RewriteMode = 'plain' | 'reflective';
export const REWRITE_MODES = ['plain', 'reflective'] as const satisfies readonly RewriteMode[];

/** A prompt-evolution run: the engine's options plus the judge's. */
export interface JudgeEvolveOptions extends Partial<EvolutionOptions> {
  readonly seed: number;
  readonly library: FragmentLibrary;
  /** PIMP mate distance: `behavioural` (verdicts on the probe subset; default) or `structural`. */
  readonly distance?: JudgeDistance;
  /** Training items scored per generation. Default 16. */
  readonly minibatch?: number;
  /** Training items of the probe subset of the behavioural distance. Default 8. */
  readonly probe?: number;
  readonly weights: LossWeights;
  readonly render?: RenderOptions;
  readonly maxCriteria?: number;
  readonly maxExamples?: number;
  /**
   * Training items set apart as the few-shot example pool (never scored). Default: 4 per allowed
   * example, at most a quarter of the training split; 0 when maxExamples is 0.
   */
  readonly examplePool?: number;
  /** Share of LLM-driven variation (needs a generator; 0 = library operators only). */
  readonly llmRate?: number;
  /** Generator tokens per LLM rewrite. Default 60. */
  readonly rewriteTokens?: number;
  /** LLM mutations: plain (default) or reflective. */
  readonly rewrite?: RewriteMode;
  /** Sampling temperature of rewrites (0: greedy; above 0 each rewrite has its own seed). Default 0. */
  readonly rewriteTemperature?: number;
  /** Token budget of the failures shown to the generator by a reflective rewrite (about 4 characters a token). Default 1000. */
  readonly reflectTokens?: number;
}

function positiveInt(name: string, v: number | undefined, min = 1): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min))
    throw new ConfigError(`option ${name}: expected an integer >= ${min}, got ${v}`);
}

function oneOf(name: string, v: string | undefined, allowed: readonly string[]): void {
  if (v !== undefined && !allowed.includes(v)) throw new ConfigError(`option ${name}: expected one of ${allowed.join(', ')}, got ${v}`);
}

/** Checks the judge's own evolve options (the engine's are checked by resolveEvolutionOptions). */
export function validateJudgeEvolveOptions(o: JudgeEvolveOptions): void {
  oneOf('distance', o.distance, JUDGE_DISTANCES);
  oneOf('rewrite', o.rewrite, REWRITE_MODES);
  const llmRate = o.llmRate ?? 0;
  if (!(llmRate >= 0 && llmRate <= 1)) throw optionError('llmRate', `expected a probability in [0, 1], got ${llmRate}`);
  const t = o.rewriteTemperature ?? 0;
  if (!(t >= 0 && t <= 2)) throw optionError('rewriteTemperature', `expected a number in [0, 2], got ${t}`);
  positiveInt('rewriteTokens', o.rewriteTokens);
  positiveInt('reflectTokens', o.reflectTokens, 50);
  positiveInt('minibatch', o.minibatch);
  positiveInt('probe', o.probe);
  positiveInt('examplePool', o.examplePool, 0);
}
