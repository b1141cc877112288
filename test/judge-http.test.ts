import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/core/errors.js';
import { HttpBackend, retryAfterMs } from '../src/judge/http.js';
import { LlamaBackend } from '../src/judge/llama.js';
import { loadItems, splitItems } from '../src/judge/data.js';
import { baselineGenome } from '../src/judge/genome.js';
import { fillTemplate, renderTemplate } from '../src/judge/render.js';
import { close, listen, LLMBAR, modelServer, readBody, TINY_MODEL } from './judge-helpers.js';

const render = { maxChars: 200 };
const item = splitItems(loadItems(LLMBAR), 0.5, 1, 8).train[0]!;
const template = renderTemplate(baselineGenome(), render);
const loose = { minLetterMass: 0 };
const prompt = fillTemplate(template, item, 'AB', render);
const fast = { retries: 3, backoffMs: 10, maxBackoffMs: 2000, timeoutMs: 5000, skipModelCheck: true };

const ok = (content: string, logprobs: unknown = null) =>
  JSON.stringify({
    choices: [{ index: 0, message: { role: 'assistant', content }, logprobs }],
    usage: { prompt_tokens: 42, completion_tokens: 1 },
  });

describe('HTTP back end against a loopback OpenAI-compatible server backed by the tiny model', () => {
  let llama: LlamaBackend;
  let srv: Awaited<ReturnType<typeof modelServer>>;
  beforeAll(async () => {
    llama = await LlamaBackend.open({ modelPath: TINY_MODEL, judge: loose });
    srv = await modelServer(llama, 'tiny');
  });
  afterAll(async () => {
    await close(srv.server);
    await llama.close();
  });

  it('gives the same A/B probabilities as the in-process engine when the whole distribution is returned', async () => {
    const http = await HttpBackend.open({ baseUrl: srv.url, model: 'tiny', topLogprobs: 100_000, judge: loose });
    const j = await http.judge(prompt);
    const local = await llama.judge(prompt);
    expect(j.source).toBe('probabilities');
    expect(j.pA).toBeCloseTo(local.pA, 12);
    expect(j.pB).toBeCloseTo(local.pB, 12);
    expect(j.promptTokens).toBe(local.promptTokens);
  });

  it('falls back to the text answer when A and B are outside the top logprobs', async () => {
    const http = await HttpBackend.open({ baseUrl: srv.url, model: 'tiny', topLogprobs: 5, judge: loose });
    const j = await http.judge(prompt);
    // random weights: the top token is not a letter, so nothing is readable
    expect(j.source).toBe('none');
    expect(j.pA + j.pB).toBe(0);
  });

  it('sends the API key from the environment, and refuses a missing variable or an unknown model', async () => {
    process.env['GPMATE_TEST_KEY'] = 'sk-test-secret-123';
    const http = await HttpBackend.open({ baseUrl: srv.url, model: 'tiny', apiKeyEnv: 'GPMATE_TEST_KEY' });
    await http.judge(prompt);
    expect(srv.requests.at(-1)?.auth).toBe('Bearer sk-test-secret-123');
    await expect(HttpBackend.open({ baseUrl: srv.url, model: 'tiny', apiKeyEnv: 'GPMATE_NO_SUCH_KEY' })).rejects.toThrow(
      /environment variable GPMATE_NO_SUCH_KEY .* not set/,
    );
    await expect(HttpBackend.open({ baseUrl: srv.url, model: 'nope' })).rejects.toThrow(
      /option model: "nope" is not served by .*available: tiny/,
    );
    // without the /models check, the server's 404 names the model
    const unchecked = await HttpBackend.open({ baseUrl: srv.url, model: 'nope', skipModelCheck: true });
    await expect(unchecked.judge(prompt)).rejects.toThrow(ConfigError);
  });
});

