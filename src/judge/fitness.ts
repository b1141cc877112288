import { ConfigError, optionError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Evaluation, EvaluationRequest, Evaluator } from '../core/types.js';
import { ContextOverflowError, type Judgement } from './backend.js';
import type { JudgeService } from './cache.js';
import { contentKey, type JudgeItem } from './data.js';
import { genomeKey, structuralDistance, withoutPending, type PendingRewrite, type PromptGenome } from './genome.js';
import type { FragmentLibrary } from './library.js';
import { DEFAULT_WEIGHTS, JUDGE_DEFAULTS, type RewriteMode } from './options.js';
import { fillTemplate, ORDERS, renderTemplate, type Order, type PromptTemplate, type RenderOptions } from './render.js';
import { stripThinking } from './verdict.js';

/**
 * What a judge prompt achieves on a set of items, each judged in both orders. LLMBar (Zeng et al.,
 * "Evaluating Large Language Models at Evaluating Instruction Following", ICLR 2024) reports accuracy
 * averaged over both orders and positional agreement; position-swap self-consistency and preference
 * strength from the verdict probabilities come from the LLM-as-a-judge / self-rewarding literature
 * (Zheng et al. 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena"; Yuan et al. 2024).
 *
 * ```
 * q1 = P(resp. 1 better | shown first)  from the letters' probabilities in order AB (+ half the tie mass)
 * q2 = P(resp. 1 better | shown second) in order BA
 * accuracy = mean over items and orders of [decision(q) = label]   (a 50/50 verdict scores 1/2)
 * consistency = mean [decision(q1) = decision(q2)];  brier = mean ((q1+q2)/2 - y)^2
 * an unreadable order: wrong (accuracy 0), never consistent, and q = the wrong end (1 - y)
 * ```
 *
 * So a prompt that gets no readable verdict scores the worst loss, never a neutral 1/2. Items whose
 * prompt overflows the model's context, and items the prompt shows as few-shot examples, are skipped
 * and counted.
 */
export interface JudgeMetrics {
  /** Items scored (skipped ones left out). */
  readonly items: number;
  /** Accuracy averaged over both orders. */
  readonly accuracy: number;
  readonly accuracyAB: number;
  readonly accuracyBA: number;
  /** Share of items with the same readable decision in both orders (positional agreement). */
  readonly consistency: number;
  /** Brier score of the order-debiased probability (mean of both orders) against the label. */
  readonly brier: number;
  /** Mean prompt tokens per judgement (the cost). */
  readonly promptTokens: number;
  /** Share of judgements with a readable verdict, and its complement. */
  readonly readable: number;
  readonly unreadable: number;
  /** Share of judgements read from the text (no usable probabilities: a server that ignores logprobs, little letter mass). */
  readonly fromText: number;
  /** Items skipped: the prompt did not fit the context (`overflow`), or the prompt shows the item as an example (`shown`). */
  readonly skipped: { readonly overflow: number; readonly shown: number };
  /**
   * Length bias: accuracy on the items whose better response is the longer one, and on those whose
   * better response is the shorter one (a judge that prefers length does well on the first, badly on
   * the second). Items with a tie label or equal lengths are in neither.
   */
  readonly lengthBias: { readonly longerBetter: LengthBucket; readonly longerWorse: LengthBucket };
}

export interface LengthBucket {
  readonly items: number;
  /** NaN when there are no items. */
  readonly accuracy: number;
}

/** Weights of the loss; every term is in [0, 1] except cost, counted per 1,000 prompt tokens. */
export interface LossWeights {
  readonly accuracy: number;
  readonly consistency: number;
  readonly brier: number;
  readonly cost: number;
}

/** loss = wa (1 - accuracy) + wc (1 - consistency) + wb brier + wt promptTokens / 1000 (lower is better). */
export function judgeLoss(
  m: Pick<JudgeMetrics, 'accuracy' | 'consistency' | 'brier' | 'promptTokens'>,
  w: LossWeights = DEFAULT_WEIGHTS,
): number {
  return w.accuracy * (1 - m.accuracy) + w.consistency * (1 - m.consistency) + w.brier * m.brier + (w.cost * m.promptTokens) / 1000;
}

