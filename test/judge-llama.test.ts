import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerLetter } from '../src/judge/backend.js';
import { BudgetExhaustedError, JudgeCache, JudgeService } from '../src/judge/cache.js';
import { loadItems, splitItems } from '../src/judge/data.js';
import { JudgeEvaluator, scoreTemplate } from '../src/judge/fitness.js';
import { baselineGenome, genomeKey, type PromptGenome } from '../src/judge/genome.js';
import { defaultLibrary } from '../src/judge/library.js';
import { LlamaBackend } from '../src/judge/llama.js';
import { fillTemplate, renderTemplate } from '../src/judge/render.js';
import { LLMBAR, TINY_MODEL, tmp } from './judge-helpers.js';

const render = { maxChars: 200 };
const split = splitItems(loadItems(LLMBAR), 0.5, 1, 8);
const items = split.train.slice(0, 3);
const template = renderTemplate(baselineGenome(), new Map(), render);

describe('in-process GGUF back end (real llama.cpp, tiny random model)', () => {
  let llama: LlamaBackend;
  beforeAll(async () => {
    llama = await LlamaBackend.open({ modelPath: TINY_MODEL });
  });
  afterAll(async () => {
    await llama.close();
    await llama.close(); // safe twice
  });

  it('reads the probabilities of A and B as the first answer token, the same on every call', async () => {
    const p = fillTemplate(template, items[0]!, 'AB', render);
    const j = await llama.judge(p);
    expect(j.source).toBe('probabilities');
    expect(j.pA).toBeGreaterThan(0);
    expect(j.pB).toBeGreaterThan(0);
    expect(j.pA + j.pB).toBeLessThan(1);
    expect(j.promptTokens).toBeGreaterThan(50);
    expect(await llama.judge(p)).toEqual(j);
    const ba = fillTemplate(template, items[0]!, 'BA', render);
    expect(ba.user).not.toBe(p.user);
    const swapped = await llama.judge(ba);
    expect(swapped.source).toBe('probabilities');
    expect(swapped.pA).toBeGreaterThan(0);
    // the same mass from the full next-token distribution, summed over every spelling of the letter
    const { top } = await llama.topTokens(p, 1_000_000);
    expect(top.length).toBeGreaterThan(1000);
    const mass = (l: string) => top.filter(([t]) => answerLetter(t) === l).reduce((s, [, lp]) => s + Math.exp(lp), 0);
    expect(mass('A')).toBeCloseTo(j.pA, 12);
    expect(mass('B')).toBeCloseTo(j.pB, 12);
  });

  it('gives the same probabilities whatever the thread count', async () => {
    const p = fillTemplate(template, items[1]!, 'BA', render);
    const two = await LlamaBackend.open({ modelPath: TINY_MODEL, threads: 2 });
    try {
      expect(await two.judge(p)).toEqual(await llama.judge(p));
    } finally {
      await two.close();
    }
  });

  it('generates greedy text within the token limit', async () => {
    const g = await llama.generate({ system: '', user: 'Rewrite: be fair.\nRewritten:' }, 8);
    expect(g.completionTokens).toBeGreaterThan(0);
    expect(g.completionTokens).toBeLessThanOrEqual(8);
    expect(typeof g.text).toBe('string');
    expect(await llama.generate({ system: '', user: 'Rewrite: be fair.\nRewritten:' }, 8)).toEqual(g);
  });

  it('caches every judgement in SQLite: repeated and resumed scorings make no calls', async () => {
    const file = join(tmp(), 'cache.sqlite');
    const s1 = new JudgeService(llama, new JudgeCache(file));
    const first = await scoreTemplate(s1, template, items, render);
    expect(s1.stats.calls).toBe(6); // 3 items x 2 orders
    expect(s1.stats.promptTokens).toBeGreaterThan(0);
    const again = await scoreTemplate(s1, template, items, render);
    expect(again).toEqual(first);
    expect(s1.stats.calls).toBe(6);
    expect(s1.stats.cacheHits).toBe(6);
    s1.cache.close();
    // a new process on the same file (a resumed run)
    const s2 = new JudgeService(llama, new JudgeCache(file));
    expect(await scoreTemplate(s2, template, items, render)).toEqual(first);
    expect(s2.stats.calls).toBe(0);
    expect(s2.cache.count().judgements).toBe(6);
    s2.cache.close();
  });

  it('stops at the call budget and resumes from the cache without repeating a call', async () => {
    const file = join(tmp(), 'cache.sqlite');
    const g: PromptGenome = { ...baselineGenome(), role: 'You are a strict grader.' };
    const t = renderTemplate(g, new Map(), render);
    const s1 = new JudgeService(llama, new JudgeCache(file), 4);
    await expect(scoreTemplate(s1, t, items, render)).rejects.toBeInstanceOf(BudgetExhaustedError);
    await s1.settle(); // the calls admitted before the budget ran out land in the cache
    expect(s1.stats.calls).toBe(4);
    expect(s1.cache.count().judgements).toBe(4);
    s1.cache.close();
    const s2 = new JudgeService(llama, new JudgeCache(file));
    const full = await scoreTemplate(s2, t, items, render);
    expect(s2.stats.calls).toBe(2);
    expect(s2.stats.cacheHits).toBe(4);
    expect(full.metrics.items).toBe(3);
    s2.cache.close();
  });

  it('scores minibatches, carries out LLM rewrites through the cache, and measures behavioural distance', async () => {
    const file = join(tmp(), 'cache.sqlite');
    const lib = defaultLibrary();
    const make = () =>
      new JudgeEvaluator(new JudgeService(llama, new JudgeCache(file)), split.train, {
        seed: 1,
        minibatch: 2,
        probe: 2,
        library: lib,
        render,
        rewriteTokens: 12,
      });
    const ev = make();
    const g: PromptGenome = {
      ...baselineGenome(),
      criteria: [lib.criteria[0]!],
      pending: { kind: 'mutate', section: 'criterion', index: 0 },
    };
    const losses = await ev.evaluate([g, baselineGenome()]);
    expect(losses).toHaveLength(2);
    for (const l of losses) expect(Number.isFinite(l) && l >= 0).toBe(true);
    expect(g.pending).toBeUndefined();
    expect(ev.service.cache.count().generations).toBe(1);
    expect(ev.lastMetrics.get(genomeKey(g))?.items).toBe(2);
    const v1 = await ev.probeVector(g);
    const v0 = await ev.probeVector(baselineGenome());
    expect(v1).toHaveLength(2);
    expect(ev.behaviouralDistance(g, g)).toBe(0);
    const d = ev.behaviouralDistance(g, baselineGenome());
    expect(d).toBeGreaterThanOrEqual(0);
    expect(d).toBeLessThanOrEqual(1);
    expect(d).toBeCloseTo((Math.abs(v1[0]! - v0[0]!) + Math.abs(v1[1]! - v0[1]!)) / 2, 12);
    ev.service.cache.close();
    // the same rewrite again: the generator is not called
    const ev2 = make();
    const g2: PromptGenome = {
      ...baselineGenome(),
      criteria: [lib.criteria[0]!],
      pending: { kind: 'mutate', section: 'criterion', index: 0 },
    };
    await ev2.evaluate([g2]);
    expect(g2.criteria).toEqual(g.criteria);
    expect(ev2.service.stats.calls).toBe(0);
    ev2.service.cache.close();
  });

  it('refuses a missing model file with a one-line error', async () => {
    await expect(LlamaBackend.open({ modelPath: '/nonexistent/model.gguf' })).rejects.toThrow(
      /option model: GGUF file \/nonexistent\/model\.gguf not found/,
    );
    const junk = join(tmp(), 'junk.gguf');
    writeFileSync(junk, 'this is not a GGUF file');
    const err = (await LlamaBackend.open({ modelPath: junk }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/^option model: cannot load .*junk\.gguf/);
    expect(err.message).not.toContain('\n');
  });
});
