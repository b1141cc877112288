import { ConfigError, optionError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import {
  ContextOverflowError,
  Limiter,
  type GenerateOptions,
  type Generation,
  type JudgeBackend,
  type Judgement,
  type RequestMeter,
} from './backend.js';
import { readingKey, resolveReading, type ReadingSettings } from './options.js';
import type { ChatPrompt } from './render.js';
import { answerLetter, readVerdict, type TokenStep } from './verdict.js';

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
  /** Retries after the first attempt on 408, 429, 5xx, timeouts, network errors and malformed answers. Default 4. */
  readonly retries?: number;
  /** First backoff in ms, doubled on each retry, with jitter (Retry-After / retry-after-ms take precedence). Default 500. */
  readonly backoffMs?: number;
  /** Longest single wait in ms, Retry-After included. Default 30000. */
  readonly maxBackoffMs?: number;
  /** top_logprobs asked for (0: none; the verdict is then read from the text). Default 20 (OpenAI's maximum). */
  readonly topLogprobs?: number;
  /** Server options merged into every judgement request (reasoning effort, chat_template_kwargs, guided choice ...). */
  readonly extraBody?: Readonly<Record<string, unknown>>;
  /** How the judge is asked and read. */
  readonly judge?: Partial<ReadingSettings>;
  /** Skip the GET /models check of the model name at start. Default false. */
  readonly skipModelCheck?: boolean;
}