/** Probability that response 1 is better, from the judgements in both orders (the unreadable side at its wrong end). */
export interface ItemVerdict {
  readonly q1: number;
  readonly q2: number;
  /** Order-debiased: (q1 + q2) / 2. */
  readonly p: number;
}

/** One item's result: its judgements, the decisions (1, 2, 0 for tie/undecided, undefined unreadable) and its terms. */
export interface ItemResult {
  readonly item: JudgeItem;
  readonly ab: Judgement;
  readonly ba: Judgement;
  readonly d1: 0 | 1 | 2 | undefined;
  readonly d2: 0 | 1 | 2 | undefined;
  /** Mean credit of both orders, agreement (0/1), squared error, mean prompt tokens per judgement. */
  readonly accuracy: number;
  readonly consistent: number;
  readonly brier: number;
  readonly tokens: number;
}

export interface ScoreOptions extends RenderOptions {}

/** What one order's judgement says about response 1: decision and P(resp. 1 better); nothing when unreadable. */
function readOrder(j: Judgement, order: Order, ties: boolean): { d?: 0 | 1 | 2; q?: number } {
  if (j.source === 'none' || j.source === 'overflow') return {};
  const pT = ties ? j.pTie : 0;
  const s = j.pA + j.pB + pT;
  if (!(s > 0 && Number.isFinite(s))) return {};
  const first = (order === 'AB' ? j.pA : j.pB) / s;
  const second = (order === 'AB' ? j.pB : j.pA) / s;
  const tie = pT / s;
  const d = ties && tie > Math.max(first, second) ? 0 : first > second ? 1 : second > first ? 2 : 0;
  return { d, q: first + tie / 2 };
}

function credit(d: 0 | 1 | 2 | undefined, label: 0 | 1 | 2, ties: boolean): number {
  if (d === undefined) return 0;
  if (label === 0) return ties ? (d === 0 ? 1 : 0) : 0.5;
  if (d === 0) return ties ? 0 : 0.5;
  return d === label ? 1 : 0;
}

/** One item's result from its two judgements. */
export function itemResult(item: JudgeItem, ab: Judgement, ba: Judgement, ties = false): ItemResult & { verdict: ItemVerdict } {
  const o1 = readOrder(ab, 'AB', ties);
  const o2 = readOrder(ba, 'BA', ties);
  const y = item.label === 1 ? 1 : item.label === 2 ? 0 : 0.5;
  const worst = y >= 0.5 ? 0 : 1;
  const q1 = o1.q ?? worst;
  const q2 = o2.q ?? worst;
  const p = (q1 + q2) / 2;
  return {
    item,
    ab,
    ba,
    d1: o1.d,
    d2: o2.d,
    accuracy: (credit(o1.d, item.label, ties) + credit(o2.d, item.label, ties)) / 2,
    consistent: o1.d !== undefined && o1.d === o2.d ? 1 : 0,
    brier: (p - y) ** 2,
    tokens: (ab.promptTokens + ba.promptTokens) / 2,
    verdict: { q1, q2, p },
  };
}

/** The loss of each item (its mean over the items is judgeLoss of the metrics): the cases of per-item selection. */
export function itemLosses(results: readonly ItemResult[], w: LossWeights = DEFAULT_WEIGHTS): Float64Array {
  return Float64Array.from(results, (r) =>
    judgeLoss({ accuracy: r.accuracy, consistency: r.consistent, brier: r.brier, promptTokens: r.tokens }, w),
  );
}

function bucket(rs: readonly ItemResult[]): LengthBucket {
  return { items: rs.length, accuracy: rs.length ? rs.reduce((s, r) => s + r.accuracy, 0) / rs.length : NaN };
}

