/**
 * One test per defect of the first judge adapter, each written to fail on that code: unreadable
 * verdicts, letters read at the wrong token, mixed minibatches, lost rewrites, few-shot examples as
 * ids, nested retries and a budget of logical calls, cache keys that miss settings, secrets, and a
 * budget stop that wrote nothing.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.js';
import type { Generation, JudgeBackend, Judgement } from '../src/judge/backend.js';
import { JudgeCache, JudgeService, BudgetExhaustedError } from '../src/judge/cache.js';
import type { JudgeItem } from '../src/judge/data.js';
import { JudgeEvaluator, judgeLoss, metricsOf, scoreTemplate } from '../src/judge/fitness.js';
import { baselineGenome, promptRepresentation, type PromptGenome } from '../src/judge/genome.js';
import { backoffDelay, HttpBackend } from '../src/judge/http.js';
import { defaultLibrary } from '../src/judge/library.js';
import { fillTemplate, renderTemplate, type ChatPrompt } from '../src/judge/render.js';
import { evolveJudge } from '../src/judge/run.js';
import { openBackend } from '../src/cli/judge.js';
import { close, listen, readBody, TINY_MODEL, tmp } from './judge-helpers.js';
import { inProcess, calls } from './judge-cli-helpers.js';
import { scriptedItems, scriptedFlags, scriptedServer, toJsonl, type ScriptedServer } from './scripted-judge.js';

const judgement = (pA: number, pB: number, source: Judgement['source'] = 'probabilities'): Judgement => ({
  pA,
  pB,
  pTie: 0,
  text: '',
  source,
  promptTokens: 10,
  completionTokens: 1,
});
const item = (i: number, label: 1 | 2): JudgeItem => ({
  id: `t${i}`,
  instruction: `q${i}`,
  response1: `r1-${i}`,
  response2: `r2-${i}`,
  label,
});
const fast = { retries: 2, backoffMs: 5, maxBackoffMs: 1000, timeoutMs: 5000, skipModelCheck: true };

describe('defect 1: an unreadable answer counts as wrong and inconsistent', () => {
  it('a prompt with no readable verdict loses to a real judge at 65% accuracy / 60% consistency / Brier 0.22', () => {
    const items = Array.from({ length: 20 }, (_, i) => item(i, 1));
    const none = items.map(() => judgement(0, 0, 'none'));
    const unreadable = metricsOf(items, none, none).metrics;
    expect(unreadable.accuracy).toBe(0);
    expect(unreadable.consistency).toBe(0);
    expect(unreadable.readable).toBe(0);
    // a real judge: 9 items right in both orders, 3 wrong in both, 8 right in one order only
    const ab: Judgement[] = [];
    const ba: Judgement[] = [];
    items.forEach((_, i) => {
      const rightAB = i < 9 || (i >= 12 && i < 16);
      const rightBA = i < 9 || i >= 16;
      ab.push(rightAB ? judgement(0.6, 0.4) : judgement(0.45, 0.55));
      ba.push(rightBA ? judgement(0.4, 0.6) : judgement(0.55, 0.45));
    });
    const real = metricsOf(items, ab, ba).metrics;
    expect(real.accuracy).toBeCloseTo(0.65, 9);
    expect(real.consistency).toBeCloseTo(0.6, 9);
    expect(real.brier).toBeCloseTo(0.2076, 3);
    expect(real.readable).toBe(1);
    expect(judgeLoss(unreadable)).toBeGreaterThan(judgeLoss(real));
    // one unreadable order: that order is wrong, and the item is not consistent
    const half = metricsOf([item(0, 1)], [judgement(0.9, 0.1)], [judgement(0, 0, 'none')]).metrics;
    expect(half.accuracy).toBe(0.5);
    expect(half.consistency).toBe(0);
    expect(half.readable).toBe(0.5);
  });
});

describe('HTTP back end against scripted and fault-injecting servers', () => {
  let s: ScriptedServer;
  beforeAll(async () => {
    s = await scriptedServer();
  });
  afterAll(() => s.close());
  const it0 = scriptedItems(1, 5)[0]!;
  const asItem: JudgeItem = {
    id: 'x',
    instruction: it0.instruction,
    response1: it0.response_a,
    response2: it0.response_b,
    label: it0.label === 'A' ? 1 : 2,
  };
  const prompt = (g: PromptGenome): ChatPrompt => fillTemplate(renderTemplate(g), asItem, 'AB');

  it('defect 2: the verdict is read at the verdict letter, not at the first token ("**")', async () => {
    const http = await HttpBackend.open({ baseUrl: s.url, model: 'scripted', ...fast });
    // accurate criteria, "**Verdict: X**" format: the first token carries 1% A and 0.5% B
    const g: PromptGenome = {
      ...baselineGenome(),
      criteria: ['Is the response factually correct?', 'Are code, numbers and names in the response exact?'],
      format: 'Give your verdict as one letter, A or B, without explanation.',
    };
    const j = await http.judge(prompt(g));
    expect(j.text).toMatch(/^\*\*Verdict: [AB]\*\*$/);
    const truth = asItem.label === 1 ? 'A' : 'B';
    expect(j.source).toBe('probabilities');
    const pTruth = truth === 'A' ? j.pA : j.pB;
    expect(pTruth / (j.pA + j.pB)).toBeGreaterThan(0.9);
  });
});

describe('defect 2 (low letter mass): falls back to the parsed text, else unreadable', () => {
  it('reads text when the letters carry little mass at the letter, and nothing from a first-token "**"', async () => {
    const lp = (tokens: [string, [string, number][]][]) => ({
      content: tokens.map(([token, top]) => ({
        token,
        logprob: Math.log(top[0]![1]),
        top_logprobs: top.map(([t, p]) => ({ token: t, logprob: Math.log(p) })),
      })),
    });
    const answers: { content: string | null; logprobs: unknown }[] = [
      // letter B generated with little mass (0.3 + 0.05): the parsed text decides
      {
        content: 'B',
        logprobs: lp([
          [
            'B',
            [
              ['B', 0.3],
              ['A', 0.05],
              ['The', 0.65],
            ],
          ],
        ]),
      },
      // no letter at all; the first token has a small A
      {
        content: '**Maybe**',
        logprobs: lp([
          [
            '**',
            [
              ['**', 0.9],
              ['A', 0.01],
              ['B', 0.005],
            ],
          ],
          ['Maybe', [['Maybe', 0.9]]],
          ['**', [['**', 0.9]]],
        ]),
      },
      // empty and missing answers
      { content: '', logprobs: null },
      { content: null, logprobs: { content: [] } },
    ];
    let n = 0;
    const srv = await listen(async (req, res) => {
      await readBody(req);
      const a = answers[n++ % answers.length]!;
      res.end(
        JSON.stringify({
          choices: [{ index: 0, message: { role: 'assistant', content: a.content }, logprobs: a.logprobs }],
          usage: { prompt_tokens: 5, completion_tokens: 1 },
        }),
      );
    });
    try {
      const http = await HttpBackend.open({ baseUrl: srv.url, model: 'm', ...fast });
      const p = { system: '', user: 'x' };
      expect(await http.judge(p)).toMatchObject({ pA: 0, pB: 1, source: 'text' });
      expect(await http.judge(p)).toMatchObject({ pA: 0, pB: 0, source: 'none' });
      expect(await http.judge(p)).toMatchObject({ pA: 0, pB: 0, source: 'none', text: '' });
      expect(await http.judge(p)).toMatchObject({ pA: 0, pB: 0, source: 'none', text: '' });
    } finally {
      await close(srv.server);
    }
  });
});

/** A judge back end in memory: the verdict is a function of the prompt and the item. */
class StubBackend implements JudgeBackend {
  readonly id = 'stub';
  readonly model = 'stub';
  readonly judgeKey = 'stub';
  readonly generateKey = 'stub';
  generations = 0;
  async judge(p: ChatPrompt): Promise<Judgement> {
    let h = 0;
    for (const c of p.system + p.user) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    const q = (h % 1000) / 1000;
    return judgement(q, 1 - q);
  }
  async generate(p: ChatPrompt): Promise<Generation> {
    this.generations++;
    return { text: `Rewritten ${p.user.length}.`, promptTokens: 1, completionTokens: 1 };
  }
  async close(): Promise<void> {}
}

