// Judge throughput on the in-process back end (figures, not pass/fail):
//   npx tsx bench/judge.ts [model.gguf] [items]
// Prints judgements/s and prompt tokens/s, uncached, then the same judgements from the SQLite cache.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { JudgeCache, JudgeService } from '../src/judge/cache.js';
import { loadItems } from '../src/judge/data.js';
import { scoreTemplate } from '../src/judge/fitness.js';
import { baselineGenome } from '../src/judge/genome.js';
import { LlamaBackend } from '../src/judge/llama.js';
import { renderTemplate } from '../src/judge/render.js';

const shared = [process.env['GPMATE_SHARED'], resolve('../shared'), '/work/shared'].find((p) => p && existsSync(p)) as string;
const model = process.argv[2] ?? join(shared, 'models', 'llama-2-tiny-random.gguf');
const n = Number(process.argv[3] ?? 20);
const items = loadItems(join(shared, 'data', 'judge', 'llmbar', 'natural.json')).slice(0, n);
const render = { maxChars: 500 };
const template = renderTemplate(baselineGenome(), render);

const t0 = performance.now();
const llama = await LlamaBackend.open({ modelPath: model });
const tLoad = performance.now() - t0;
const service = new JudgeService(llama, new JudgeCache(join(mkdtempSync(join(tmpdir(), 'gpmate-bench-')), 'c.sqlite')));
const t1 = performance.now();
await scoreTemplate(service, template, items, render);
const tRun = (performance.now() - t1) / 1000;
const t2 = performance.now();
await scoreTemplate(service, template, items, render);
const tCached = (performance.now() - t2) / 1000;
const s = service.stats;
console.log(`model ${llama.model}: load ${(tLoad / 1000).toFixed(2)} s`);
console.log(
  `uncached: ${s.calls} judgements in ${tRun.toFixed(2)} s = ${(s.calls / tRun).toFixed(1)} judgements/s, ${(s.promptTokens / tRun).toFixed(0)} prompt tokens/s (${(s.promptTokens / s.calls).toFixed(0)} tokens each)`,
);
console.log(`cached:   ${s.cacheHits} judgements in ${tCached.toFixed(3)} s = ${(s.cacheHits / tCached).toFixed(0)} judgements/s`);
service.cache.close();
await llama.close();