interface LogprobToken {
  token: string;
  logprob: number;
  top_logprobs?: { token: string; logprob: number }[];
}
interface ChatResponse {
  choices?: {
    message?: { content?: string | null };
    logprobs?: { content?: LogprobToken[] | null } | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

/** A failure worth another attempt (408, 429, 5xx, timeout, network, malformed answer). */
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
 * The wait before retry `attempt` (0-based): what the server asked for (Retry-After or OpenAI's
 * retry-after-ms), else backoffMs·2^attempt scaled by a uniform factor in [1/2, 1] ("equal jitter",
 * so that clients that failed together do not retry together); never more than maxBackoffMs.
 */
export function backoffDelay(attempt: number, o: { backoffMs: number; maxBackoffMs: number }, rng: Rng, serverMs?: number): number {
  if (serverMs !== undefined) return Math.min(o.maxBackoffMs, serverMs);
  const nominal = Math.min(o.maxBackoffMs, o.backoffMs * 2 ** attempt);
  return nominal * (0.5 + 0.5 * rng.next());
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A value that looks like a key rather than the name of a variable (it is then never shown). */
export function looksLikeKey(s: string): boolean {
  return (
    !ENV_NAME.test(s) ||
    /^(sk|pk|rk|hf|gsk|xai|key)[-_]/i.test(s) ||
    (s.length >= 20 && /\d/.test(s) && /[a-z]/.test(s) && !s.includes('_'))
  );
}

const SECRET_QUERY = /key|token|secret|password|passwd|sig|auth/i;
const CONTEXT_OVERFLOW =
  /context[ _-]?length|maximum context|context size|context window|exceed_context|too many tokens|prompt is too long|input is too long/i;

/**
 * OpenAI-compatible chat/completions back end (OpenAI, vLLM, Ollama, llama.cpp server). The verdict
 * is read at the token that produced the verdict letter, from its top_logprobs (every spelling of a
 * letter summed; see readVerdict for the letter-mass rule), else from the parsed text. Requests go
 * through a concurrency limiter, each with a timeout; 408, 429 and 5xx answers, timeouts, network
 * errors, malformed JSON and answers without choices are retried (one level: at most retries + 1
 * requests per call, each one spent from the meter) with jittered exponential backoff, honouring
 * Retry-After and retry-after-ms. The API key and any credentials in the base URL are sent as
 * headers and appear in no message, id or cache row.
 */
export class HttpBackend implements JudgeBackend {
  readonly id: string;
  readonly model: string;
  readonly judgeKey: string;
  readonly generateKey: string;
  /** The base URL as shown (no credentials, secret query values masked). */
  private readonly shown: string;
  private readonly url: URL;
  private readonly auth: string | undefined;
  private readonly secrets: string[];
  private readonly limiter: Limiter;
  private readonly jitter: Rng;
  private readonly o: Required<Omit<HttpOptions, 'apiKeyEnv' | 'baseUrl' | 'model' | 'judge'>>;
  private readonly settings: ReadingSettings;

  private constructor(o: HttpOptions, url: URL, shown: string, auth: string | undefined, secrets: string[]) {
    this.url = url;
    this.shown = shown;
    this.id = `http:${shown}`;
    this.model = o.model;
    this.auth = auth;
    this.secrets = secrets.filter((s) => s.length >= 4);
    this.o = {
      concurrency: o.concurrency ?? 4,
      timeoutMs: o.timeoutMs ?? 60_000,
      retries: o.retries ?? 4,
      backoffMs: o.backoffMs ?? 500,
      maxBackoffMs: o.maxBackoffMs ?? 30_000,
      topLogprobs: o.topLogprobs ?? 20,
      extraBody: o.extraBody ?? {},
      skipModelCheck: o.skipModelCheck ?? false,
    };
    this.settings = resolveReading(o.judge);
    this.limiter = new Limiter(this.o.concurrency);
    this.jitter = new Rng(`jitter:${shown}`);
    this.judgeKey = JSON.stringify(['http', shown, o.model, readingKey(this.settings), this.o.topLogprobs, this.o.extraBody]);
    this.generateKey = JSON.stringify(['http', shown, o.model]);
  }

  /** Validates the options, reads the key, and checks the model name against GET /models when offered. */
  static async open(o: HttpOptions): Promise<HttpBackend> {
    let url: URL;
    try {
      url = new URL(o.baseUrl);
    } catch {
      // the text may hold credentials: show only that it is not a URL
      throw optionError('baseUrl', 'not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw optionError('baseUrl', `expected http(s), got "${url.protocol}"`);
    if (!o.model) throw optionError('model', 'the HTTP back end needs a model name');
    const ints: [string, number | undefined, number][] = [
      ['concurrency', o.concurrency, 1],
      ['timeoutMs', o.timeoutMs, 1],
      ['retries', o.retries, 0],
      ['topLogprobs', o.topLogprobs, 0],
    ];
    for (const [name, v, min] of ints)
      if (v !== undefined && (!Number.isInteger(v) || v < min)) throw optionError(name, `expected an integer >= ${min}, got ${v}`);
    for (const k of ['model', 'messages', 'stream', 'n'])
      if (o.extraBody && k in o.extraBody) throw optionError('extraBody', `"${k}" is set by gpmate and cannot be overridden`);
    const secrets: string[] = [];
    let auth: string | undefined;
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      const basic = Buffer.from(`${user}:${pass}`).toString('base64');
      auth = `Basic ${basic}`;
      secrets.push(pass, url.password, basic, `${user}:${pass}`);
      url.username = '';
      url.password = '';
    }
    if (o.apiKeyEnv !== undefined) {
      if (looksLikeKey(o.apiKeyEnv)) {
        throw optionError('apiKeyEnv', 'expected the NAME of an environment variable; the value given looks like a key itself (not shown)');
      }
      const key = process.env[o.apiKeyEnv];
      if (!key) throw optionError('apiKeyEnv', `environment variable ${o.apiKeyEnv} is not set`);
      auth = `Bearer ${key}`;
      secrets.push(key);
    }
    const shownUrl = new URL(url.toString());
    for (const [k, v] of shownUrl.searchParams) {
      if (SECRET_QUERY.test(k)) {
        secrets.push(v);
        shownUrl.searchParams.set(k, '***');
      }
    }
    const shown = shownUrl
      .toString()
      .replace(/\/+$/, '')
      .replace(/%2A%2A%2A/g, '***');
    const b = new HttpBackend(o, url, shown, auth, secrets);
    if (!b.o.skipModelCheck) await b.checkModel();
    return b;
  }

  /** One line for a message: secrets redacted first, then whitespace folded, then cut. */
  private clean(s: string, max = 200): string {
    let t = s;
    for (const secret of this.secrets) t = t.split(secret).join('***');
    t = t.replace(/(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, '$1 ***').replace(/\bsk-[A-Za-z0-9_-]{6,}/g, 'sk-***');
    t = t.replace(/\s+/g, ' ').trim();
    return t.length > max ? `${t.slice(0, max)}...` : t;
  }

  private async checkModel(): Promise<void> {
    const body = await this.request('GET', '/models', undefined, undefined, true);
    if (body === undefined) return; // no /models endpoint: nothing to check against
    const ids = ((body as { data?: { id?: unknown }[] }).data ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string');
    // Ollama lists "name:latest" and accepts "name".
    if (ids.length && !ids.includes(this.model) && !ids.includes(`${this.model}:latest`)) {
      throw optionError('model', `"${this.model}" is not served by ${this.shown} (available: ${this.clean(ids.slice(0, 8).join(', '))})`);
    }
  }

  /**
   * One call with single-level retries: every attempt is a paid request (spent from `meter` before it
   * is sent); `optional` makes a 404 return undefined instead of failing.
   */
  private async request(
    method: 'GET' | 'POST',
    path: string,
    payload: Record<string, unknown> | undefined,
    meter: RequestMeter | undefined,
    optional = false,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      meter?.spend();
      try {
        const r = await this.once(method, path, payload, optional);
        if (method === 'POST' && !(Array.isArray((r as ChatResponse)?.choices) && (r as ChatResponse).choices!.length > 0))
          throw new Transient('answer without choices');
        return r;
      } catch (e) {
        if (!(e instanceof Transient)) throw e;
        if (attempt >= this.o.retries)
          throw new Error(`back end ${this.shown}: ${e.message} (gave up after ${attempt + 1} attempt${attempt ? 's' : ''})`);
        await sleep(backoffDelay(attempt, this.o, this.jitter, e.retryAfterMs));
      }
    }
  }

  private async once(method: 'GET' | 'POST', path: string, payload: object | undefined, optional: boolean): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) headers['content-type'] = 'application/json';
    if (this.auth) headers.authorization = this.auth;
    const target = new URL(this.url.toString());
    target.pathname = `${target.pathname.replace(/\/+$/, '')}${path}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(target, {
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
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      const wait = retryAfterMs(res.headers.get('retry-after')) ?? msHeader(res.headers.get('retry-after-ms'));
      throw new Transient(`HTTP ${res.status} ${this.clean(text)}`, wait);
    }
    if (res.status === 404 && optional) return undefined;
    if (res.status === 401 || res.status === 403) {
      throw new ConfigError(
        `back end ${this.shown}: authentication failed (HTTP ${res.status})${this.auth ? '; check the credentials' : '; no API key given'}`,
      );
    }
    if (res.status >= 400) throw this.clientError(res.status, text, payload as Record<string, unknown> | undefined);
    try {
      return JSON.parse(text);
    } catch {
      throw new Transient(`malformed JSON in the answer: ${this.clean(text, 60)}`);
    }
  }

  /** A 4xx answer as one line: a context overflow, a rejected request parameter (named), or the server's message. */
  private clientError(status: number, text: string, payload: Record<string, unknown> | undefined): Error {
    let message = text;
    let param: unknown;
    try {
      const j = JSON.parse(text) as { error?: { message?: unknown; param?: unknown } | string; message?: unknown; param?: unknown };
      const e = typeof j.error === 'object' && j.error ? j.error : j;
      message = typeof e.message === 'string' ? e.message : typeof j.error === 'string' ? j.error : text;
      param = e.param;
    } catch {
      // not JSON: the text is the message
    }
    if (status === 400 && CONTEXT_OVERFLOW.test(message)) return new ContextOverflowError(`back end ${this.shown}: ${this.clean(message)}`);
    const keys = Object.keys(payload ?? {}).filter((k) => k !== 'model' && k !== 'messages');
    const named =
      typeof param === 'string' && keys.includes(param)
        ? param
        : keys.sort((a, b) => b.length - a.length).find((k) => new RegExp(`(^|[^A-Za-z0-9_])${k}([^A-Za-z0-9_]|$)`).test(message));
    if ((status === 400 || status === 422) && named !== undefined)
      return new ConfigError(
        `back end ${this.shown}: the server rejects the request parameter "${named}" (HTTP ${status}: ${this.clean(message, 120)})`,
      );
    const hint = status === 404 ? ` (wrong base URL or model "${this.model}"?)` : '';
    return new ConfigError(`back end ${this.shown}: HTTP ${status} ${this.clean(message)}${hint}`);
  }

  private chat(payload: Record<string, unknown>, meter: RequestMeter | undefined): Promise<ChatResponse> {
    return this.limiter.run(async () => (await this.request('POST', '/chat/completions', payload, meter)) as ChatResponse);
  }

  private messages(prompt: ChatPrompt): { role: string; content: string }[] {
    return [...(prompt.system ? [{ role: 'system', content: prompt.system }] : []), { role: 'user', content: prompt.user }];
  }

  async judge(prompt: ChatPrompt, meter?: RequestMeter): Promise<Judgement> {
    const s = this.settings;
    const payload = {
      model: this.model,
      messages: this.messages(prompt),
      max_tokens: s.maxTokens,
      temperature: 0,
      ...(this.o.topLogprobs > 0 ? { logprobs: true, top_logprobs: this.o.topLogprobs } : {}),
      ...this.o.extraBody,
    };
    let r: ChatResponse;
    try {
      r = await this.chat(payload, meter);
    } catch (e) {
      if (e instanceof ContextOverflowError)
        return { pA: 0, pB: 0, pTie: 0, text: e.message, source: 'overflow', promptTokens: 0, completionTokens: 0 };
      throw e;
    }
    const choice = r.choices![0]!;
    const text = choice.message?.content ?? '';
    const usage = {
      promptTokens: r.usage?.prompt_tokens ?? Math.ceil((prompt.system.length + prompt.user.length) / 4),
      completionTokens: r.usage?.completion_tokens ?? 1,
    };
    return readVerdict(text, tokenSteps(text, choice.logprobs?.content, s.ties), s, usage);
  }

  async generate(prompt: ChatPrompt, o: GenerateOptions, meter?: RequestMeter): Promise<Generation> {
    const payload = {
      model: this.model,
      messages: this.messages(prompt),
      max_tokens: o.maxTokens,
      temperature: o.temperature,
      ...(o.temperature > 0 ? { seed: o.seed } : {}),
    };
    const r = await this.chat(payload, meter);
    const text = r.choices![0]!.message?.content ?? '';
    return { text, promptTokens: r.usage?.prompt_tokens ?? 0, completionTokens: r.usage?.completion_tokens ?? 0 };
  }

  async close(): Promise<void> {}
}

function msHeader(h: string | null): number | undefined {
  if (h === null || !/^\d+(\.\d+)?$/.test(h.trim())) return undefined;
  return Number(h);
}

/**
 * The logprobs of an answer as token steps with their offsets in the answer text. Servers that
 * report the reasoning's tokens beside a content without it (reasoning parsers) are aligned on the
 * content's end; when the tokens do not spell the content, there are no steps (text only).
 */
function tokenSteps(text: string, content: LogprobToken[] | null | undefined, ties: boolean): TokenStep[] | undefined {
  if (!Array.isArray(content) || content.length === 0) return undefined;
  const full = content.map((c) => c.token).join('');
  const shift = text === '' ? -1 : full.lastIndexOf(text);
  if (shift < 0 || shift + text.length !== full.length) return undefined;
  const steps: TokenStep[] = [];
  let at = -shift;
  for (const c of content) {
    const start = at;
    at += c.token.length;
    if (at <= 0) continue;
    steps.push({
      start: Math.max(0, start),
      end: at,
      letters() {
        const m = { A: 0, B: 0, C: 0 };
        const top = Array.isArray(c.top_logprobs) ? c.top_logprobs : [];
        const seen = top.some((t) => t.token === c.token) ? top : [...top, { token: c.token, logprob: c.logprob }];
        for (const t of seen) {
          const l = answerLetter(t.token, ties);
          if (l) m[l] += Math.exp(t.logprob);
        }
        return m;
      },
    });
  }
  return steps;
}