describe('defect 3: every individual competing in a generation is scored on that generation’s items', () => {
  it('the population’s fitness equals each genome’s loss on the current minibatch', async () => {
    const items = Array.from({ length: 24 }, (_, i) => item(i, i % 2 ? 1 : 2));
    const split = { train: items.slice(0, 16), test: items.slice(16) };
    const service = new JudgeService(new StubBackend(), new JudgeCache(':memory:'));
    const checks: Promise<void>[] = [];
    let generations = 0;
    await evolveJudge(
      service,
      split,
      {
        seed: 2,
        library: defaultLibrary(),
        weights: { accuracy: 1, consistency: 0.5, brier: 1, cost: 0 },
        populationSize: 6,
        generations: 3,
        minibatch: 4,
        tournamentSize: 2,
        mutationRate: 0.5,
        selection: 'tournament',
        maxExamples: 0,
      },
      (_stats, _elite, gen) => {
        generations++;
        const batch = gen.batch.map((id) => items.find((x) => x.id === id)!);
        expect(batch).toHaveLength(4);
        for (const ind of gen.population) {
          checks.push(
            scoreTemplate(service, renderTemplate(ind.genome), batch).then(({ metrics }) => {
              expect(ind.fitness).toBeCloseTo(judgeLoss(metrics), 12);
            }),
          );
        }
      },
    );
    await Promise.all(checks);
    expect(generations).toBe(4);
  });
});

