import { ConfigError, optionError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Evaluator } from '../core/types.js';
import { preferA, type Judgement } from './backend.js';
import type { JudgeService } from './cache.js';
import type { JudgeItem } from './data.js';
import { genomeKey, rewriteTarget, structuralDistance, type PromptGenome } from './genome.js';
import type { FragmentLibrary } from './library.js';
import { DEFAULT_WEIGHTS, JUDGE_DEFAULTS } from './options.js';
import { fillTemplate, ORDERS, renderTemplate, type PromptTemplate, type RenderOptions } from './render.js';

/**
 * What a judge prompt achieves on a set of items, each judged in both orders. LLMBar (Zeng et al.,
 * "Evaluating Large Language Models at Evaluating Instruction Following", ICLR 2024) reports accuracy
 * averaged over both orders and positional agreement; position-swap self-consistency and preference
 * strength from the verdict probabilities come from the LLM-as-a-judge / self-rewarding literature
 * (Zheng et al. 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena"; Yuan et al. 2024).
 *
 * ```
 * q1 = P(resp. 1 better | shown first) = pA/(pA+pB) in order AB
 * q2 = P(resp. 1 better | shown second) = pB/(pA+pB) in order BA
 * accuracy = mean over items and orders of [decision(q) = label]   (q = 1/2 scores 1/2)
 * consistency = mean [decision(q1) = decision(q2)];  brier = mean ((q1+q2)/2 - y)^2
 * ```
 */
export interface JudgeMetrics {
  readonly items: number;
  /** Accuracy averaged over both orders (a 50/50 verdict scores 1/2; a tie item scores 1/2). */
  readonly accuracy: number;
  readonly accuracyAB: number;
  readonly accuracyBA: number;
  /** Share of items with the same decision in both orders (positional agreement). */
  readonly consistency: number;
  /** Brier score of the order-debiased probability (mean of both orders) against the label. */
  readonly brier: number;
  /** Mean prompt tokens per judgement (the cost). */
  readonly promptTokens: number;
  /** Share of judgements whose verdict could not be read (neither probabilities nor text). */
  readonly unreadable: number;
}

/** Weights of the loss; every term is in [0, 1] except cost, counted per 1,000 prompt tokens. */
export interface LossWeights {
  readonly accuracy: number;
  readonly consistency: number;
  readonly brier: number;
  readonly cost: number;
}

/** loss = wa (1 - accuracy) + wc (1 - consistency) + wb brier + wt promptTokens / 1000 (lower is better). */
export function judgeLoss(m: JudgeMetrics, w: LossWeights = DEFAULT_WEIGHTS): number {
  return w.accuracy * (1 - m.accuracy) + w.consistency * (1 - m.consistency) + w.brier * m.brier + (w.cost * m.promptTokens) / 1000;
}

/** Probability that response 1 is better, from the judgements in both orders. */
export interface ItemVerdict {
  readonly q1: number;
  readonly q2: number;
  /** Order-debiased: (q1 + q2) / 2. */
  readonly p: number;
}

function decision(q: number): 0 | 1 | 2 {
  return q > 0.5 ? 1 : q < 0.5 ? 2 : 0;
}

function credit(q: number, label: 0 | 1 | 2): number {
  const d = decision(q);
  if (label === 0 || d === 0) return 0.5;
  return d === label ? 1 : 0;
}

/** Metrics from the verdicts (both orders) of each item. */
export function metricsOf(
  items: readonly JudgeItem[],
  ab: readonly Judgement[],
  ba: readonly Judgement[],
): { metrics: JudgeMetrics; verdicts: ItemVerdict[] } {
  const n = items.length;
  let accAB = 0;
  let accBA = 0;
  let agree = 0;
  let brier = 0;
  let tokens = 0;
  let unreadable = 0;
  const verdicts: ItemVerdict[] = [];
  items.forEach((it, i) => {
    const j1 = ab[i] as Judgement;
    const j2 = ba[i] as Judgement;
    const q1 = preferA(j1); // response 1 is shown as A
    const q2 = 1 - preferA(j2); // response 1 is shown as B
    const p = (q1 + q2) / 2;
    verdicts.push({ q1, q2, p });
    accAB += credit(q1, it.label);
    accBA += credit(q2, it.label);
    if (decision(q1) === decision(q2)) agree++;
    const y = it.label === 1 ? 1 : it.label === 2 ? 0 : 0.5;
    brier += (p - y) ** 2;
    tokens += j1.promptTokens + j2.promptTokens;
    unreadable += (j1.source === 'none' ? 1 : 0) + (j2.source === 'none' ? 1 : 0);
  });
  return {
    metrics: {
      items: n,
      accuracy: (accAB + accBA) / (2 * n),
      accuracyAB: accAB / n,
      accuracyBA: accBA / n,
      consistency: agree / n,
      brier: brier / n,
      promptTokens: tokens / (2 * n),
      unreadable: unreadable / (2 * n),
    },
    verdicts,
  };
}

