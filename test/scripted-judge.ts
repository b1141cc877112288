/**
 * A scripted judge: a loopback OpenAI-compatible server (GET /v1/models, POST /v1/chat/completions)
 * whose answers depend on the prompt in known ways, so that tests and benchmarks can check what judge
 * prompt evolution finds without real model weights. Used by test/judge-*.test.ts and
 * bench/judge-scripted.ts.
 *
 * Data: `scriptedItems` makes arithmetic items ("What is 23 + 19?"); the better response holds the
 * right sum. In half of the items the better response is the longer one.
 *
 * Judge behaviour (a judge request ends with the render cue "Which response is better, A or B?"):
 * - Accurate only when the prompt asks for certain criteria: the words "correct" AND "exact" (the
 *   library criteria "Is the response factually correct?" and "Are code, numbers and names in the
 *   response exact?", or the framing "... helpful, correct and faithful ..."). With one of the two
 *   words it is right on 60% of the items (a fixed subset per word: items that lexicase can tell
 *   apart, prompts that crossover can join) and falls back to its bias on the rest.
 * - Otherwise biased: with "order in which the responses appear must not influence" in the prompt it
 *   picks the longer response (length bias, consistent under swap); else it always answers A
 *   (position bias).
 * - Answer style: the format "Give your verdict as one letter, A or B, without explanation." makes it
 *   answer "**Verdict: X**" (its first token "**" carries 1% "A" and 0.5% "B": the trap of reading
 *   the first token); the format "Reply with only the letter ..." gives "Response X"; the others "X".
 *   The reasoned cue ("Verdict: A") makes it reason first, then end with "**Verdict: X**". The
 *   procedure "First restate to yourself ..." wraps a think block that names the other letter
 *   (`<think>... B ...</think>`) before the answer. The role "Act as a neutral judge of instruction
 *   following." makes it unreadable ("Both responses have merits."). Ties (cue with "C") are never
 *   answered.
 * - Probabilities: logprobs are returned for every content token when asked (unless `ignoreLogprobs`),
 *   with the verdict letter at 0.9 (accurate), 0.7 (partly accurate) or 0.8 (biased).
 *
 * Generator behaviour (rewrite prompts): a plain rewrite appends a phrase chosen by the request seed
 * (temperature > 0) or the first phrase (temperature 0); a reflective prompt (it contains "Items the
 * prompt got wrong") is answered with a section asking for correct and exact answers. Odd seeds wrap
 * the answer in a think block, which must never reach a prompt section.
 *
 * Faults and limits: `faultEvery` (every n-th distinct request fails once with `faultStatus` and `retry-after-ms: 5`;
 * its retry passes, whatever other requests arrive in between, so no request can fail every time), `contextChars` (longer prompts get vLLM's context-length 400),
 * `rejectParams` (OpenAI's unsupported-parameter 400), `apiKey` / `basicAuth` (401 otherwise).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Rng } from '../src/core/rng.js';

export interface ScriptedItem {
  readonly instruction: string;
  readonly response_a: string;
  readonly response_b: string;
  readonly label: 'A' | 'B';
}

/** Deterministic synthetic items: the better response holds the right sum; the longer one is better in half. */
export function scriptedItems(n: number, seed = 1, longEvery = 0): ScriptedItem[] {
  const rng = new Rng(`scripted:${seed}`);
  const items: ScriptedItem[] = [];
  for (let i = 0; i < n; i++) {
    const a = 10 + rng.int(90);
    const b = 10 + rng.int(90);
    const wrong = a + b + (rng.chance(0.5) ? 1 : -1) * (1 + rng.int(9));
    const pad = ' I checked this by adding the tens first and then the units, so it should be reliable.';
    const longerIsBetter = i % 2 === 0;
    let good = `The answer is ${a + b}.${longerIsBetter ? pad : ''}`;
    const bad = `The answer is ${wrong}.${longerIsBetter ? '' : pad}`;
    if (longEvery > 0 && i % longEvery === longEvery - 1) good += ' Details:' + ' more'.repeat(400);
    const first = rng.chance(0.5);
    items.push({
      instruction: `What is ${a} + ${b}?`,
      response_a: first ? good : bad,
      response_b: first ? bad : good,
      label: first ? 'A' : 'B',
    });
  }
  return items;
}

/** The flags that point `gpmate judge` at a scripted server. */
export function scriptedFlags(url: string): string[] {
  return ['--backend', 'http', '--base-url', url, '--model', 'scripted'];
}

/** The items as JSONL (the `jsonl` data format). */
export function toJsonl(items: readonly ScriptedItem[]): string {
  return items.map((x) => JSON.stringify(x)).join('\n') + '\n';
}

export interface ScriptedOptions {
  readonly model?: string;
  readonly apiKey?: string;
  /** "user:password" expected as HTTP Basic credentials. */
  readonly basicAuth?: string;
  readonly ignoreLogprobs?: boolean;
  readonly faultEvery?: number;
  readonly faultStatus?: number;
  readonly contextChars?: number;
  readonly rejectParams?: readonly string[];
}