describe('defect 4: every LLM variation requested is carried out or counted as skipped', () => {
  it('an LLM crossover followed by an LLM mutation keeps both requests, and the evaluator resolves both', async () => {
    const lib = defaultLibrary();
    const rep = promptRepresentation({ library: lib, examplePool: [], llmRate: 1 });
    const rng = new Rng(3);
    const a: PromptGenome = { ...baselineGenome(), criteria: [lib.criteria[0]!] };
    const b: PromptGenome = { ...baselineGenome(), role: lib.role[1]!, criteria: [lib.criteria[1]!] };
    const child = rep.mutate(rng, rep.crossover(rng, a, b));
    expect(child.pending).toHaveLength(2);
    const backend = new StubBackend();
    const ev = new JudgeEvaluator(new JudgeService(backend, new JudgeCache(':memory:')), [item(0, 1), item(1, 2)], {
      seed: 1,
      library: lib,
      minibatch: 2,
    });
    await ev.evaluate([child]);
    expect(child.pending ?? []).toHaveLength(0);
    expect(ev.rewrites.requested).toBe(2);
    expect(ev.rewrites.done + ev.rewrites.skipped).toBe(2);
    expect(backend.generations).toBe(ev.rewrites.done);
  });
});

describe('defect 5: few-shot examples are stored as texts, and never scored', () => {
  it('renders a genome whose examples come from another data set, and skips an item the prompt shows', async () => {
    const shown = item(1, 2);
    const g: PromptGenome = {
      ...baselineGenome(),
      examples: [{ instruction: shown.instruction, response1: shown.response1, response2: shown.response2, label: 2 }],
    };
    const t = renderTemplate(g);
    expect(t.user).toContain(`Response B: ${shown.response2}`);
    const service = new JudgeService(new StubBackend(), new JudgeCache(':memory:'));
    const { metrics } = await scoreTemplate(service, t, [item(0, 1), { ...shown, id: 'other-id' }, item(2, 1)]);
    expect(metrics.items).toBe(2);
    expect(metrics.skipped.shown).toBe(1);
  });
});

