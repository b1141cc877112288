// Judge-prompt evolution against the scripted judge (test/scripted-judge.ts), a loopback
// OpenAI-compatible server whose accuracy depends on the prompt in known ways (figures, not pass/fail):
//   npx tsx bench/judge-scripted.ts [--items N] [--population N] [--generations G] [--minibatch N]
//                                   [--seeds S] [--llm-rate P] [--rewrite plain|reflective] [--protocol direct|reasoned]
//                                   [--first-parent tournament|lexicase|pareto]
// For each selection mode and seed: held-out accuracy of the best prompt vs the plain baseline prompt,
// whether the best prompt asks for both criteria the judge needs, and the paid requests of the run.
import { parseArgs } from 'node:util';
import { JudgeCache, JudgeService } from '../src/judge/cache.js';
import { splitItems, type JudgeItem } from '../src/judge/data.js';
import { HttpBackend } from '../src/judge/http.js';
import { defaultLibrary } from '../src/judge/library.js';
import { resolveReading, type RewriteMode } from '../src/judge/options.js';
import { fillTemplate } from '../src/judge/render.js';
import { evolveJudge } from '../src/judge/run.js';
import type { Protocol } from '../src/judge/verdict.js';
import { SELECTION_MODES, type FirstParentMode } from '../src/core/types.js';
import { scriptedItems, scriptedServer, scriptedVerdict } from '../test/scripted-judge.js';

const { values: a } = parseArgs({
  options: {
    items: { type: 'string', default: '80' },
    population: { type: 'string', default: '12' },
    generations: { type: 'string', default: '8' },
    minibatch: { type: 'string', default: '8' },
    seeds: { type: 'string', default: '3' },
    'llm-rate': { type: 'string', default: '0' },
    rewrite: { type: 'string', default: 'plain' },
    protocol: { type: 'string', default: 'direct' },
    'first-parent': { type: 'string', default: 'tournament' },
  },
});
const judge = resolveReading({ protocol: a.protocol as Protocol });
const items: JudgeItem[] = scriptedItems(Number(a.items), 7).map((x, i) => ({
  id: `s${i}`,
  instruction: x.instruction,
  response1: x.response_a,
  response2: x.response_b,
  label: x.label === 'A' ? 1 : 2,
}));
const server = await scriptedServer();
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
console.log(
  `scripted judge: ${items.length} items (half train, half held out), population ${a.population}, generations ${a.generations}, minibatch ${a.minibatch}, first parent ${a['first-parent']}, llm-rate ${a['llm-rate']} (${a.rewrite}), protocol ${judge.protocol}`,
);
console.log('mode         seed  best test acc  baseline test acc  best asks both criteria  paid requests  rewrites (done/requested)');
const totals = new Map<string, { best: number; base: number; found: number; paid: number; n: number }>();
try {
  for (const selection of SELECTION_MODES) {
    for (let seed = 1; seed <= Number(a.seeds); seed++) {
      const http = await HttpBackend.open({ baseUrl: server.url, model: 'scripted', judge, concurrency: 8 });
      const service = new JudgeService(http, new JudgeCache(':memory:'));
      const split = splitItems(items, 0.5, seed);
      const r = await evolveJudge(service, split, {
        seed,
        selection,
        firstParent: a['first-parent'] as FirstParentMode,
        library: defaultLibrary(),
        protocol: judge.protocol,
        populationSize: Number(a.population),
        generations: Number(a.generations),
        minibatch: Number(a.minibatch),
        tournamentSize: 3,
        mutationRate: 0.5,
        maxExamples: 0,
        llmRate: Number(a['llm-rate']),
        rewrite: a.rewrite as RewriteMode,
      });
      service.cache.close();
      const best = r.bestTest!.metrics.accuracy;
      const base = r.baseline!.test.accuracy;
      // does the best prompt make the judge accurate on a fresh item? (both criteria asked for)
      const probe = fillTemplate(r.best!.template, items[0]!, 'AB');
      const found = scriptedVerdict(probe.system, probe.user)?.p === 0.9;
      const paid = service.stats.requests;
      const t = totals.get(selection) ?? { best: 0, base: 0, found: 0, paid: 0, n: 0 };
      totals.set(selection, {
        best: t.best + best,
        base: t.base + base,
        found: t.found + (found ? 1 : 0),
        paid: t.paid + paid,
        n: t.n + 1,
      });
      console.log(
        `${selection.padEnd(12)} ${String(seed).padStart(4)}  ${pct(best).padStart(13)}  ${pct(base).padStart(17)}  ${String(found).padStart(23)}  ${String(paid).padStart(13)}  ${r.rewrites.done}/${r.rewrites.requested}`,
      );
    }
  }
  console.log('\nmeans over seeds');
  for (const [mode, t] of totals)
    console.log(
      `${mode.padEnd(12)} best ${pct(t.best / t.n)}  baseline ${pct(t.base / t.n)}  found ${t.found}/${t.n}  paid requests ${(t.paid / t.n).toFixed(0)}`,
    );
} finally {
  await server.close();
}