/** Judges every item in both orders with one template (all requests at once; the service limits and caches). */
export async function scoreTemplate(
  service: JudgeService,
  t: PromptTemplate,
  items: readonly JudgeItem[],
  o: RenderOptions = {},
): Promise<{ metrics: JudgeMetrics; verdicts: ItemVerdict[] }> {
  if (items.length === 0) throw new ConfigError('judge: no items to score');
  const [ab, ba] = await Promise.all(
    ORDERS.map((order) => Promise.all(items.map((it) => service.judge(fillTemplate(t, it, order, o), it.id, order)))),
  );
  return metricsOf(items, ab as Judgement[], ba as Judgement[]);
}

export interface JudgeEvaluatorOptions {
  readonly seed: number | string;
  /** Training items scored per generation (a fresh seeded sample each generation). Default JUDGE_DEFAULTS.minibatch. */
  readonly minibatch?: number;
  /** Training items of the fixed probe subset for the behavioural distance. Default JUDGE_DEFAULTS.probe. */
  readonly probe?: number;
  readonly weights?: LossWeights;
  readonly render?: RenderOptions;
  /** Needed to resolve LLM rewrites (the rewrite templates). */
  readonly library?: FragmentLibrary;
  /** Generator tokens per rewrite. Default JUDGE_DEFAULTS.rewriteTokens. */
  readonly rewriteTokens?: number;
}