describe('defect 6: retries are single-level, the budget counts paid requests, 408 and retry-after-ms are honoured', () => {
  let hits = 0;
  let script: (n: number, res: import('node:http').ServerResponse) => void = () => {};
  let srv: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    srv = await listen(async (req, res) => {
      await readBody(req);
      script(++hits, res);
    });
  });
  afterAll(() => close(srv.server));
  const ok = (content: string) =>
    JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content } }], usage: { prompt_tokens: 3, completion_tokens: 1 } });

  it('one judgement makes at most retries + 1 requests, whatever fails', async () => {
    hits = 0;
    script = (n, res) => {
      if (n % 3 === 0) res.end(JSON.stringify({ choices: [] }));
      else {
        res.writeHead(500);
        res.end('boom');
      }
    };
    const http = await HttpBackend.open({ baseUrl: srv.url, model: 'm', ...fast });
    await expect(http.judge({ system: '', user: 'x' })).rejects.toThrow(/gave up after 3 attempts/);
    expect(hits).toBe(3);
  });

  it('the budget counts every paid request, retries included', async () => {
    hits = 0;
    script = (n, res) => {
      if (n <= 2) {
        res.writeHead(503);
        res.end('busy');
      } else res.end(ok('A'));
    };
    const http = await HttpBackend.open({ baseUrl: srv.url, model: 'm', ...fast });
    const service = new JudgeService(http, new JudgeCache(':memory:'), 3);
    await service.judge({ system: '', user: 'x' }, 'i', 'AB');
    expect(service.stats.requests).toBe(3);
    await expect(service.judge({ system: '', user: 'y' }, 'i', 'AB')).rejects.toBeInstanceOf(BudgetExhaustedError);
    expect(hits).toBe(3);
  });

  it('retries 408, waits retry-after-ms, and jitters its backoff', async () => {
    hits = 0;
    script = (n, res) => {
      if (n === 1) {
        res.writeHead(408);
        res.end('timeout');
      } else if (n === 2) {
        res.writeHead(429, { 'retry-after-ms': '400' });
        res.end('slow');
      } else res.end(ok('B'));
    };
    const http = await HttpBackend.open({ baseUrl: srv.url, model: 'm', ...fast });
    const t0 = Date.now();
    expect((await http.judge({ system: '', user: 'x' })).pB).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
    expect(hits).toBe(3);
    const rng = new Rng(1);
    const waits = Array.from({ length: 200 }, () => backoffDelay(3, { backoffMs: 100, maxBackoffMs: 10_000 }, rng));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...waits)).toBeLessThanOrEqual(800);
    expect(new Set(waits).size).toBeGreaterThan(150);
    expect(backoffDelay(10, { backoffMs: 100, maxBackoffMs: 1000 }, rng)).toBeLessThanOrEqual(1000);
    expect(backoffDelay(0, { backoffMs: 100, maxBackoffMs: 1000 }, rng, 700)).toBe(700);
  });
});

describe('defect 7: cache keys hold the model identity and every setting that changes the answer', () => {
  it('two GGUF files of the same name but different content have different keys', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'q4'));
    mkdirSync(join(dir, 'q8'));
    copyFileSync(TINY_MODEL, join(dir, 'q4', 'model.gguf'));
    writeFileSync(join(dir, 'q8', 'model.gguf'), Buffer.concat([readFileSync(TINY_MODEL), Buffer.from([0])]));
    const open = (p: string) => openBackend({ backend: 'llama', model: p } as Parameters<typeof openBackend>[0]);
    const a = await open(join(dir, 'q4', 'model.gguf'));
    const b = await open(join(dir, 'q8', 'model.gguf'));
    expect(a.judgeKey).toBeDefined();
    expect(a.judgeKey).not.toBe(b.judgeKey);
    await a.close();
    await b.close();
  });

  it('HTTP judgements with different top_logprobs or max_tokens are cached apart', async () => {
    const s = await scriptedServer();
    try {
      const cache = new JudgeCache(':memory:');
      const p = { system: '', user: 'Which response is better, A or B?' };
      const h1 = await HttpBackend.open({ baseUrl: s.url, model: 'scripted', ...fast, topLogprobs: 5 });
      const h2 = await HttpBackend.open({ baseUrl: s.url, model: 'scripted', ...fast, topLogprobs: 0 });
      const h3 = await HttpBackend.open({ baseUrl: s.url, model: 'scripted', ...fast, topLogprobs: 5, judge: { maxTokens: 99 } });
      for (const h of [h1, h2, h3]) await new JudgeService(h, cache).judge(p, 'i', 'AB');
      expect(s.chatRequests()).toBe(3);
    } finally {
      await s.close();
    }
  });
});

