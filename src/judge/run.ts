import { evolve, type GenerationStats } from '../core/evolve.js';
import type { Individual } from '../core/types.js';
import type { JudgeService } from './cache.js';
import type { Split } from './data.js';
import { JudgeEvaluator, type JudgeMetrics } from './fitness.js';
import { baselineGenome, genomeKey, promptRepresentation, type PromptGenome } from './genome.js';
import type { FragmentLibrary } from './library.js';
import { resolveJudgeOptions, type JudgeOptions } from './options.js';
import { templateText, type PromptTemplate, type RenderOptions } from './render.js';

/** A search's options (src/judge/options.ts), the fragment library its operators draw on, and how items are shown. */
export interface JudgeEvolveOptions extends JudgeOptions {
  readonly library: FragmentLibrary;
  readonly render?: RenderOptions;
}

export interface ScoredPrompt {
  readonly genome: PromptGenome;
  readonly template: PromptTemplate;
  readonly loss: number;
  readonly metrics: JudgeMetrics;
}

export interface JudgeEvolveResult {
  /** The best prompt by whole-training-split loss (the elite re-scored each generation). */
  readonly best: ScoredPrompt;
  readonly bestTest: { readonly loss: number; readonly metrics: JudgeMetrics };
  readonly baseline: {
    readonly template: PromptTemplate;
    readonly train: JudgeMetrics;
    readonly test: JudgeMetrics;
    readonly testLoss: number;
  };
  readonly history: readonly (GenerationStats & { readonly eliteTrainLoss: number })[];
  readonly generations: number;
  readonly evaluations: number;
}

/**
 * Evolves a judge prompt with the generic engine: a prompt genome (promptRepresentation), the judge
 * fitness (JudgeEvaluator: minibatch loss), the three selection modes unchanged. After each generation
 * the elite is re-scored on the whole training split (its fitness becomes that loss, GEPA-style), and
 * under PIMP the probe vectors of every genome and preference are computed for the behavioural mate
 * distance. The champion (lowest whole-split loss) is finally scored on the test split next to the
 * plain baseline prompt.
 */
export async function evolveJudge(
  service: JudgeService,
  split: Split,
  o: JudgeEvolveOptions,
  onGeneration?: (s: GenerationStats & { eliteTrainLoss: number }, elite: ScoredPrompt) => void,
): Promise<JudgeEvolveResult> {
  const eo = resolveJudgeOptions(o);
  const distance = eo.distance;
  const rep = promptRepresentation({
    library: o.library,
    examplePool: split.train.map((it) => it.id),
    maxCriteria: eo.maxCriteria,
    maxExamples: eo.maxExamples,
    llmRate: eo.llmRate,
  });
  const evaluator = new JudgeEvaluator(service, split.train, {
    seed: eo.seed,
    weights: eo.weights,
    library: o.library,
    minibatch: eo.minibatch,
    rewriteTokens: eo.rewriteTokens,
    probe: eo.probe,
    ...(o.render ? { render: o.render } : {}),
  });
  const full = new Map<string, { loss: number; metrics: JudgeMetrics }>();
  let champion: ScoredPrompt | undefined;
  const history: (GenerationStats & { eliteTrainLoss: number })[] = [];

  const rescoreElites = async (pop: readonly Individual<PromptGenome>[]): Promise<ScoredPrompt> => {
    const order = pop.map((_, i) => i).sort((i, j) => (pop[i]!.fitness as number) - (pop[j]!.fitness as number) || i - j);
    let elite: ScoredPrompt | undefined;
    for (const i of order.slice(0, Math.max(1, eo.elites))) {
      const ind = pop[i] as Individual<PromptGenome>;
      const key = genomeKey(ind.genome);
      let s = full.get(key);
      if (!s) {
        s = await evaluator.scoreFull(ind.genome);
        full.set(key, s);
      }
      ind.fitness = s.loss;
      const scored = { genome: ind.genome, template: evaluator.template(ind.genome), ...s };
      if (!elite || s.loss < elite.loss) elite = scored;
      if (!champion || s.loss < champion.loss) champion = scored;
    }
    return elite as ScoredPrompt;
  };

  const result = await evolve(rep, evaluator, eo, {
    ...(eo.selection === 'pimp' && distance === 'behavioural' ? { mateDistance: evaluator.behaviouralDistance } : {}),
    onGeneration: async (stats, state) => {
      const elite = await rescoreElites(state.population);
      if (eo.selection === 'pimp' && distance === 'behavioural') {
        await Promise.all(
          state.population.flatMap((ind) => [ind.genome, ...(ind.preference ? [ind.preference] : [])]).map((g) => evaluator.probeVector(g)),
        );
      }
      const s = { ...stats, eliteTrainLoss: elite.loss };
      history.push(s);
      onGeneration?.(s, elite);
    },
  });
  const best = champion as ScoredPrompt;
  const bestTest = await evaluator.scoreFull(best.genome, split.test);
  const base = baselineGenome();
  const baseTrain = await evaluator.scoreFull(base);
  const baseTest = await evaluator.scoreFull(base, split.test);
  return {
    best,
    bestTest,
    baseline: { template: evaluator.template(base), train: baseTrain.metrics, test: baseTest.metrics, testLoss: baseTest.loss },
    history,
    generations: result.generations,
    evaluations: result.evaluations,
  };
}

/** The best prompt as text (the template with its placeholders). */
export function promptText(p: ScoredPrompt): string {
  return templateText(p.template);
}
