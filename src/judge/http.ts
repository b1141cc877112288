import { ConfigError, optionError } from '../core/errors.js';
import { Limiter, answerLetter, parseVerdict, type Generation, type JudgeBackend, type Judgement } from './backend.js';
import type { ChatPrompt } from './render.js';

export interface HttpOptions {
  /** Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1 (…/chat/completions is appended). */
  readonly baseUrl: string;
  readonly model: string;
  /** Name of the environment variable holding the API key (the key itself is never taken as an option). */
  readonly apiKeyEnv?: string;
  /** Requests in flight at once. Default 4. */
  readonly concurrency?: number;
  /** Per-request timeout in ms. Default 60000. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt on 429, 5xx, timeouts, network errors and malformed answers. Default 4. */
  readonly retries?: number;
  /** First backoff in ms, doubled on each retry (a Retry-After header takes precedence). Default 500. */
  readonly backoffMs?: number;
  /** Longest single wait in ms, Retry-After included. Default 30000. */
  readonly maxBackoffMs?: number;
  /** top_logprobs asked for. Default 20 (OpenAI's maximum). */
  readonly topLogprobs?: number;
  /** Completion tokens of a judgement (the verdict is read from the first). Default 4. */
  readonly maxTokens?: number;
  /** Skip the GET /models check of the model name at start. Default false. */
  readonly skipModelCheck?: boolean;
}

