// Judge throughput on the in-process back end (figures, not pass/fail):
//   npx tsx bench/judge.ts [model.gguf] [items]
// Judges the items in both orders with a prompt whose system message and few-shot examples are shared
// by every judgement, side by side: each prompt evaluated from an empty context, and reusing the
// evaluated shared prefix (identical probabilities, checked), alternated and each the faster of two runs;
// then the same judgements from the cache.
// Throughput as judgements/s and prompt tokens/s.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { JudgeCache, JudgeService } from '../src/judge/cache.js';
import { loadItems } from '../src/judge/data.js';
import { scoreTemplate } from '../src/judge/fitness.js';
import { baselineGenome } from '../src/judge/genome.js';
import { defaultLibrary } from '../src/judge/library.js';
import { LlamaBackend } from '../src/judge/llama.js';
import { renderTemplate } from '../src/judge/render.js';

const shared = [process.env['GPMATE_SHARED'], resolve('../shared'), '/work/shared'].find((p) => p && existsSync(p)) as string;
const model = process.argv[2] ?? join(shared, 'models', 'llama-2-tiny-random.gguf');
const n = Number(process.argv[3] ?? 20);
const all = loadItems(join(shared, 'data', 'judge', 'llmbar', 'natural.json'));
const items = all.slice(2, 2 + n);
const render = { maxChars: 500 };
const lib = defaultLibrary();
// a realistic evolved prompt: criteria, a procedure and two few-shot examples shared by all judgements
const genome = {
  ...baselineGenome(),
  criteria: lib.criteria.slice(0, 4),
  procedure: lib.procedure[1]!,
  examples: all.slice(0, 2).map(({ id: _, ...x }) => x),
};
const template = renderTemplate(genome, { ...render, exampleChars: 300 });
const judge = { minLetterMass: 0 }; // the tiny model's letters carry little mass: read them at the first token

async function run(reusePrefix: boolean) {
  const t0 = performance.now();
  const llama = await LlamaBackend.open({ modelPath: model, judge, reusePrefix });
  const tLoad = (performance.now() - t0) / 1000;
  const service = new JudgeService(llama, new JudgeCache(join(mkdtempSync(join(tmpdir(), 'gpmate-bench-')), 'c.sqlite')));
  const t1 = performance.now();
  const first = await scoreTemplate(service, template, items, render);
  const tRun = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  await scoreTemplate(service, template, items, render);
  const tCached = (performance.now() - t2) / 1000;
  service.cache.close();
  const evaluated = llama.evaluatedPromptTokens;
  await llama.close();
  return { tLoad, tRun, tCached, s: service.stats, verdicts: first.verdicts, evaluated };
}

// alternate the two, twice, and keep each one's faster run (the machine is shared)
const runs = [await run(false), await run(true), await run(false), await run(true)];
const faster = (a: (typeof runs)[number], b: (typeof runs)[number]) => (a.tRun <= b.tRun ? a : b);
const fresh = faster(runs[0]!, runs[2]!);
const reused = faster(runs[1]!, runs[3]!);
const same = JSON.stringify(fresh.verdicts) === JSON.stringify(reused.verdicts);
console.log(
  `model ${model.split('/').at(-1)}: load ${fresh.tLoad.toFixed(2)} s; ${items.length} items x 2 orders, ${(fresh.s.promptTokens / fresh.s.calls).toFixed(0)} prompt tokens each`,
);
for (const [name, r] of [
  ['empty context', fresh],
  ['shared prefix', reused],
] as const) {
  console.log(
    `${name.padEnd(14)} ${r.s.calls} judgements in ${r.tRun.toFixed(2)} s = ${(r.s.calls / r.tRun).toFixed(1)} judgements/s, ${(r.s.promptTokens / r.tRun).toFixed(0)} prompt tokens/s; ${r.evaluated} of ${r.s.promptTokens} prompt tokens evaluated`,
  );
}
console.log(`prefix reuse: ${(fresh.tRun / reused.tRun).toFixed(2)}x faster, probabilities identical: ${same}`);
console.log(
  `cached:        ${reused.s.cacheHits} judgements in ${reused.tCached.toFixed(3)} s = ${(reused.s.cacheHits / reused.tCached).toFixed(0)} judgements/s`,
);
