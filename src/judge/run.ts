import { evolve, type GenerationStats } from '../core/evolve.js';
import type { Individual } from '../core/types.js';
import { BudgetExhaustedError, type JudgeService } from './cache.js';
import type { Example, JudgeItem, Split } from './data.js';
import { JudgeEvaluator, type JudgeMetrics, type RewriteStats } from './fitness.js';
import { baselineGenome, genomeKey, promptRepresentation, type PromptGenome } from './genome.js';
import type { FragmentLibrary } from './library.js';
import { resolveJudgeOptions, type JudgeOptions, type JudgeSettings } from './options.js';
import { templateText, type PromptTemplate, type RenderOptions } from './render.js';

/** A search's options (src/judge/options.ts), the fragment library its operators draw on, and how items are shown. */
export interface JudgeEvolveOptions extends JudgeOptions {
  readonly library: FragmentLibrary;
  /** How items are shown (the protocol's cue and ties come from the reading settings). */
  readonly render?: Omit<RenderOptions, 'protocol' | 'ties'>;
}

export interface ScoredPrompt {
  readonly genome: PromptGenome;
  readonly template: PromptTemplate;
  readonly loss: number;
  readonly metrics: JudgeMetrics;
}

/** One generation as the run reports it: the engine's statistics over the re-scored population. */
export type JudgeGenerationStats = GenerationStats & { readonly eliteTrainLoss: number };

/** What a generation hands to the caller besides its statistics. */
export interface GenerationView {
  readonly population: readonly Individual<PromptGenome>[];
  /** Ids of this generation's minibatch: every individual's fitness is its loss on these items. */
  readonly batch: readonly string[];
}

export interface JudgeEvolveResult {
  /** The best prompt by whole-training-split loss (the generation's best re-scored on the whole split); absent when the budget ran out before one was scored. */
  readonly best?: ScoredPrompt;
  readonly bestTest?: { readonly loss: number; readonly metrics: JudgeMetrics };
  readonly baseline?: {
    readonly template: PromptTemplate;
    readonly train: JudgeMetrics;
    readonly trainLoss: number;
    readonly test: JudgeMetrics;
    readonly testLoss: number;
  };
  readonly history: readonly JudgeGenerationStats[];
  readonly generations: number;
  readonly evaluations: number;
  /** Training items set apart as few-shot examples (never scored). */
  readonly examplePool: number;
  readonly rewrites: RewriteStats;
  /** Set when the budget of paid requests ran out: the result is the best found so far. */
  readonly stoppedBy?: 'budget';
}

/** The training items set apart as the few-shot example pool (4 per allowed example, at most a quarter of the split). */
function examplePoolSize(o: JudgeSettings, train: number): number {
  if (o.examplePool !== undefined) return Math.min(o.examplePool, train - 1);
  return o.maxExamples === 0 ? 0 : Math.min(4 * o.maxExamples, Math.floor(train / 4));
}

/**
 * Evolves a judge prompt with the generic engine: a prompt genome (promptRepresentation), the judge
 * fitness (JudgeEvaluator: minibatch loss, per-item losses for lexicase or Pareto first-parent
 * selection), the selection modes unchanged. Each generation has its own minibatch, and the engine
 * re-scores every parent on it (JudgeEvaluator.beginGeneration), so that parents, elites, copies and
 * offspring compete on the same items. After each generation the best `max(1, elites)` are scored on
 * the whole training split (GEPA-style), and under PIMP the preferences' rewrites are carried out and
 * the probe vectors of the behavioural distance computed. The champion (lowest whole-split loss) is
 * finally scored on the test split next to the plain baseline prompt. When the budget of paid requests
 * runs out, the result is the best prompt found so far, marked `stoppedBy: 'budget'`; a rerun with a
 * larger budget replays the cached judgements and continues from there.
 */