interface ChatResponse {
  choices?: {
    message?: { content?: string | null };
    logprobs?: { content?: { token: string; logprob: number; top_logprobs?: { token: string; logprob: number }[] }[] | null } | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

/** A failure worth another attempt (429, 5xx, timeout, network, malformed answer). */
class Transient extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(h: string | null, now = Date.now()): number | undefined {
  if (h === null || h.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(h.trim())) return Number(h) * 1000;
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/**
 * OpenAI-compatible chat/completions back end (OpenAI, vLLM, Ollama, llama.cpp server). Verdicts come
 * from the first completion token's top_logprobs (every spelling of the letter summed), else from the
 * parsed text. Requests go through a concurrency limiter, each with a timeout; 429 and 5xx answers,
 * timeouts, network errors and malformed JSON are retried with exponential backoff, honouring
 * Retry-After. The API key is read from the named environment variable and appears in no message.
 */
export class HttpBackend implements JudgeBackend {
  readonly id: string;
  readonly model: string;
  private readonly base: string;
  private readonly key: string | undefined;
  private readonly limiter: Limiter;
  private readonly o: Required<Omit<HttpOptions, 'apiKeyEnv' | 'baseUrl' | 'model'>>;

  private constructor(o: HttpOptions, key: string | undefined) {
    this.base = o.baseUrl.replace(/\/+$/, '');
    this.id = `http:${this.base}`;
    this.model = o.model;
    this.key = key;
    this.o = {
      concurrency: o.concurrency ?? 4,
      timeoutMs: o.timeoutMs ?? 60_000,
      retries: o.retries ?? 4,
      backoffMs: o.backoffMs ?? 500,
      maxBackoffMs: o.maxBackoffMs ?? 30_000,
      topLogprobs: o.topLogprobs ?? 20,
      maxTokens: o.maxTokens ?? 4,
      skipModelCheck: o.skipModelCheck ?? false,
    };
    this.limiter = new Limiter(this.o.concurrency);
  }

  /** Validates the options, reads the key, and checks the model name against GET /models when offered. */
  static async open(o: HttpOptions): Promise<HttpBackend> {
    let url: URL;
    try {
      url = new URL(o.baseUrl);
    } catch {
      throw optionError('baseUrl', `not a URL: "${o.baseUrl}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw optionError('baseUrl', `expected http(s), got "${url.protocol}"`);
    if (!o.model) throw optionError('model', 'the HTTP back end needs a model name');
    const ints: [string, number | undefined, number][] = [
      ['concurrency', o.concurrency, 1],
      ['timeoutMs', o.timeoutMs, 1],
      ['retries', o.retries, 0],
      ['topLogprobs', o.topLogprobs, 0],
      ['maxTokens', o.maxTokens, 1],
    ];
    for (const [name, v, min] of ints)
      if (v !== undefined && (!Number.isInteger(v) || v < min)) throw optionError(name, `expected an integer >= ${min}, got ${v}`);
    let key: string | undefined;
    if (o.apiKeyEnv !== undefined) {
      key = process.env[o.apiKeyEnv];
      if (!key) throw optionError('apiKeyEnv', `environment variable ${o.apiKeyEnv} is not set`);
    }
    const b = new HttpBackend(o, key);
    if (!b.o.skipModelCheck) await b.checkModel();
    return b;
  }

  private clean(s: string): string {
    const one = s.replace(/\s+/g, ' ').trim().slice(0, 200);
    return this.key ? one.split(this.key).join('***') : one;
  }

  private async checkModel(): Promise<void> {
    const body = await this.request('GET', '/models', undefined, true);
    if (body === undefined) return; // no /models endpoint: nothing to check against
    const ids = ((body as { data?: { id?: unknown }[] }).data ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string');
    // Ollama lists "name:latest" and accepts "name".
    if (ids.length && !ids.includes(this.model) && !ids.includes(`${this.model}:latest`)) {
      throw optionError('model', `"${this.model}" is not served by ${this.base} (available: ${this.clean(ids.slice(0, 8).join(', '))})`);
    }
  }

  /** One request with retries; `optional` makes a 404 return undefined instead of failing. */
  private async request(method: 'GET' | 'POST', path: string, payload: object | undefined, optional = false): Promise<unknown> {
    let last = '';
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      try {
        return await this.once(method, path, payload, optional);
      } catch (e) {
        if (!(e instanceof Transient)) throw e;
        last = e.message;
        if (attempt === this.o.retries) break;
        const wait = Math.min(this.o.maxBackoffMs, e.retryAfterMs ?? this.o.backoffMs * 2 ** attempt);
        await sleep(wait);
      }
    }
    throw new Error(`back end ${this.base}: ${last} (gave up after ${this.o.retries + 1} attempt${this.o.retries ? 's' : ''})`);
  }

  private async once(method: 'GET' | 'POST', path: string, payload: object | undefined, optional: boolean): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) headers['content-type'] = 'application/json';
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(payload ? { body: JSON.stringify(payload) } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      if (err.name === 'TimeoutError' || err.name === 'AbortError') throw new Transient(`no answer within ${this.o.timeoutMs} ms`);
      const code = err.cause?.code ?? err.cause?.message ?? err.message;
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new Transient(`unreachable (${code})`);
      throw new Transient(`network error (${this.clean(String(code))})`);
    }
    if (res.status === 429 || res.status >= 500) {
      throw new Transient(`HTTP ${res.status} ${this.clean(text)}`, retryAfterMs(res.headers.get('retry-after')));
    }
    if (res.status === 404 && optional) return undefined;
    if (res.status === 401 || res.status === 403) {
      throw new ConfigError(
        `back end ${this.base}: authentication failed (HTTP ${res.status})${this.key ? '; check the API key variable' : '; name the environment variable holding the key (option apiKeyEnv)'}`,
      );
    }
    if (res.status >= 400) {
      const hint = res.status === 404 ? ` (wrong baseUrl or model "${this.model}"?)` : '';
      throw new ConfigError(`back end ${this.base}: HTTP ${res.status} ${this.clean(text)}${hint}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new Transient(`malformed JSON in the answer: ${this.clean(text.slice(0, 60))}`);
    }
  }

  private chat(prompt: ChatPrompt, maxTokens: number, logprobs: boolean): Promise<ChatResponse> {
    const messages = [...(prompt.system ? [{ role: 'system', content: prompt.system }] : []), { role: 'user', content: prompt.user }];
    const payload = {
      model: this.model,
      messages,
      max_tokens: maxTokens,
      temperature: 0,
      ...(logprobs && this.o.topLogprobs > 0 ? { logprobs: true, top_logprobs: this.o.topLogprobs } : {}),
    };
    return this.limiter.run(async () => {
      for (let attempt = 0; ; attempt++) {
        const r = (await this.request('POST', '/chat/completions', payload)) as ChatResponse;
        if (r && Array.isArray(r.choices) && r.choices.length > 0) return r;
        if (attempt >= this.o.retries) throw new Error(`back end ${this.base}: answer without choices`);
        await sleep(Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** attempt));
      }
    });
  }

  async judge(prompt: ChatPrompt): Promise<Judgement> {
    const r = await this.chat(prompt, this.o.maxTokens, true);
    const choice = r.choices![0]!;
    const text = choice.message?.content ?? '';
    const usage = {
      promptTokens: r.usage?.prompt_tokens ?? Math.ceil((prompt.system.length + prompt.user.length) / 4),
      completionTokens: r.usage?.completion_tokens ?? 1,
    };
    // The first content token that is not whitespace carries the verdict.
    const first = choice.logprobs?.content?.find((c) => c.token.trim() !== '');
    if (first && Array.isArray(first.top_logprobs)) {
      let pA = 0;
      let pB = 0;
      for (const t of [...first.top_logprobs, ...(first.top_logprobs.some((x) => x.token === first.token) ? [] : [first])]) {
        const letter = answerLetter(t.token);
        if (letter === 'A') pA += Math.exp(t.logprob);
        else if (letter === 'B') pB += Math.exp(t.logprob);
      }
      if (pA + pB > 0) return { pA, pB, text, source: 'probabilities', ...usage };
    }
    const v = parseVerdict(text);
    return v
      ? { pA: v === 'A' ? 1 : 0, pB: v === 'B' ? 1 : 0, text, source: 'text', ...usage }
      : { pA: 0, pB: 0, text, source: 'none', ...usage };
  }

  async generate(prompt: ChatPrompt, maxTokens: number): Promise<Generation> {
    const r = await this.chat(prompt, maxTokens, false);
    const text = r.choices![0]!.message?.content ?? '';
    return { text, promptTokens: r.usage?.prompt_tokens ?? 0, completionTokens: r.usage?.completion_tokens ?? 0 };
  }

  async close(): Promise<void> {}
}