/** The text of a generator's answer made fit for a prompt section: first non-empty line, unquoted, bounded. */
export function cleanRewrite(text: string, fallback: string): string {
  const line =
    text
      .split('\n')
      .map((s) => s.trim())
      .find((s) => s !== '') ?? '';
  const t = line
    .replace(/^["'`]+|["'`]+$/g, '')
    .replace(/\s+/g, ' ')
    .slice(0, 300)
    .trim();
  return (t.match(/[A-Za-z]/g)?.length ?? 0) >= 3 ? t : fallback;
}

/**
 * Fitness of judge prompts for the generic engine: each call (one per generation) scores the new
 * genomes on a fresh seeded minibatch of the training split, both orders, and returns judgeLoss of the
 * metrics. Minibatches and re-scoring the promising candidate on the full split follow GEPA (Agrawal et
 * al., "GEPA: Reflective Prompt Evolution Can Outperform Reinforcement Learning", 2025), whose budget is
 * likewise counted in metric calls. `scoreFull` re-scores on the whole split (used for the elite),
 * `probeVector` gives the verdicts on a fixed probe subset (the behavioural distance of PIMP).
 */
export class JudgeEvaluator implements Evaluator<PromptGenome> {
  private generation = 0;
  private readonly examples: Map<string, JudgeItem>;
  private readonly probes: JudgeItem[];
  private readonly vectors = new Map<string, Float64Array>();
  /** Metrics of each genome's latest minibatch scoring, by genome key. */
  readonly lastMetrics = new Map<string, JudgeMetrics>();
  readonly minibatch: number;
  readonly weights: LossWeights;

  constructor(
    readonly service: JudgeService,
    readonly train: readonly JudgeItem[],
    readonly o: JudgeEvaluatorOptions,
  ) {
    this.minibatch = o.minibatch ?? JUDGE_DEFAULTS.minibatch;
    if (!Number.isInteger(this.minibatch) || this.minibatch < 1)
      throw optionError('minibatch', `expected an integer >= 1, got ${this.minibatch}`);
    const probe = o.probe ?? JUDGE_DEFAULTS.probe;
    if (!Number.isInteger(probe) || probe < 1) throw optionError('probe', `expected an integer >= 1, got ${probe}`);
    this.weights = o.weights ?? DEFAULT_WEIGHTS;
    this.examples = new Map(train.map((it) => [it.id, it]));
    this.probes = train.slice(0, Math.min(probe, train.length));
  }

  template(g: PromptGenome): PromptTemplate {
    return renderTemplate(g, this.examples, this.o.render);
  }

  /** The minibatch of the current generation: a seeded sample without replacement. */
  private nextMinibatch(): JudgeItem[] {
    const rng = new Rng(`minibatch:${this.o.seed}:${this.generation++}`);
    const idx = this.train.map((_, i) => i);
    const k = Math.min(this.minibatch, idx.length);
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(idx.length - i);
      [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
    }
    return idx
      .slice(0, k)
      .sort((a, b) => a - b)
      .map((i) => this.train[i] as JudgeItem);
  }

  /** Carries out pending LLM rewrites (EvoPrompt-style) in place, through the cached generator. */
  async resolveRewrites(genomes: readonly PromptGenome[]): Promise<void> {
    const todo = genomes.filter((g) => g.pending);
    if (todo.length === 0) return;
    if (!this.o.library) throw new ConfigError('judge: LLM rewrites need the fragment library');
    const lib = this.o.library;
    await Promise.all(
      todo.map(async (g) => {
        const p = g.pending!;
        const base = rewriteTarget(g, p);
        const user = lib.rewrite[p.kind].replace(/\{\{(text|other)\}\}/g, (m) => (m === '{{text}}' ? base : (p.other ?? '')));
        const r = await this.service.generate({ system: '', user }, this.o.rewriteTokens ?? JUDGE_DEFAULTS.rewriteTokens);
        const text = cleanRewrite(r.text, base);
        if (p.section === 'criterion') g.criteria[p.index ?? 0] = text;
        else g[p.section] = text;
        delete g.pending;
      }),
    );
  }

  async evaluate(genomes: readonly PromptGenome[]): Promise<Float64Array> {
    const batch = this.nextMinibatch();
    await this.resolveRewrites(genomes);
    const out = new Float64Array(genomes.length);
    await Promise.all(
      genomes.map(async (g, i) => {
        const { metrics } = await scoreTemplate(this.service, this.template(g), batch, this.o.render);
        this.lastMetrics.set(genomeKey(g), metrics);
        out[i] = judgeLoss(metrics, this.weights);
      }),
    );
    return out;
  }

  /** Metrics and loss on the whole training split (or on `items`). */
  async scoreFull(g: PromptGenome, items: readonly JudgeItem[] = this.train): Promise<{ metrics: JudgeMetrics; loss: number }> {
    const { metrics } = await scoreTemplate(this.service, this.template(g), items, this.o.render);
    return { metrics, loss: judgeLoss(metrics, this.weights) };
  }

  /** Debiased verdicts on the probe subset (computed once per genotype; judgements are cached anyway). */
  async probeVector(g: PromptGenome): Promise<Float64Array> {
    const key = genomeKey({ ...g, pending: undefined } as PromptGenome);
    let v = this.vectors.get(key);
    if (!v) {
      const { verdicts } = await scoreTemplate(this.service, this.template(g), this.probes, this.o.render);
      v = Float64Array.from(verdicts, (x) => x.p);
      this.vectors.set(key, v);
    }
    return v;
  }

  /**
   * Behavioural distance for PIMP: mean absolute difference of the debiased verdict probabilities on
   * the probe subset. Synchronous (the engine's mate choice is), so the vectors must have been computed
   * (`probeVector`) beforehand; a genome without one falls back to the structural distance.
   */
  behaviouralDistance = (a: PromptGenome, b: PromptGenome): number => {
    const va = this.vectors.get(genomeKey({ ...a, pending: undefined } as PromptGenome));
    const vb = this.vectors.get(genomeKey({ ...b, pending: undefined } as PromptGenome));
    if (!va || !vb) return structuralDistance(a, b);
    let s = 0;
    for (let i = 0; i < va.length; i++) s += Math.abs((va[i] as number) - (vb[i] as number));
    return s / va.length;
  };

  async close(): Promise<void> {}
}