/** Metrics from the judgements (both orders) of each item; `skipped` counts items left out before judging. */
export function metricsOf(
  items: readonly JudgeItem[],
  ab: readonly Judgement[],
  ba: readonly Judgement[],
  o: { ties?: boolean; shown?: number } = {},
): { metrics: JudgeMetrics; verdicts: ItemVerdict[]; results: ItemResult[] } {
  const ties = o.ties ?? false;
  let overflow = 0;
  const results: (ItemResult & { verdict: ItemVerdict })[] = [];
  items.forEach((it, i) => {
    const j1 = ab[i] as Judgement;
    const j2 = ba[i] as Judgement;
    if (j1.source === 'overflow' || j2.source === 'overflow') overflow++;
    else results.push(itemResult(it, j1, j2, ties));
  });
  const n = results.length;
  const mean = (f: (r: ItemResult & { verdict: ItemVerdict }) => number, empty: number) =>
    n ? results.reduce((s, r) => s + f(r), 0) / n : empty;
  const judgements = results.flatMap((r) => [r.ab, r.ba]);
  const share = (pred: (j: Judgement) => boolean, empty: number) => (n ? judgements.filter(pred).length / (2 * n) : empty);
  const readable = share((j) => readOrder(j, 'AB', ties).d !== undefined, 0);
  const labelled = results.filter((r) => r.item.label !== 0 && r.item.response1.length !== r.item.response2.length);
  const longerBetter = labelled.filter((r) => r.item.response1.length > r.item.response2.length === (r.item.label === 1));
  const longerWorse = labelled.filter((r) => !longerBetter.includes(r));
  return {
    metrics: {
      items: n,
      accuracy: mean((r) => r.accuracy, 0),
      accuracyAB: mean((r) => credit(r.d1, r.item.label, ties), 0),
      accuracyBA: mean((r) => credit(r.d2, r.item.label, ties), 0),
      consistency: mean((r) => r.consistent, 0),
      brier: mean((r) => r.brier, 1),
      promptTokens: mean((r) => r.tokens, 0),
      readable,
      unreadable: 1 - readable,
      fromText: share((j) => j.source === 'text', 0),
      skipped: { overflow, shown: o.shown ?? 0 },
      lengthBias: { longerBetter: bucket(longerBetter), longerWorse: bucket(longerWorse) },
    },
    verdicts: results.map((r) => r.verdict),
    results: results.map(({ verdict: _, ...r }) => r),
  };
}

/**
 * Judges every item in both orders with one template (all requests at once; the service limits and
 * caches). Items the template shows as few-shot examples are skipped (counted), as are items whose
 * prompt overflows the context.
 */
export async function scoreTemplate(
  service: JudgeService,
  t: PromptTemplate,
  items: readonly JudgeItem[],
  o: ScoreOptions = {},
): Promise<{ metrics: JudgeMetrics; verdicts: ItemVerdict[]; results: ItemResult[] }> {
  if (items.length === 0) throw new ConfigError('judge: no items to score');
  const shown = new Set(t.shown ?? []);
  const scored = shown.size ? items.filter((it) => !shown.has(contentKey(it))) : items;
  const [ab, ba] = await Promise.all(
    ORDERS.map((order) => Promise.all(scored.map((it) => service.judge(fillTemplate(t, it, order, o), it.id, order)))),
  );
  return metricsOf(scored, ab as Judgement[], ba as Judgement[], { ties: o.ties ?? false, shown: items.length - scored.length });
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
  /** Sampling temperature of rewrites. Default 0 (greedy). */
  readonly rewriteTemperature?: number;
  /** Token budget of the failures a reflective rewrite shows (about 4 characters a token). Default 1000. */
  readonly reflectTokens?: number;
  /** Only checked: reflective rewrites need the library's reflect template. */
  readonly rewrite?: RewriteMode;
}