export interface ScriptedServer {
  readonly server: Server;
  readonly url: string;
  /** Every request that reached the server (chat completions and model lists), in arrival order. */
  readonly log: { path: string; body?: Record<string, unknown>; auth?: string; status: number }[];
  /** Chat-completion requests (each one paid by the client). */
  chatRequests(): number;
  close(): Promise<void>;
}

export const ACCURATE_CRITERIA = ['Is the response factually correct?', 'Are code, numbers and names in the response exact?'];
export const UNREADABLE_ROLE = 'Act as a neutral judge of instruction following.';
const ORDER_FREE = 'order in which the responses appear must not influence';

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function lastSection(text: string, head: string, next: string): string | undefined {
  const i = text.lastIndexOf(head);
  if (i < 0) return undefined;
  const rest = text.slice(i + head.length);
  const j = next ? rest.indexOf(next) : -1;
  return (j >= 0 ? rest.slice(0, j) : rest).trim();
}

/** The verdict the scripted judge means to give, with its confidence, or undefined when it is unreadable. */
export function scriptedVerdict(system: string, user: string): { letter: 'A' | 'B'; p: number } | undefined {
  const all = `${system}\n${user}`;
  if (all.includes(UNREADABLE_ROLE)) return undefined;
  const q = lastSection(user, 'Instruction:\n', '\n\nResponse A:\n');
  const ra = lastSection(user, 'Response A:\n', '\n\nResponse B:\n');
  const rb = lastSection(user, 'Response B:\n', '\n\nWhich response');
  const m = q && /What is (\d+) \+ (\d+)\?/.exec(q);
  if (!m || ra === undefined || rb === undefined) return undefined;
  const sum = String(Number(m[1]) + Number(m[2]));
  const right = new RegExp(`\\b${sum}\\b`);
  const truth: 'A' | 'B' = right.test(ra) ? 'A' : 'B';
  const lower = all.toLowerCase();
  const correct = /\bcorrect\b/.test(lower);
  const exact = /\bexact\b/.test(lower);
  if (correct && exact) return { letter: truth, p: 0.9 };
  // each criterion alone gets its own 60% of the items right: two partial prompts that crossover can join
  if (correct && hash(q) % 10 < 6) return { letter: truth, p: 0.7 };
  if (exact && (hash(q) >>> 8) % 10 < 6) return { letter: truth, p: 0.7 };
  if (lower.includes(ORDER_FREE)) return { letter: ra.length >= rb.length ? 'A' : 'B', p: 0.8 };
  return { letter: 'A', p: 0.8 };
}

type Top = { token: string; logprob: number }[];

/** Splits an answer into tokens the way a BPE tokenizer roughly would (leading spaces kept). */
function tokens(text: string): string[] {
  return text.match(/\s*[A-Za-z]+|\s*\d+|\s*[^\sA-Za-z\d]+|\s+/g) ?? [];
}

function logprobsOf(content: string, verdict: { letter: 'A' | 'B'; p: number } | undefined, letterAt: number) {
  let offset = 0;
  return tokens(content).map((token, k) => {
    const start = offset;
    offset += token.length;
    let top: Top;
    if (verdict && start <= letterAt && letterAt < offset) {
      const other = verdict.letter === 'A' ? 'B' : 'A';
      top = [
        { token, logprob: Math.log(verdict.p) },
        { token: other, logprob: Math.log(0.95 - verdict.p) },
        { token: 'The', logprob: Math.log(0.05) },
      ];
    } else if (k === 0) {
      // the trap: at the first token the letters carry little mass, and "A" more than "B"
      top = [
        { token, logprob: Math.log(0.9) },
        { token: 'A', logprob: Math.log(0.01) },
        { token: 'B', logprob: Math.log(0.005) },
      ];
    } else {
      top = [
        { token, logprob: Math.log(0.9) },
        { token: ' the', logprob: Math.log(0.05) },
      ];
    }
    return { token, logprob: top[0]!.logprob, top_logprobs: top };
  });
}

/** The scripted judge's answer text and the index of its verdict letter (-1 when none). */
export function scriptedAnswer(
  system: string,
  user: string,
): { content: string; letterAt: number; verdict?: { letter: 'A' | 'B'; p: number } } {
  const v = scriptedVerdict(system, user);
  const all = `${system}\n${user}`;
  if (!v) return { content: 'Both responses have merits.', letterAt: -1 };
  const other = v.letter === 'A' ? 'B' : 'A';
  const think = all.includes('First restate to yourself')
    ? `<think>The instruction asks for a sum. At first glance ${other} looks fine.</think>\n`
    : '';
  let body: string;
  if (user.includes('"Verdict: A"')) body = `Response ${other} states a number; I checked both sums.\n**Verdict: ${v.letter}**`;
  else if (all.includes('Give your verdict as one letter, A or B, without explanation.')) body = `**Verdict: ${v.letter}**`;
  else if (all.includes('Reply with only the letter of the better response')) body = `Response ${v.letter}`;
  else body = v.letter;
  const content = think + body;
  return { content, letterAt: content.lastIndexOf(v.letter), verdict: v };
}