export async function evolveJudge(
  service: JudgeService,
  split: Split,
  o: JudgeEvolveOptions,
  onGeneration?: (s: JudgeGenerationStats, elite: ScoredPrompt, view: GenerationView) => void,
): Promise<JudgeEvolveResult> {
  const eo = resolveJudgeOptions(o);
  const nPool = examplePoolSize(eo, split.train.length);
  const pool: Example[] = split.train.slice(0, nPool).map(({ id: _, ...x }) => x);
  const train: JudgeItem[] = split.train.slice(nPool);
  const rep = promptRepresentation({
    library: o.library,
    examplePool: pool,
    maxCriteria: eo.maxCriteria,
    maxExamples: eo.maxExamples,
    llmRate: eo.llmRate,
    rewrite: eo.rewrite,
  });
  const render: RenderOptions = {
    ...o.render,
    ...(eo.protocol !== 'direct' ? { protocol: eo.protocol } : {}),
    ...(eo.ties ? { ties: true } : {}),
  };
  const evaluator = new JudgeEvaluator(service, train, {
    seed: eo.seed,
    weights: eo.weights,
    library: o.library,
    rewrite: eo.rewrite,
    minibatch: eo.minibatch,
    rewriteTokens: eo.rewriteTokens,
    rewriteTemperature: eo.rewriteTemperature,
    reflectTokens: eo.reflectTokens,
    probe: eo.probe,
    render,
  });
  const behavioural = eo.selection === 'pimp' && eo.distance === 'behavioural';
  const full = new Map<string, { loss: number; metrics: JudgeMetrics }>();
  let champion: ScoredPrompt | undefined;
  let latest: readonly Individual<PromptGenome>[] | undefined;
  const history: JudgeGenerationStats[] = [];

  const scoreBest = async (pop: readonly Individual<PromptGenome>[]): Promise<ScoredPrompt> => {
    const order = pop.map((_, i) => i).sort((i, j) => (pop[i]!.fitness as number) - (pop[j]!.fitness as number) || i - j);
    let elite: ScoredPrompt | undefined;
    for (const i of order.slice(0, Math.max(1, eo.elites))) {
      const g = (pop[i] as Individual<PromptGenome>).genome;
      const key = genomeKey(g);
      let s = full.get(key);
      if (!s) {
        s = await evaluator.scoreFull(g);
        full.set(key, s);
      }
      const scored = { genome: g, template: evaluator.template(g), ...s };
      if (!elite || s.loss < elite.loss) elite = scored;
      if (!champion || s.loss < champion.loss) champion = scored;
    }
    return elite as ScoredPrompt;
  };

  let stopped: 'budget' | undefined;
  let generations = 0;
  let evaluations = 0;
  try {
    const result = await evolve(rep, evaluator, eo, {
      ...(behavioural ? { mateDistance: evaluator.behaviouralDistance } : {}),
      onGeneration: async (stats, state) => {
        const pop = state.population;
        latest = pop;
        const prefs = pop.flatMap((ind) => (ind.preference ? [ind.preference] : []));
        if (eo.selection === 'pimp') await evaluator.resolveRewrites(prefs);
        else evaluator.dropRewrites(prefs);
        const elite = await scoreBest(pop);
        if (behavioural)
          await Promise.all(
            pop.flatMap((ind) => [ind.genome, ...(ind.preference ? [ind.preference] : [])]).map((g) => evaluator.probeVector(g)),
          );
        const s: JudgeGenerationStats = { ...stats, eliteTrainLoss: elite.loss };
        history.push(s);
        generations = state.generation;
        evaluations = state.evaluations;
        onGeneration?.(s, elite, { population: pop, batch: evaluator.batchOf(state.generation).map((it) => it.id) });
      },
    });
    generations = result.generations;
    evaluations = result.evaluations;
  } catch (e) {
    if (!(e instanceof BudgetExhaustedError)) throw e;
    stopped = 'budget';
  }
  const base = baselineGenome();
  const common = { history, generations, evaluations, examplePool: nPool, rewrites: { ...evaluator.rewrites } };
  if (stopped) return { ...common, stoppedBy: stopped, ...(champion ? { best: champion } : fallbackBest(evaluator, latest)) };
  const best = champion as ScoredPrompt;
  try {
    const bestTest = await evaluator.scoreFull(best.genome, split.test);
    const baseTrain = await evaluator.scoreFull(base);
    const baseTest = await evaluator.scoreFull(base, split.test);
    return {
      ...common,
      best,
      bestTest,
      baseline: {
        template: evaluator.template(base),
        train: baseTrain.metrics,
        trainLoss: baseTrain.loss,
        test: baseTest.metrics,
        testLoss: baseTest.loss,
      },
    };
  } catch (e) {
    if (!(e instanceof BudgetExhaustedError)) throw e;
    return { ...common, best, stoppedBy: 'budget' };
  }
}

/** Without a whole-split score yet: the best of the last complete generation, with its minibatch metrics. */
function fallbackBest(evaluator: JudgeEvaluator, pop: readonly Individual<PromptGenome>[] | undefined): { best?: ScoredPrompt } {
  if (!pop?.length) return {};
  const ind = pop.reduce((a, b) => ((b.fitness as number) < (a.fitness as number) ? b : a));
  const metrics = evaluator.lastMetrics.get(genomeKey(ind.genome));
  return metrics ? { best: { genome: ind.genome, template: evaluator.template(ind.genome), loss: ind.fitness as number, metrics } } : {};
}

/** The best prompt as text (the template with its placeholders). */
export function promptText(p: ScoredPrompt): string {
  return templateText(p.template);
}
