import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LlamaBackend } from '../src/judge/llama.js';
import { SHARED } from './helpers.js';

export const JUDGE_SHARED = SHARED;
export const TINY_MODEL = join(JUDGE_SHARED, 'models', 'llama-2-tiny-random.gguf');
export const LLMBAR = join(JUDGE_SHARED, 'data', 'judge', 'llmbar', 'natural.json');
export const PANDALM = join(JUDGE_SHARED, 'data', 'judge', 'pandalm', 'testset-v1.json');

export const tmp = (): string => mkdtempSync(join(tmpdir(), 'gpmate-judge-'));

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((e: Error) => {
      res.writeHead(500);
      res.end(e.message);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` };
}

export function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

/**
 * A loopback OpenAI-compatible server (GET /v1/models, POST /v1/chat/completions) answering from a real
 * GGUF model: the first completion token is the most likely one, top_logprobs come from the model's
 * full next-token distribution, usage counts the prompt's tokens.
 */
export async function modelServer(
  llama: LlamaBackend,
  model: string,
): Promise<{ server: Server; url: string; requests: { auth?: string }[] }> {
  const requests: { auth?: string }[] = [];
  const s = await listen(async (req, res) => {
    requests.push(req.headers.authorization ? { auth: req.headers.authorization } : {});
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/v1/models') return json(200, { object: 'list', data: [{ id: model, object: 'model' }] });
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return json(404, { error: { message: `no route ${req.url}` } });
    const body = JSON.parse(await readBody(req)) as {
      model: string;
      messages: { role: string; content: string }[];
      logprobs?: boolean;
      top_logprobs?: number;
    };
    if (body.model !== model) return json(404, { error: { message: `model '${body.model}' not found` } });
    const system = body.messages.find((m) => m.role === 'system')?.content ?? '';
    const user = body.messages.find((m) => m.role === 'user')?.content ?? '';
    const { top, promptTokens } = await llama.topTokens({ system, user }, Math.max(1, body.top_logprobs ?? 1));
    const [token, logprob] = top[0] as [string, number];
    json(200, {
      object: 'chat.completion',
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: token },
          logprobs: body.logprobs ? { content: [{ token, logprob, top_logprobs: top.map(([t, l]) => ({ token: t, logprob: l })) }] } : null,
          finish_reason: 'length',
        },
      ],
      usage: { prompt_tokens: promptTokens, completion_tokens: 1, total_tokens: promptTokens + 1 },
    });
  });
  return { ...s, requests };
}