const PHRASES = [' Be precise.', ' Check each claim.', ' Prefer substance over style.', ' Weigh every part of the request.'];

function generatorAnswer(user: string, temperature: number, seed: number): string {
  const pick = temperature > 0 ? seed % PHRASES.length : 0;
  let text: string;
  if (user.includes('Items the prompt got wrong')) {
    text = 'Check that the response is correct and that every number in it is exact.';
  } else {
    const m = /Instruction(?: 1)?: ([^\n]*)/.exec(user);
    text = `${(m?.[1] ?? 'Judge carefully.').trim()}${PHRASES[pick]}`;
  }
  return temperature > 0 && seed % 2 === 1 ? `<think>Maybe I should mention A or B here.</think>\n${text}` : text;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the scripted judge on a free loopback port. */
export async function scriptedServer(o: ScriptedOptions = {}): Promise<ScriptedServer> {
  const model = o.model ?? 'scripted';
  const log: ScriptedServer['log'] = [];
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const path = req.url ?? '';
      const entry: ScriptedServer['log'][number] = {
        path,
        status: 200,
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
      };
      log.push(entry);
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        entry.status = status;
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      const auth = req.headers.authorization;
      if (o.apiKey !== undefined && auth !== `Bearer ${o.apiKey}`) return send(401, { error: { message: 'invalid api key' } });
      if (o.basicAuth !== undefined && auth !== `Basic ${Buffer.from(o.basicAuth).toString('base64')}`)
        return send(401, { error: { message: 'invalid credentials' } });
      if (req.method === 'GET' && path === '/v1/models') return send(200, { object: 'list', data: [{ id: model, object: 'model' }] });
      if (req.method !== 'POST' || path !== '/v1/chat/completions') return send(404, { error: { message: `no route ${path}` } });
      const body = JSON.parse(raw) as Record<string, unknown> & {
        model: string;
        messages: { role: string; content: string }[];
        logprobs?: boolean;
        max_tokens?: number;
        temperature?: number;
        seed?: number;
      };
      entry.body = body;
      // counted by distinct request, not by arrival: counting arrivals let a retry that always arrived
      // n-th (concurrent requests in lockstep) fail on every attempt
      const fresh = o.faultEvery !== undefined && !seen.has(raw);
      if (fresh) seen.add(raw);
      if (fresh && seen.size % o.faultEvery! === 0) {
        const status = o.faultStatus ?? 429;
        // asks for a short wait, so that tests stay fast (OpenAI's header; the jittered backoff is tested apart)
        return send(status, { error: { message: 'scripted fault' } }, { 'retry-after-ms': '5' });
      }
      for (const p of o.rejectParams ?? [])
        if (p in body)
          return send(400, {
            error: {
              message: `Unsupported parameter: '${p}' is not supported with this model.`,
              type: 'invalid_request_error',
              param: p,
              code: 'unsupported_parameter',
            },
          });
      if (body.model !== model) return send(404, { error: { message: `model '${body.model}' not found` } });
      const system = body.messages.find((m) => m.role === 'system')?.content ?? '';
      const user = body.messages.find((m) => m.role === 'user')?.content ?? '';
      const promptTokens = Math.ceil((system.length + user.length) / 4);
      if (o.contextChars !== undefined && system.length + user.length > o.contextChars) {
        return send(400, {
          object: 'error',
          message: `This model's maximum context length is ${Math.ceil(o.contextChars / 4)} tokens. However, you requested ${promptTokens} tokens (${promptTokens} in the messages, 0 in the completion). Please reduce the length of the messages or completion.`,
          type: 'BadRequestError',
          param: null,
          code: 400,
        });
      }
      const judging = user.includes('Which response is better');
      let content: string;
      let lp: ReturnType<typeof logprobsOf> | null = null;
      if (judging) {
        const a = scriptedAnswer(system, user);
        content = a.content;
        lp = logprobsOf(content, a.verdict, a.letterAt);
      } else {
        content = generatorAnswer(user, body.temperature ?? 1, body.seed ?? 0);
      }
      // honour max_tokens: cut the answer after that many tokens
      const max = body.max_tokens ?? Infinity;
      const toks = tokens(content);
      const finish = toks.length > max ? 'length' : 'stop';
      if (toks.length > max) {
        content = toks.slice(0, max).join('');
        lp = lp?.slice(0, max) ?? null;
      }
      send(200, {
        object: 'chat.completion',
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content },
            logprobs: body.logprobs && !o.ignoreLogprobs && lp ? { content: lp } : null,
            finish_reason: finish,
          },
        ],
        usage: { prompt_tokens: promptTokens, completion_tokens: Math.min(toks.length, max), total_tokens: promptTokens + toks.length },
      });
    })().catch((e: Error) => {
      res.writeHead(500);
      res.end(e.message);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    server,
    url,
    log,
    chatRequests: () => log.filter((e) => e.path === '/v1/chat/completions').length,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