describe('defect 8: secrets never appear in messages, cache rows or outputs', () => {
  it('redacts before cutting, strips URL credentials, never echoes a key given as --api-key-env', async () => {
    const key = 'sk-abcdefghijklmnopqrstuvwxyz0123456789';
    process.env['GPMATE_DEFECT8_KEY'] = key;
    const srv = await listen(async (req, res) => {
      await readBody(req);
      res.writeHead(400);
      res.end(`${'x'.repeat(190)} ${req.headers.authorization}`);
    });
    try {
      const http = await HttpBackend.open({ baseUrl: srv.url, model: 'm', ...fast, apiKeyEnv: 'GPMATE_DEFECT8_KEY' });
      const err = (await http.judge({ system: '', user: 'x' }).catch((e: Error) => e)) as Error;
      expect(err.message).not.toMatch(/sk-abc/);
    } finally {
      await close(srv.server);
    }
    const s = await scriptedServer({ basicAuth: 'alice:hunter2pass' });
    try {
      const url = s.url.replace('http://', 'http://alice:hunter2pass@');
      const http = await HttpBackend.open({ baseUrl: url, model: 'scripted', timeoutMs: 5000 });
      const file = join(tmp(), 'cache.sqlite');
      const cache = new JudgeCache(file);
      const service = new JudgeService(http, cache);
      await service.judge({ system: '', user: 'Which response is better, A or B?' }, 'i', 'AB');
      expect(http.id).not.toContain('hunter2pass');
      const stored = [file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1'));
      expect(stored.join('')).toContain('http:http://127.0.0.1');
      expect(stored.join('')).not.toContain('hunter2pass');
      cache.close();
      const bad = await HttpBackend.open({ baseUrl: url.replace('hunter2pass', 'wrongpass'), model: 'scripted', timeoutMs: 5000 }).catch(
        (e: Error) => e,
      );
      expect(String((bad as Error).message)).not.toContain('wrongpass');
    } finally {
      await s.close();
    }
    const e = await HttpBackend.open({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm', apiKeyEnv: key }).catch((x: Error) => x);
    expect((e as Error).message).toMatch(/option apiKeyEnv/);
    expect((e as Error).message).not.toContain('abcdefghij');
  });
});

describe('defect 9: a run that hits the budget writes the best found so far, and resumes from there', () => {
  it('writes best-prompt and summary marked as stopped by the budget; the rerun finishes without paying twice', async () => {
    const s = await scriptedServer();
    const dir = tmp();
    const data = join(dir, 'items.jsonl');
    writeFileSync(data, toJsonl(scriptedItems(24, 9)));
    try {
      const args = [
        'evolve',
        '--data',
        data,
        ...scriptedFlags(s.url),
        ...'--population 4 --generations 2 --minibatch 4 --tournament 2 --quiet --seed 2'.split(' '),
      ];
      const whole = await inProcess([...args, '--cache', join(dir, 'whole.sqlite'), '--out', join(dir, 'whole')]);
      expect(whole.status).toBe(0);
      const paid = calls(whole.stdout);
      const budget = Math.floor(paid / 2);
      const stopped = await inProcess([...args, '--cache', join(dir, 'c.sqlite'), '--out', join(dir, 'run'), '--budget', String(budget)]);
      expect(stopped.status).toBe(0);
      expect(stopped.stdout).toMatch(/stopped by --budget/);
      const partial = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8'));
      expect(partial.stoppedBy).toBe('budget');
      expect(existsSync(join(dir, 'run', 'best-prompt.json'))).toBe(true);
      const resumed = await inProcess([...args, '--cache', join(dir, 'c.sqlite'), '--out', join(dir, 'run')]);
      expect(resumed.status).toBe(0);
      expect(calls(resumed.stdout)).toBe(paid - budget);
      expect(readFileSync(join(dir, 'run', 'summary.json'), 'utf8')).toBe(readFileSync(join(dir, 'whole', 'summary.json'), 'utf8'));
    } finally {
      await s.close();
    }
  }, 60_000);
});
