import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerLetter } from '../src/judge/verdict.js';
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
const template = renderTemplate(baselineGenome(), render);
// the tiny model's letters carry almost no mass: a threshold of 0 lets its probabilities through
const loose = { minLetterMass: 0 };

describe('in-process GGUF back end (real llama.cpp, tiny random model)', () => {
  let llama: LlamaBackend;
  beforeAll(async () => {
    llama = await LlamaBackend.open({ modelPath: TINY_MODEL, judge: loose });
  });
  afterAll(async () => {
    await llama.close();
    await llama.close(); // safe twice
  });

  it("renders with the model's chat template and reads the probabilities of A and B at the first answer token", async () => {
    expect(llama.chatTemplate).toBe('General');
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

  it('with the default letter-mass threshold, a model that does not answer with a letter is unreadable', async () => {
    const strict = await LlamaBackend.open({ modelPath: TINY_MODEL });
    try {
      const j = await strict.judge(fillTemplate(template, items[0]!, 'AB', render));
      expect(j.source).toBe('none');
      expect(j.pA + j.pB).toBe(0);
      expect(j.completionTokens).toBeGreaterThan(0); // it decoded the answer before giving up
      // reasoned: decodes up to max-tokens and finds no verdict line either
      const r = await LlamaBackend.open({ modelPath: TINY_MODEL, judge: { protocol: 'reasoned', maxTokens: 12 } });
      const jr = await r.judge(
        fillTemplate(renderTemplate(baselineGenome(), { ...render, protocol: 'reasoned' }), items[0]!, 'AB', render),
      );
      await r.close();
      expect(jr.source).toBe('none');
      expect(jr.completionTokens).toBe(12);
    } finally {
      await strict.close();
    }
  });

  it('reuses the evaluated prompt prefix between judgements with identical results, and skips a prompt over the context', async () => {
    // a prompt with a long shared system message, judged on several items in a row
    const long = renderTemplate({ ...baselineGenome(), role: 'You are a careful judge. '.repeat(30) }, render);
    const prompts = items.flatMap((it) => (['AB', 'BA'] as const).map((o) => fillTemplate(long, it, o, render)));
    const shared: unknown[] = [];
    for (const p of prompts) shared.push(await llama.judge(p));
    for (const [k, p] of prompts.slice(0, 3).entries()) {
      // a fresh back end evaluates every prompt from an empty context
      const fresh = await LlamaBackend.open({ modelPath: TINY_MODEL, judge: loose });
      try {
        expect(await fresh.judge(p)).toEqual(shared[k]);
      } finally {
        await fresh.close();
      }
    }
    const small = await LlamaBackend.open({ modelPath: TINY_MODEL, contextSize: 64 });
    try {
      expect(await small.judge(prompts[0]!)).toMatchObject({ source: 'overflow', pA: 0, pB: 0 });
    } finally {
      await small.close();
    }
  });

  it('gives the same probabilities whatever the thread count', async () => {
    const p = fillTemplate(template, items[1]!, 'BA', render);
    const two = await LlamaBackend.open({ modelPath: TINY_MODEL, threads: 2, judge: loose });
    try {
      expect(await two.judge(p)).toEqual(await llama.judge(p));
    } finally {
      await two.close();
    }
  });

  it('generates greedy or seeded sampled text within the token limit', async () => {
    const p = { system: '', user: 'Rewrite: be fair.\nRewritten:' };
    const g = await llama.generate(p, { maxTokens: 8, temperature: 0, seed: 1 });
    expect(g.completionTokens).toBeGreaterThan(0);
    expect(g.completionTokens).toBeLessThanOrEqual(8);
    expect(typeof g.text).toBe('string');
    expect(await llama.generate(p, { maxTokens: 8, temperature: 0, seed: 2 })).toEqual(g);
    const hot = (seed: number) => llama.generate(p, { maxTokens: 8, temperature: 1, seed });
    const s1 = await hot(1);
    expect(await hot(1)).toEqual(s1);
    const others = await Promise.all([2, 3, 4, 5].map(hot));
    expect(others.some((o) => o.text !== s1.text)).toBe(true);
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
    const t = renderTemplate(g, render);
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
      pending: [{ kind: 'mutate', section: 'criterion', text: lib.criteria[0]!, seed: 7 }],
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
      pending: [{ kind: 'mutate', section: 'criterion', text: lib.criteria[0]!, seed: 8 }],
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