describe('HTTP back end against a fault-injecting loopback server', () => {
  let server: Server;
  let url: string;
  let script: ((n: number, body: string, res: import('node:http').ServerResponse, auth?: string) => void | Promise<void>) | undefined;
  let hits = 0;
  let inflight = 0;
  let maxInflight = 0;
  beforeAll(async () => {
    ({ server, url } = await listen(async (req, res) => {
      const body = await readBody(req);
      hits++;
      inflight++;
      maxInflight = Math.max(maxInflight, inflight);
      res.on('close', () => inflight--);
      await script!(hits, body, res, req.headers.authorization);
    }));
  });
  afterAll(() => close(server));
  const reset = (s: typeof script) => {
    script = s;
    hits = 0;
    maxInflight = 0;
  };

  it('honours Retry-After on 429', async () => {
    reset((n, _b, res) => {
      if (n === 1) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end('slow down');
      } else res.end(ok('A'));
    });
    const http = await HttpBackend.open({ baseUrl: url, model: 'm', ...fast });
    const t0 = Date.now();
    const j = await http.judge(prompt);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(hits).toBe(2);
    expect(j).toMatchObject({ pA: 1, pB: 0, source: 'text', promptTokens: 42 });
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(Date.now() + 3000).toUTCString())).toBeGreaterThan(1000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('retries 500s and malformed JSON, then succeeds; gives up with a one-line error', async () => {
    reset((n, _b, res) => {
      if (n === 1) {
        res.writeHead(500);
        res.end('boom');
      } else if (n === 2) res.end('{"choices": [');
      else res.end(ok('B'));
    });
    const http = await HttpBackend.open({ baseUrl: url, model: 'm', ...fast });
    expect((await http.judge(prompt)).pB).toBe(1);
    expect(hits).toBe(3);
    reset((_n, _b, res) => {
      res.writeHead(503);
      res.end('down\nfor maintenance');
    });
    const err = await http.judge(prompt).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/HTTP 503 down for maintenance \(gave up after 4 attempts\)/);
    expect((err as Error).message).not.toContain('\n');
    expect(hits).toBe(4);
  });

  it('times out a hanging request and retries it', async () => {
    reset((n, _b, res) => {
      if (n > 1) res.end(ok('A'));
      // the first request never answers
    });
    const http = await HttpBackend.open({ baseUrl: url, model: 'm', ...fast, timeoutMs: 300 });
    expect((await http.judge(prompt)).pA).toBe(1);
    expect(hits).toBe(2);
  });

  it('reads verdicts from logprobs (every spelling summed) and from text when logprobs are missing', async () => {
    const logprobs = {
      content: [
        {
          token: ' B',
          logprob: Math.log(0.5),
          top_logprobs: [
            { token: ' B', logprob: Math.log(0.5) },
            { token: 'A', logprob: Math.log(0.2) },
            { token: ' A', logprob: Math.log(0.1) },
            { token: 'The', logprob: Math.log(0.1) },
          ],
        },
      ],
    };
    reset((n, _b, res) => {
      res.end(n === 1 ? ok(' B', logprobs) : ok('I prefer (A).'));
    });
    const http = await HttpBackend.open({ baseUrl: url, model: 'm', ...fast });
    const j = await http.judge(prompt);
    expect(j.source).toBe('probabilities');
    expect(j.pA).toBeCloseTo(0.3, 12);
    expect(j.pB).toBeCloseTo(0.5, 12);
    expect(await http.judge(prompt)).toMatchObject({ pA: 1, pB: 0, source: 'text' });
  });

  it('keeps at most --concurrency requests in flight', async () => {
    reset(async (_n, _b, res) => {
      await new Promise((r) => setTimeout(r, 40));
      res.end(ok('A'));
    });
    const http = await HttpBackend.open({ baseUrl: url, model: 'm', ...fast, concurrency: 2 });
    await Promise.all(Array.from({ length: 6 }, () => http.judge(prompt)));
    expect(hits).toBe(6);
    expect(maxInflight).toBe(2);
  });

  it('never shows the API key, even when the server echoes it', async () => {
    process.env['GPMATE_TEST_KEY2'] = 'sk-very-secret-456';
    reset((_n, _b, res, auth) => {
      res.writeHead(400);
      res.end(`bad request with ${auth}`);
    });
    const http = await HttpBackend.open({ baseUrl: url, model: 'm', ...fast, apiKeyEnv: 'GPMATE_TEST_KEY2' });
    const err = (await http.judge(prompt).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/HTTP 400 bad request with Bearer \*\*\*/);
    expect(err.message).not.toContain('sk-very-secret-456');
    reset((_n, _b, res) => {
      res.writeHead(401);
      res.end('{}');
    });
    await expect(http.judge(prompt)).rejects.toThrow(/authentication failed \(HTTP 401\)/);
  });

  it('reports an unreachable back end in one line', async () => {
    const dead = await listen(() => {});
    const deadUrl = dead.url;
    await close(dead.server);
    const err = (await HttpBackend.open({ baseUrl: deadUrl, model: 'm', retries: 1, backoffMs: 10 }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/back end http:\/\/127\.0\.0\.1:\d+\/v1: unreachable \(ECONNREFUSED\) \(gave up after 2 attempts\)/);
    await expect(HttpBackend.open({ baseUrl: 'ftp://x', model: 'm' })).rejects.toThrow(/option baseUrl: expected http/);
  });
});
