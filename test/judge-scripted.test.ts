/**
 * End to end against the scripted judge (test/scripted-judge.ts): evolution finds the prompt that
 * makes it accurate on the held-out split under every selection mode; a prompt that makes it
 * unreadable loses to every readable one; budget, resume, faults and secrets; the reasoned protocol,
 * thinking blocks, --extra-body, rejected parameters, context overflow, a server without logprobs,
 * and reflective rewrites.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.js';
import { SELECTION_MODES } from '../src/core/types.js';
import { JudgeCache, JudgeService } from '../src/judge/cache.js';
import type { JudgeItem } from '../src/judge/data.js';
import { JudgeEvaluator, judgeLoss, scoreTemplate } from '../src/judge/fitness.js';
import { baselineGenome, promptRepresentation, type PromptGenome } from '../src/judge/genome.js';
import { HttpBackend } from '../src/judge/http.js';
import { defaultLibrary } from '../src/judge/library.js';
import { renderTemplate } from '../src/judge/render.js';
import { calls, inProcess } from './judge-cli-helpers.js';
import { tmp } from './judge-helpers.js';
import {
  ACCURATE_CRITERIA,
  scriptedItems,
  scriptedFlags,
  scriptedServer,
  toJsonl,
  UNREADABLE_ROLE,
  type ScriptedServer,
} from './scripted-judge.js';

const dir = tmp();
const data = join(dir, 'items.jsonl');
writeFileSync(data, toJsonl(scriptedItems(40, 7)));
const asItems = (n: number, seed: number): JudgeItem[] =>
  scriptedItems(n, seed).map((x, i) => ({
    id: `s${i}`,
    instruction: x.instruction,
    response1: x.response_a,
    response2: x.response_b,
    label: x.label === 'A' ? 1 : 2,
  }));
const SEARCH = '--concurrency 16 --population 8 --generations 4 --minibatch 6 --tournament 3 --max-examples 0 --quiet'.split(' ');
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));

describe('scripted judge end to end', () => {
  let s: ScriptedServer;
  beforeAll(async () => {
    s = await scriptedServer();
  });
  afterAll(() => s.close());
  const http = () => scriptedFlags(s.url);

  it('(a) evolution finds the prompt that makes the judge accurate on the held-out split, under every selection mode', async () => {
    for (const selection of SELECTION_MODES) {
      const out = join(dir, `a-${selection}`);
      const before = s.chatRequests();
      const r = await inProcess(['evolve', '--data', data, ...http(), ...SEARCH, '--selection', selection, '--seed', '2', '--out', out]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const sum = summaryOf(out);
      expect(sum.baseline.test.accuracy).toBe(0.5);
      expect(sum.best.test.accuracy, selection).toBeGreaterThanOrEqual(0.95);
      expect(sum.best.test.readable).toBe(1);
      // found by evolution, not by the initial draw: generation 0's best was not accurate
      const gens = readFileSync(join(out, 'generations.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(gens[0].eliteTrain.accuracy, selection).toBeLessThan(0.95);
      // the judge is accurate only when the prompt asks for correct and exact answers
      const text = readFileSync(join(out, 'best-prompt.txt'), 'utf8').toLowerCase();
      expect(text).toMatch(/\bcorrect\b/);
      expect(text).toMatch(/\bexact\b/);
      // every chat request the server saw was paid for, and counted
      expect(calls(r.stdout)).toBe(s.chatRequests() - before);
      expect(r.stdout).toMatch(/^length bias \(test\): best longer better [\d.]+% of \d+, longer worse [\d.]+% of \d+; baseline /m);
    }
  }, 120_000);

  it("(a) per-item first-parent selection: epsilon-lexicase and GEPA-style Pareto on the judge's per-item losses", async () => {
    for (const firstParent of ['lexicase', 'pareto']) {
      const out = join(dir, `a-${firstParent}`);
      const how = ['--selection', 'random-mate', '--first-parent', firstParent, '--seed', '2', '--out', out];
      const r = await inProcess(['evolve', '--data', data, ...http(), ...SEARCH, ...how]);
      expect(r.stderr).toBe('');
      const sum = summaryOf(out);
      expect(sum.options.firstParent).toBe(firstParent);
      expect(sum.best.test.accuracy, firstParent).toBeGreaterThanOrEqual(0.95);
      expect(JSON.parse(readFileSync(join(out, 'generations.jsonl'), 'utf8').split('\n')[0]!).eliteTrain.accuracy).toBeLessThan(0.95);
    }
    // the cases: one loss per minibatch item, the same items for every genome, averaging to the loss
    const service = new JudgeService(await HttpBackend.open({ baseUrl: s.url, model: 'scripted' }), new JudgeCache(':memory:'));
    const ev = new JudgeEvaluator(service, asItems(20, 4), { seed: 1, minibatch: 6 });
    expect(ev.beginGeneration(3)).toBe(true);
    const gs = [baselineGenome(), { ...baselineGenome(), criteria: [...ACCURATE_CRITERIA] }];
    const d = await ev.evaluateDetailed(gs, { cases: true });
    for (const [i, c] of (d.cases ?? []).entries()) {
      expect(c).toHaveLength(6);
      expect(Array.from(c).reduce((a, b) => a + b, 0) / 6).toBeCloseTo(d.losses[i]!, 12);
    }
    expect(Array.from(d.cases![1]!).every((x) => x < 0.1)).toBe(true);
  }, 120_000);

  it('(b) a prompt that makes the judge unreadable loses to every readable prompt', async () => {
    const lib = defaultLibrary();
    const rep = promptRepresentation({ library: lib, examplePool: [], maxCriteria: 4 });
    const rng = new Rng(5);
    const readable = Array.from({ length: 12 }, (_, i) => rep.random(rng, i, 12)).filter((g) => g.role !== UNREADABLE_ROLE);
    // the worst readable prompts: the baseline (position-biased) and a length-biased one
    readable.push(baselineGenome(), { ...baselineGenome(), criteria: [lib.criteria[16]!] });
    // unreadable even though it asks for the criteria that make the judge accurate
    const unreadable: PromptGenome = { ...baselineGenome(), role: UNREADABLE_ROLE, criteria: [...ACCURATE_CRITERIA] };
    const service = new JudgeService(await HttpBackend.open({ baseUrl: s.url, model: 'scripted' }), new JudgeCache(':memory:'));
    const items = asItems(12, 3);
    const loss = async (g: PromptGenome) => {
      const { metrics } = await scoreTemplate(service, renderTemplate(g), items);
      return { loss: judgeLoss(metrics), metrics };
    };
    const u = await loss(unreadable);
    expect(u.metrics.readable).toBe(0);
    expect(u.metrics.accuracy).toBe(0);
    let compared = 0;
    for (const g of readable) {
      const r = await loss(g);
      // (a think block longer than the direct protocol's 8 tokens leaves a prompt unreadable too)
      if (r.metrics.readable === 0) continue;
      expect(r.loss).toBeLessThan(u.loss);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(8);
  });
});

describe('(c) budget, resume, faults and secrets against the scripted judge', () => {
  const SMALL = '--limit 16 --population 4 --generations 2 --minibatch 4 --tournament 2 --max-examples 0 --quiet --seed 3'.split(' ');
  const files = (out: string) => readdirSync(out).filter((f) => !f.includes('sqlite'));

  it('faults (429, 500) change nothing but the paid requests, which count every retry', async () => {
    const clean = await scriptedServer();
    const faulty = await Promise.all([429, 500].map((faultStatus) => scriptedServer({ faultEvery: 4, faultStatus })));
    try {
      const go = async (srv: ScriptedServer, name: string) => {
        const r = await inProcess([
          'evolve',
          '--data',
          data,
          ...scriptedFlags(srv.url),
          ...SMALL,
          '--retries',
          '6',
          '--out',
          join(dir, name),
        ]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        return r;
      };
      const base = await go(clean, 'c-clean');
      const paidClean = calls(base.stdout);
      for (const [k, srv] of faulty.entries()) {
        const r = await go(srv, `c-fault${k}`);
        for (const f of files(join(dir, 'c-clean')))
          expect(readFileSync(join(dir, `c-fault${k}`, f), 'utf8'), f).toBe(readFileSync(join(dir, 'c-clean', f), 'utf8'));
        // every fourth distinct request failed once and passed on its retry: a quarter more requests, each one paid
        expect(calls(r.stdout)).toBe(srv.chatRequests());
        expect(calls(r.stdout)).toBe(paidClean + Math.floor(paidClean / 4));
      }
    } finally {
      await clean.close();
      for (const f of faulty) await f.close();
    }
  }, 60_000);

  it('a budget hit under faults stops at exactly that many paid requests; the rerun resumes and matches', async () => {
    const srv = await scriptedServer({ faultEvery: 5, faultStatus: 503 });
    // the fresh run gets its own server: a server faults each distinct request once, and this one has seen them all
    const other = await scriptedServer({ faultEvery: 5, faultStatus: 503 });
    try {
      const flags = (url: string) => ['evolve', '--data', data, ...scriptedFlags(url), ...SMALL, '--retries', '6'];
      const args = flags(srv.url);
      const stopped = await inProcess([...args, '--budget', '40', '--cache', join(dir, 'budget.sqlite'), '--out', join(dir, 'budget')]);
      expect(stopped.status).toBe(0);
      expect(srv.chatRequests()).toBe(40);
      expect(summaryOf(join(dir, 'budget')).stoppedBy).toBe('budget');
      const resumed = await inProcess([...args, '--cache', join(dir, 'budget.sqlite'), '--out', join(dir, 'budget')]);
      expect(resumed.status).toBe(0);
      expect(summaryOf(join(dir, 'budget')).stoppedBy).toBeUndefined();
      const fresh = await inProcess([...flags(other.url), '--cache', join(dir, 'budget-fresh.sqlite'), '--out', join(dir, 'budget-fresh')]);
      expect(readFileSync(join(dir, 'budget', 'summary.json'), 'utf8')).toBe(
        readFileSync(join(dir, 'budget-fresh', 'summary.json'), 'utf8'),
      );
      expect(calls(resumed.stdout)).toBeLessThan(calls(fresh.stdout));
    } finally {
      await srv.close();
      await other.close();
    }
  }, 60_000);

  it('credentials in --base-url and the API key reach the server and nothing else', async () => {
    const withBasic = await scriptedServer({ basicAuth: 'alice:s3cret-pass-9' });
    const withKey = await scriptedServer({ apiKey: 'sk-scripted-key-123456' });
    try {
      const out = join(dir, 'secret');
      const url = withBasic.url.replace('http://', 'http://alice:s3cret-pass-9@');
      const r = await inProcess(['evolve', '--data', data, ...scriptedFlags(url), ...SMALL, '--out', out]);
      expect(r.status).toBe(0);
      process.env['GPMATE_SCRIPTED_KEY'] = 'sk-scripted-key-123456';
      const out2 = join(dir, 'secret2');
      const r2 = await inProcess([
        'evolve',
        '--data',
        data,
        ...scriptedFlags(withKey.url),
        '--api-key-env',
        'GPMATE_SCRIPTED_KEY',
        ...SMALL,
        '--out',
        out2,
      ]);
      expect(r2.status).toBe(0);
      for (const [o, stdout] of [
        [out, r.stdout],
        [out2, r2.stdout],
      ] as const) {
        const written = readdirSync(o).map((f) => readFileSync(join(o, f)).toString('latin1'));
        for (const text of [...written, stdout]) {
          expect(text).not.toContain('s3cret-pass-9');
          expect(text).not.toContain('sk-scripted-key-123456');
          expect(text).not.toContain(Buffer.from('alice:s3cret-pass-9').toString('base64'));
        }
      }
      // a wrong password: one line, the password not in it; a key given where the variable's name belongs: not echoed
      const bad = await inProcess([
        'evolve',
        '--data',
        data,
        '--backend',
        'http',
        '--base-url',
        url.replace('s3cret', 'wrong'),
        '--model',
        'scripted',
        ...SMALL,
        '--out',
        join(dir, 'bad'),
      ]);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(
        /^gpmate: back end http:\/\/127\.0\.0\.1:\d+\/v1: authentication failed \(HTTP 401\); check the credentials\n$/,
      );
      const echo = await inProcess([
        'evolve',
        '--data',
        data,
        ...scriptedFlags(withKey.url),
        '--api-key-env',
        'sk-scripted-key-123456',
        '--out',
        join(dir, 'bad'),
      ]);
      expect(echo.status).toBe(2);
      expect(echo.stderr).toMatch(/option --api-key-env: expected the NAME of an environment variable/);
      expect(echo.stderr).not.toContain('scripted-key');
    } finally {
      await withBasic.close();
      await withKey.close();
    }
  }, 60_000);

  it('files are written atomically: a stopped run leaves no temporary files', () => {
    for (const name of ['budget', 'secret', 'c-clean']) expect(readdirSync(join(dir, name)).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(existsSync(join(dir, 'budget', 'best-prompt.json'))).toBe(true);
  });
});

describe('real judges against the scripted judge', () => {
  const accurate: PromptGenome = { ...baselineGenome(), criteria: [...ACCURATE_CRITERIA] };
  const promptFile = (g: PromptGenome, name: string) => {
    const f = join(dir, `${name}.json`);
    writeFileSync(f, JSON.stringify(g));
    return f;
  };
  const evalArgs = (srv: ScriptedServer, g: PromptGenome, name: string) => [
    'eval',
    '--prompt',
    promptFile(g, name),
    '--data',
    data,
    '--limit',
    '12',
    ...scriptedFlags(srv.url),
    '--cache',
    join(dir, `${name}.sqlite`),
    '--out',
    join(dir, name),
  ];
  const evalOf = (name: string) => JSON.parse(readFileSync(join(dir, name, 'eval.json'), 'utf8'));
  let s: ScriptedServer;
  beforeAll(async () => {
    s = await scriptedServer();
  });
  afterAll(() => s.close());

  it('reasoned protocol: reasoning, then "**Verdict: X**", read at the letter; a think block naming the other letter is ignored', async () => {
    const thinking: PromptGenome = { ...accurate, procedure: defaultLibrary().procedure[1]! }; // "First restate ..." makes it think
    for (const [g, name] of [
      [accurate, 'reasoned'],
      [thinking, 'reasoned-think'],
    ] as const) {
      const r = await inProcess([...evalArgs(s, g, name), '--protocol', 'reasoned']);
      expect(r.stderr).toBe('');
      const e = evalOf(name);
      expect(e.accuracy).toBe(1);
      expect(e.readable).toBe(1);
      expect(e.fromText).toBe(0); // the letters carry 0.95 at the verdict letter
      expect(e.judge).toMatchObject({ protocol: 'reasoned', maxTokens: 512 });
    }
    const body = s.log.at(-1)!.body!;
    expect(body.max_tokens).toBe(512);
    expect(String((body.messages as { content: string }[]).at(-1)!.content)).toMatch(
      /end with a line of the form "Verdict: A" or "Verdict: B"\.$/,
    );
    // direct protocol with the think block: 8 tokens are not enough, so the verdicts are unreadable, never guessed
    await inProcess(evalArgs(s, thinking, 'direct-think'));
    expect(evalOf('direct-think')).toMatchObject({ readable: 0, accuracy: 0 });
  });

  it('--extra-body reaches the server and the cache key; a rejected parameter is a one-line error naming it', async () => {
    const before = s.chatRequests();
    const extra = '{"chat_template_kwargs":{"enable_thinking":false},"reasoning_effort":"low"}';
    const r = await inProcess([...evalArgs(s, accurate, 'extra'), '--extra-body', extra]);
    expect(r.status).toBe(0);
    expect(s.log.at(-1)!.body).toMatchObject({ chat_template_kwargs: { enable_thinking: false }, reasoning_effort: 'low' });
    const n = s.chatRequests() - before;
    expect(n).toBe(24);
    // the same run again: from the cache; another extra body: new requests
    await inProcess([...evalArgs(s, accurate, 'extra'), '--extra-body', extra]);
    expect(s.chatRequests() - before).toBe(24);
    await inProcess([...evalArgs(s, accurate, 'extra'), '--extra-body', '{"reasoning_effort":"high"}']);
    expect(s.chatRequests() - before).toBe(48);
    const bad = await inProcess([...evalArgs(s, accurate, 'extra'), '--extra-body', '[1]']);
    expect(bad.stderr).toMatch(/^gpmate: option --extra-body: expected a JSON object\n$/);

    const strict = await scriptedServer({ rejectParams: ['top_logprobs'] });
    try {
      const e = await inProcess(evalArgs(strict, accurate, 'rejected'));
      expect(e.status).toBe(2);
      expect(e.stderr).toMatch(
        /^gpmate: back end http:\/\/127\.0\.0\.1:\d+\/v1: the server rejects the request parameter "top_logprobs" \(HTTP 400: Unsupported parameter/,
      );
      expect(e.stderr.trim().split('\n')).toHaveLength(1);
      // without logprobs the run works, reading verdicts from the text
      const ok = await inProcess([...evalArgs(strict, accurate, 'rejected'), '--top-logprobs', '0']);
      expect(ok.status).toBe(0);
      expect(evalOf('rejected')).toMatchObject({ accuracy: 1, fromText: 1 });
    } finally {
      await strict.close();
    }
  });

  it('a server that ignores logprobs, a context overflow on some items, unknown labels: counted, never a silent 1/2', async () => {
    const deaf = await scriptedServer({ ignoreLogprobs: true });
    const small = await scriptedServer({ contextChars: 1000 });
    try {
      await inProcess(evalArgs(deaf, accurate, 'deaf'));
      expect(evalOf('deaf')).toMatchObject({ accuracy: 1, readable: 1, fromText: 1 });
      expect(readFileSync(join(dir, 'deaf', 'eval.json'), 'utf8')).toContain('"fromText": 1');
      // every 4th item has a very long better response: over the context, skipped and counted
      const long = join(dir, 'long.jsonl');
      writeFileSync(long, toJsonl(scriptedItems(12, 7, 4)));
      const r = await inProcess([...evalArgs(small, accurate, 'overflow').map((x) => (x === data ? long : x))]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/items 9 \(skipped: 3 over the context, 0 shown as examples\)/);
      expect(evalOf('overflow')).toMatchObject({ items: 9, accuracy: 1, skipped: { overflow: 3, shown: 0 } });
    } finally {
      await deaf.close();
      await small.close();
    }
    // --ties: tie items are kept and scored three-way; the scripted judge never says C, so they count as wrong
    const tied = join(dir, 'tied.jsonl');
    const rows = scriptedItems(12, 7).map((x, i) => (i % 4 === 0 ? { ...x, label: 'tie' } : x));
    writeFileSync(tied, rows.map((x) => JSON.stringify(x)).join('\n'));
    await inProcess([...evalArgs(s, accurate, 'tied').map((x) => (x === data ? tied : x)), '--ties']);
    expect(evalOf('tied')).toMatchObject({ items: 12, accuracy: 0.75, judge: { ties: true } });
    expect(String((s.log.at(-1)!.body!.messages as { content: string }[]).at(-1)!.content)).toMatch(/\(C if they are equally good\)\?$/);
    await inProcess([...evalArgs(s, accurate, 'untied').map((x) => (x === data ? tied : x))]);
    expect(evalOf('untied')).toMatchObject({ items: 9, accuracy: 1 });
    const odd = join(dir, 'odd.jsonl');
    writeFileSync(
      odd,
      '{"instruction":"q","response_a":"a","response_b":"b","label":"A"}\n{"instruction":"q","response_a":"a","response_b":"b","label":"maybe"}\n',
    );
    const e = await inProcess([...evalArgs(s, accurate, 'odd').map((x) => (x === data ? odd : x))]);
    expect(e.status).toBe(2);
    expect(e.stderr).toMatch(/odd\.jsonl: line 2: unknown label "maybe" in field "label"/);
  });

  it('reflective rewrites: the generator sees the failures, its seeded sampled rewrites reach an accurate prompt, thinking never leaks, and reruns replay', async () => {
    const args = [
      'evolve',
      '--data',
      data,
      ...scriptedFlags(s.url),
      ...'--population 4 --generations 2 --minibatch 6 --tournament 2 --max-examples 0 --selection tournament --llm-rate 1 --rewrite reflective --rewrite-temperature 0.8 --reflect-tokens 300 --quiet --seed 1 --cache'.split(
        ' ',
      ),
      join(dir, 'reflect.sqlite'),
    ];
    const before = s.log.length;
    const r = await inProcess([...args, '--out', join(dir, 'reflect')]);
    expect(r.stderr).toBe('');
    const sum = summaryOf(join(dir, 'reflect'));
    expect(sum.rewrites.requested).toBeGreaterThan(0);
    expect(sum.rewrites.done).toBeGreaterThan(0);
    expect(sum.rewrites.done + sum.rewrites.skipped).toBe(sum.rewrites.requested);
    expect(sum.options).toMatchObject({ rewrite: 'reflective', rewriteTemperature: 0.8 });
    // the reflective requests: sampled with a seed, showing failures with both verdicts and the label, within the budget
    const reflect = s.log.slice(before).filter((e) => JSON.stringify(e.body ?? {}).includes('Items the prompt got wrong'));
    expect(reflect.length).toBeGreaterThan(0);
    const seeds = new Set(reflect.map((e) => e.body!.seed));
    expect(seeds.size).toBeGreaterThan(1);
    for (const e of reflect) {
      expect(e.body!.temperature).toBe(0.8);
      const user = (e.body!.messages as { content: string }[]).at(-1)!.content;
      expect(user).toMatch(/Correct verdict: Response [AB]/);
      expect(user).toMatch(/The judge chose: .*; with the two responses shown in the other order: /);
      const failures = user.slice(user.indexOf('Item 1'), user.indexOf('Work out what'));
      expect(failures.length).toBeLessThan(300 * 4 + 1200); // the budget, plus at most the one item always shown
    }
    // the scripted generator answers reflections with "correct ... exact": the best prompt is accurate
    expect(sum.best.test.accuracy).toBeGreaterThanOrEqual(0.95);
    const best = readFileSync(join(dir, 'reflect', 'best-prompt.json'), 'utf8');
    expect(best).toContain('Check that the response is correct and that every number in it is exact.');
    expect(best).not.toMatch(/think>/);
    const gens = readFileSync(join(dir, 'reflect', 'generations.jsonl'), 'utf8');
    expect(gens).not.toMatch(/think>/);
    // the same run again: every judgement and rewrite from the cache, the same results
    const again = await inProcess([...args, '--out', join(dir, 'reflect2')]);
    expect(calls(again.stdout)).toBe(0);
    expect(readFileSync(join(dir, 'reflect2', 'summary.json'), 'utf8')).toBe(readFileSync(join(dir, 'reflect', 'summary.json'), 'utf8'));
  });
});