/** The text of a generator's answer made fit for a prompt section: thinking removed, first non-empty line, unquoted, bounded. */
export function cleanRewrite(text: string, fallback: string): string {
  const line =
    stripThinking(text)
      .split('\n')
      .map((s) => s.trim())
      .find((s) => s !== '') ?? '';
  const t = line
    .replace(/^["'`*]+|["'`*]+$/g, '')
    .replace(/\s+/g, ' ')
    .slice(0, 300)
    .trim();
  return (t.match(/[A-Za-z]/g)?.length ?? 0) >= 3 ? t : fallback;
}

/** LLM variations requested, carried out, and skipped (target replaced, nothing to reflect on, unusable answer, overflow). */
export interface RewriteStats {
  requested: number;
  done: number;
  skipped: number;
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)} [...]`;
}

/** A decision named as the AB presentation shows it. */
function choiceName(d: 0 | 1 | 2 | undefined): string {
  return d === undefined ? 'no readable verdict' : d === 0 ? 'a tie' : d === 1 ? 'Response A' : 'Response B';
}

/**
 * The failures shown to the generator by a reflective rewrite: items judged wrong in either order,
 * inconsistent, or unreadable, each with its texts (cut), the correct verdict and both verdicts (the
 * swapped order's named as in the shown order), within a budget of about `tokens` tokens.
 */
export function failureReport(results: readonly ItemResult[], tokens: number): string {
  const blocks: string[] = [];
  let used = 0;
  for (const r of results) {
    if (r.accuracy === 1 && r.consistent === 1) continue;
    const it = r.item;
    const answer = (j: Judgement) => cut(stripThinking(j.text).replace(/\s+/g, ' '), 120);
    const block = [
      `Item ${blocks.length + 1}`,
      `Instruction: ${cut(it.instruction, 300)}`,
      `Response A: ${cut(it.response1, 300)}`,
      `Response B: ${cut(it.response2, 300)}`,
      `Correct verdict: ${it.label === 1 ? 'Response A' : it.label === 2 ? 'Response B' : 'a tie'}`,
      `The judge chose: ${choiceName(r.d1)} (it answered "${answer(r.ab)}"); with the two responses shown in the other order: ${choiceName(r.d2)} (it answered "${answer(r.ba)}")`,
    ].join('\n');
    if (blocks.length && used + block.length > tokens * 4) break;
    blocks.push(block);
    used += block.length;
  }
  return blocks.join('\n\n');
}

/**
 * Fitness of judge prompts for the generic engine. Each generation has one seeded minibatch of the
 * training split; `beginGeneration` makes it current and tells the engine that earlier losses are
 * stale, so that the engine re-scores every parent on it and every individual competing in a
 * generation is compared on the same items (judgements are cached: an unchanged prompt pays only for
 * the items it has not seen). `evaluate` carries out pending LLM rewrites, then scores on the
 * minibatch (both orders) and returns judgeLoss, with one loss per item (`cases`) for lexicase or
 * Pareto selection. Minibatches, the full-split score of the promising candidate and reflective
 * mutation follow GEPA (Agrawal et al., "GEPA: Reflective Prompt Evolution Can Outperform
 * Reinforcement Learning", 2025), whose budget is likewise counted in metric calls. `probeVector`
 * gives the verdicts on a fixed probe subset (the behavioural distance of PIMP).
 */
export class JudgeEvaluator implements Evaluator<PromptGenome> {
  /** The generation whose minibatch is current. */
  generation = 0;
  private readonly batches = new Map<number, JudgeItem[]>();
  private readonly probes: JudgeItem[];
  private readonly vectors = new Map<string, Float64Array>();
  /** The latest minibatch scoring of each genome (by key; probe items for preferences): what a reflective rewrite shows. */
  private readonly scored = new Map<string, ItemResult[]>();
  /** Metrics of each genome's latest scoring, by genome key. */
  readonly lastMetrics = new Map<string, JudgeMetrics>();
  /** Per-item losses of each genome's latest minibatch scoring, by genome key (one case per batch item, in batch order). */
  readonly lastCases = new Map<string, Float64Array>();
  readonly rewrites: RewriteStats = { requested: 0, done: 0, skipped: 0 };
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
    if (train.length === 0) throw new ConfigError('judge: no training items to score');
    if (o.rewrite === 'reflective' && o.library && !o.library.rewrite.reflect)
      throw optionError('rewrite', 'the fragment library has no "reflect" template');
    this.weights = o.weights ?? DEFAULT_WEIGHTS;
    this.probes = train.slice(0, Math.min(probe, train.length));
  }

  template(g: PromptGenome): PromptTemplate {
    return renderTemplate(g, this.o.render);
  }

  /** The minibatch of generation `g`: a seeded sample without replacement, in training order. */
  batchOf(g: number): JudgeItem[] {
    let b = this.batches.get(g);
    if (!b) {
      const rng = new Rng(`minibatch:${this.o.seed}:${g}`);
      const idx = this.train.map((_, i) => i);
      const k = Math.min(this.minibatch, idx.length);
      for (let i = 0; i < k; i++) {
        const j = i + rng.int(idx.length - i);
        [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
      }
      b = idx
        .slice(0, k)
        .sort((x, y) => x - y)
        .map((i) => this.train[i] as JudgeItem);
      this.batches.set(g, b);
    }
    return b;
  }

  /** Scores a genome (pending rewrites ignored) on `items`. */
  async score(
    g: PromptGenome,
    items: readonly JudgeItem[],
  ): Promise<{ metrics: JudgeMetrics; loss: number; results: ItemResult[]; verdicts: ItemVerdict[] }> {
    const { metrics, results, verdicts } = await scoreTemplate(this.service, this.template(g), items, this.o.render);
    return { metrics, loss: judgeLoss(metrics, this.weights), results, verdicts };
  }

  /** Scores genomes on the current generation's minibatch and remembers their results; the losses, in order. */
  async rescore(genomes: readonly PromptGenome[]): Promise<Float64Array> {
    const batch = this.batchOf(this.generation);
    const out = new Float64Array(genomes.length);
    await Promise.all(
      genomes.map(async (g, i) => {
        const { metrics, loss, results } = await this.score(g, batch);
        const key = genomeKey(g);
        this.scored.set(key, results);
        this.lastMetrics.set(key, metrics);
        this.lastCases.set(key, this.caseVector(batch, results));
        out[i] = loss;
      }),
    );
    return out;
  }

  /**
   * The engine starts generation `g`: its minibatch becomes current, and the losses of earlier
   * generations (on other items) are stale, so the engine re-scores every parent on it before
   * selecting; not when the minibatch is the whole training split.
   */
  beginGeneration(g: number): boolean {
    this.generation = g;
    return this.minibatch < this.train.length;
  }

  async evaluate(genomes: readonly PromptGenome[]): Promise<Float64Array> {
    return (await this.evaluateDetailed(genomes)).losses;
  }

  /** Carries out the pending rewrites, then scores on the current minibatch; per-item losses (cases) on request. */
  async evaluateDetailed(
    genomes: readonly PromptGenome[],
    request?: EvaluationRequest,
  ): Promise<Evaluation<PromptGenome> & { losses: Float64Array }> {
    await this.resolveRewrites(genomes);
    const losses = await this.rescore(genomes);
    return request?.cases ? { losses, cases: genomes.map((g) => this.lastCases.get(genomeKey(g)) as Float64Array) } : { losses };
  }

  /**
   * One loss per minibatch item, in batch order, for every genome alike: an item that was skipped
   * (over the context) gets the worst loss, that of an unreadable verdict.
   */
  private caseVector(batch: readonly JudgeItem[], results: readonly ItemResult[]): Float64Array {
    const byId = new Map(results.map((r, i) => [r.item.id, i]));
    const losses = itemLosses(results, this.weights);
    const worst = judgeLoss({ accuracy: 0, consistency: 0, brier: 1, promptTokens: 0 }, this.weights);
    return Float64Array.from(batch, (it) => {
      const i = byId.get(it.id);
      return i === undefined ? worst : (losses[i] as number);
    });
  }

  /** Carries out the pending LLM rewrites of each genome in place, in order, through the cached generator. */
  async resolveRewrites(genomes: readonly PromptGenome[]): Promise<void> {
    await Promise.all(
      genomes.map(async (g) => {
        const todo = g.pending ?? [];
        if (todo.length === 0) return;
        delete g.pending;
        this.rewrites.requested += todo.length;
        const chain = new Map<string, { from: string; to: string }>();
        for (const p of todo) {
          if (await this.rewriteOne(g, p, chain)) this.rewrites.done++;
          else this.rewrites.skipped++;
        }
      }),
    );
  }

  /** Counts the pending rewrites of genomes that are never scored (preferences nobody looks at) as skipped. */
  dropRewrites(genomes: readonly PromptGenome[]): void {
    for (const g of genomes) {
      const n = g.pending?.length ?? 0;
      if (!n) continue;
      delete g.pending;
      this.rewrites.requested += n;
      this.rewrites.skipped += n;
    }
  }

  private async rewriteOne(g: PromptGenome, p: PendingRewrite, chain: Map<string, { from: string; to: string }>): Promise<boolean> {
    const lib = this.o.library;
    if (!lib) throw new ConfigError('judge: LLM rewrites need the fragment library');
    // Find the target: still the requested text, or the result of an earlier rewrite of that text.
    const slot = `${p.section}:${p.text}`;
    const earlier = chain.get(slot);
    const current = earlier?.to ?? p.text;
    const index = p.section === 'criterion' ? g.criteria.indexOf(current) : -1;
    if (p.section === 'criterion' ? index < 0 : g[p.section] !== current) return false;
    let user: string;
    if (p.kind === 'reflect') {
      const template = lib.rewrite.reflect;
      if (!template) throw optionError('rewrite', 'the fragment library has no "reflect" template');
      const base = withoutPending(g);
      const key = genomeKey(base);
      let results = this.scored.get(key);
      if (!results) {
        results = (await this.score(base, this.batchOf(this.generation))).results;
        this.scored.set(key, results);
      }
      const failures = failureReport(results, this.o.reflectTokens ?? JUDGE_DEFAULTS.reflectTokens);
      if (failures === '') return false; // right on every item: nothing to learn from (GEPA skips such candidates)
      user = fill(template, { text: current, prompt: this.template(base).system, failures });
    } else {
      user = fill(lib.rewrite[p.kind], { text: current, other: p.other ?? '' });
    }
    let text: string;
    try {
      const r = await this.service.generate(
        { system: '', user },
        {
          maxTokens: this.o.rewriteTokens ?? JUDGE_DEFAULTS.rewriteTokens,
          temperature: this.o.rewriteTemperature ?? JUDGE_DEFAULTS.rewriteTemperature,
          seed: p.seed,
        },
      );
      text = cleanRewrite(r.text, '');
    } catch (e) {
      if (e instanceof ContextOverflowError) return false;
      throw e;
    }
    if (text === '') return false;
    if (p.section === 'criterion') g.criteria[index] = text;
    else g[p.section] = text;
    chain.set(slot, { from: p.text, to: text });
    return true;
  }

  /** Metrics and loss on the whole training split (or on `items`). */
  async scoreFull(g: PromptGenome, items: readonly JudgeItem[] = this.train): Promise<{ metrics: JudgeMetrics; loss: number }> {
    const { metrics, loss } = await this.score(g, items);
    return { metrics, loss };
  }

  /** Debiased verdicts on the probe subset (computed once per genotype; judgements are cached anyway). */
  async probeVector(g: PromptGenome): Promise<Float64Array> {
    const key = genomeKey(withoutPending(g));
    let v = this.vectors.get(key);
    if (!v) {
      const { verdicts, results } = await this.score(withoutPending(g), this.probes);
      v = Float64Array.from(verdicts, (x) => x.p);
      // a preference is scored only here: what a reflective rewrite of it shows
      if (!this.scored.has(key)) this.scored.set(key, results);
      this.vectors.set(key, v);
    }
    return v;
  }

  /**
   * Behavioural distance for PIMP: mean absolute difference of the debiased verdict probabilities on
   * the probe subset. Synchronous (the engine's mate choice is), so the vectors must have been computed
   * (`probeVector`) beforehand; a genome without one (or with vectors of different lengths, when a
   * probe item was skipped) falls back to the structural distance.
   */
  behaviouralDistance = (a: PromptGenome, b: PromptGenome): number => {
    const va = this.vectors.get(genomeKey(withoutPending(a)));
    const vb = this.vectors.get(genomeKey(withoutPending(b)));
    if (!va || !vb || va.length !== vb.length || va.length === 0) return structuralDistance(a, b);
    let s = 0;
    for (let i = 0; i < va.length; i++) s += Math.abs((va[i] as number) - (vb[i] as number));
    return s / va.length;
  };

  async close(): Promise<void> {}
}

/** Fills {{name}} placeholders in one pass (so that braces inside the values stay literal). */
function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (m, k: string) => values[k] ?? m);
}
