import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
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
import { answerLetter, readVerdict, type Letter, type TokenStep } from './verdict.js';

export interface LlamaOptions {
  /** Path of a GGUF model file. */
  readonly modelPath: string;
  /** Context size in tokens. Default 4096 (or the model's training context, if smaller). */
  readonly contextSize?: number;
  /** CPU threads. Default 1 (gpmate runs on shared machines; raise it on your own). */
  readonly threads?: number;
  /** Layers offloaded to a GPU (0: CPU only, the default; then no GPU is probed). */
  readonly gpuLayers?: number;
  /** How the judge is asked and read. */
  readonly judge?: Partial<ReadingSettings>;
  /** Reuse the evaluated prefix shared with the previous prompt (same results either way). Default true. */
  readonly reusePrefix?: boolean;
}

// Only the parts of node-llama-cpp used here, typed locally so that the module stays optional.
type Token = number;
interface LlamaTextLike {
  tokenize(tokenizer: unknown): Token[];
}
interface ChatWrapperLike {
  readonly wrapperName: string;
  generateContextState(o: { chatHistory: object[] }): { contextText: LlamaTextLike };
}
interface LlamaModelLike {
  readonly trainContextSize: number;
  readonly tokenizer: unknown;
  tokenize(text: string): Token[];
  detokenize(tokens: readonly Token[]): string;
  isEogToken(token: Token): boolean;
  createContext(o: { contextSize: number; sequences: number; threads?: number }): Promise<LlamaContextLike>;
  dispose(): Promise<void>;
}
interface LlamaContextLike {
  getSequence(): LlamaSequenceLike;
  dispose(): Promise<void>;
}
type EvalItem = Token | [Token, { generateNext: { probabilities?: boolean } }];
interface LlamaSequenceLike {
  readonly nextTokenIndex: number;
  clearHistory(): Promise<void>;
  eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void>;
  controlledEvaluate(input: EvalItem[]): Promise<({ next: { probabilities?: Map<Token, number> } } | undefined)[]>;
}
interface LlamaLike {
  loadModel(o: { modelPath: string; gpuLayers: number }): Promise<LlamaModelLike>;
  dispose(): Promise<void>;
}
interface LlamaModule {
  getLlama(o: object): Promise<unknown>;
  resolveChatWrapper(model: unknown): ChatWrapperLike;
  LlamaLogLevel: Record<string, string>;
}

let moduleP: Promise<LlamaModule> | undefined;
async function llamaModule(): Promise<LlamaModule> {
  try {
    return await (moduleP ??= import('node-llama-cpp') as unknown as Promise<LlamaModule>);
  } catch (e) {
    moduleP = undefined;
    throw new ConfigError(
      `back end llama: node-llama-cpp is not installed (optional dependency; npm install node-llama-cpp@3.21.1): ${(e as Error).message.split('\n')[0]}`,
    );
  }
}

/**
 * Loads the llama.cpp runtime: the prebuilt binary as installed, never built from source or
 * downloaded; a GPU is probed only when layers are to be offloaded.
 */
async function loadLlama(threads: number, gpu: boolean): Promise<LlamaLike> {
  const mod = await llamaModule();
  try {
    return (await mod.getLlama({
      gpu: gpu ? 'auto' : false,
      build: 'never',
      skipDownload: true,
      usePrebuiltBinaries: true,
      progressLogs: false,
      logLevel: mod.LlamaLogLevel.error,
      maxThreads: threads,
    })) as LlamaLike;
  } catch (e) {
    throw new ConfigError(`back end llama: no usable llama.cpp binary (${(e as Error).message.split('\n')[0]})`);
  }
}

// The llama.cpp runtime is loaded once per process, thread count and GPU use (loading it costs
// seconds) and shared by every back end opened on it; the last one closed disposes of it.
const runtimes = new Map<string, { llama: Promise<LlamaLike>; refs: number }>();

async function acquireLlama(threads: number, gpu: boolean): Promise<LlamaLike> {
  const key = `${threads}:${gpu}`;
  let r = runtimes.get(key);
  if (!r) {
    r = { llama: loadLlama(threads, gpu), refs: 0 };
    runtimes.set(key, r);
  }
  r.refs++;
  try {
    return await r.llama;
  } catch (e) {
    runtimes.delete(key);
    throw e;
  }
}

async function releaseLlama(threads: number, gpu: boolean): Promise<void> {
  const key = `${threads}:${gpu}`;
  const r = runtimes.get(key);
  if (!r || --r.refs > 0) return;
  runtimes.delete(key);
  await (await r.llama).dispose();
}

const hashes = new Map<string, { size: number; mtimeMs: number; sha: string }>();
/** SHA-256 of a model file (read once per process and file version): the model's identity in cache keys. */
export function modelHash(path: string): string {
  const st = statSync(path);
  const known = hashes.get(path);
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known.sha;
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  const sha = h.digest('hex');
  hashes.set(path, { size: st.size, mtimeMs: st.mtimeMs, sha });
  return sha;
}

/**
 * Refuses a model path that is not a readable GGUF file (a folder, another file) by its first 4 bytes, the magic
 * "GGUF": the model itself is loaded only at the first judgement, after the cache and the output folder exist.
 */
function checkGgufHeader(path: string): void {
  const magic = Buffer.alloc(4);
  let fd: number | undefined;
  try {
    if (!statSync(path).isFile()) throw optionError('model', `cannot load ${path} (not a file)`);
    fd = openSync(path, 'r');
    readSync(fd, magic, 0, 4, 0);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw optionError('model', `cannot load ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (magic.toString('latin1') !== 'GGUF')
    throw optionError('model', `cannot load ${path} (not a GGUF file: it does not start with "GGUF")`);
}

/**
 * The id, model name and cache keys of an in-process back end, known without loading the model: the
 * model is keyed by its content hash, with the judge settings, the context size and the GPU offload
 * (which may change the numbers); the thread count is left out (it does not change results).
 */
export function llamaKeys(o: LlamaOptions): { id: string; model: string; judgeKey: string; generateKey: string } {
  if (!existsSync(o.modelPath)) throw optionError('model', `GGUF file ${o.modelPath} not found`);
  checkGgufHeader(o.modelPath);
  const sha = modelHash(o.modelPath);
  const settings = resolveReading(o.judge);
  const base = ['llama', sha, o.contextSize ?? 4096, o.gpuLayers ?? 0];
  return {
    id: 'llama',
    model: basename(o.modelPath),
    judgeKey: JSON.stringify([...base, readingKey(settings)]),
    generateKey: JSON.stringify(base),
  };
}

function commonPrefix(a: readonly Token[], b: readonly Token[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * Prompts are evaluated in chunks that start at multiples of this many positions, so that a prompt
 * whose first k·CHUNK tokens are already in the context (from the previous prompt) runs exactly the
 * same batches as on an empty context: reusing the shared prefix leaves every number unchanged.
 */
export const PREFIX_CHUNK = 64;

/**
 * In-process GGUF back end (node-llama-cpp 3.21.1 over llama.cpp). The prompt is rendered with the
 * model's own chat template (node-llama-cpp's chat wrapper resolved from the GGUF metadata: Llama 3,
 * ChatML, Gemma, Mistral ..., or its general wrapper), ending where the assistant's answer starts.
 * The answer is decoded greedily with the full next-token distribution at every step, and read as
 * the HTTP back end reads top_logprobs (readVerdict): direct judgements stop at once when the letters
 * carry the threshold mass at the first answer token. Consecutive judgements share the evaluated
 * prefix of their prompts (the system message and few-shot examples of one prompt) in PREFIX_CHUNK
 * steps, which gives the same probabilities as a fresh evaluation.
 */
export class LlamaBackend implements JudgeBackend {
  readonly id: string;
  readonly model: string;
  readonly judgeKey: string;
  readonly generateKey: string;
  private readonly queue = new Limiter(1);
  /** The prompt tokens whose evaluation the sequence holds (generated tokens after them are erased on reuse). */
  private evaluated: Token[] = [];
  private letters?: Record<Letter, Token[]>;
  /** Prompt tokens evaluated so far (those reused from the previous prompt not counted): the work prefix reuse saves. */
  evaluatedPromptTokens = 0;

  private constructor(
    private readonly threads: number,
    private readonly gpu: boolean,
    private readonly m: LlamaModelLike,
    private readonly ctx: LlamaContextLike,
    private readonly seq: LlamaSequenceLike,
    private readonly wrapper: ChatWrapperLike,
    private readonly contextSize: number,
    private readonly settings: ReadingSettings,
    private readonly reuse: boolean,
    keys: ReturnType<typeof llamaKeys>,
  ) {
    this.id = keys.id;
    this.model = keys.model;
    this.judgeKey = keys.judgeKey;
    this.generateKey = keys.generateKey;
  }

  static async open(o: LlamaOptions): Promise<LlamaBackend> {
    const keys = llamaKeys(o);
    const threads = o.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) throw optionError('threads', `expected an integer >= 1, got ${threads}`);
    const gpuLayers = o.gpuLayers ?? 0;
    if (!Number.isInteger(gpuLayers) || gpuLayers < 0) throw optionError('gpuLayers', `expected an integer >= 0, got ${gpuLayers}`);
    if (o.contextSize !== undefined && (!Number.isInteger(o.contextSize) || o.contextSize < 64))
      throw optionError('contextSize', `expected an integer >= 64, got ${o.contextSize}`);
    const gpu = gpuLayers > 0;
    const llama = await acquireLlama(threads, gpu);
    let model: LlamaModelLike;
    try {
      model = await llama.loadModel({ modelPath: o.modelPath, gpuLayers });
    } catch (e) {
      await releaseLlama(threads, gpu);
      throw optionError('model', `cannot load ${o.modelPath} (${(e as Error).message.split('\n')[0]})`);
    }
    const contextSize = Math.min(o.contextSize ?? 4096, model.trainContextSize);
    const ctx = await model.createContext({ contextSize, sequences: 1, threads });
    const wrapper = (await llamaModule()).resolveChatWrapper(model);
    const settings = resolveReading(o.judge);
    return new LlamaBackend(threads, gpu, model, ctx, ctx.getSequence(), wrapper, contextSize, settings, o.reusePrefix ?? true, keys);
  }

  /** The chat template's name (e.g. "General", "Llama 3.1", "ChatML"). */
  get chatTemplate(): string {
    return this.wrapper.wrapperName;
  }

  /** The prompt as the model's chat template renders it, up to the start of the assistant's answer. */
  private render(prompt: ChatPrompt): Token[] {
    const history = [
      ...(prompt.system ? [{ type: 'system', text: prompt.system }] : []),
      { type: 'user', text: prompt.user },
      { type: 'model', response: [] },
    ];
    return this.wrapper.generateContextState({ chatHistory: history }).contextText.tokenize(this.m.tokenizer);
  }

  /** Evaluates a prompt, reusing the chunk-aligned prefix it shares with the previous one; the next-token distribution. */
  private async prime(tokens: Token[]): Promise<Map<Token, number>> {
    let keep = this.reuse ? Math.min(commonPrefix(this.evaluated, tokens), tokens.length - 1) : 0;
    keep -= keep % PREFIX_CHUNK;
    if (keep === 0) await this.seq.clearHistory();
    else await this.seq.eraseContextTokenRanges([{ start: keep, end: this.seq.nextTokenIndex }]);
    this.evaluated = tokens.slice(0, keep);
    let probs: Map<Token, number> | undefined;
    for (let s = keep; s < tokens.length;) {
      const e = Math.min(tokens.length, (Math.floor(s / PREFIX_CHUNK) + 1) * PREFIX_CHUNK);
      const chunk: EvalItem[] = tokens
        .slice(s, e)
        .map((t, i) => (s + i === tokens.length - 1 ? [t, { generateNext: { probabilities: true } }] : t));
      const out = await this.seq.controlledEvaluate(chunk);
      this.evaluatedPromptTokens += chunk.length;
      probs = out[out.length - 1]?.next.probabilities;
      this.evaluated = tokens.slice(0, e);
      s = e;
    }
    if (!probs) throw new Error('back end llama: no next-token probabilities returned');
    return probs;
  }

  private async step(token: Token): Promise<Map<Token, number> | undefined> {
    const out = await this.seq.controlledEvaluate([[token, { generateNext: { probabilities: true } }]]);
    return out[0]?.next.probabilities;
  }

  /** The vocabulary's tokens that read as A, B or C (found once, from a full distribution's keys). */
  private letterTokens(probs: Map<Token, number>): Record<Letter, Token[]> {
    if (!this.letters) {
      const l: Record<Letter, Token[]> = { A: [], B: [], C: [] };
      for (const t of probs.keys()) {
        const letter = answerLetter(this.m.detokenize([t]), true);
        if (letter) l[letter].push(t);
      }
      this.letters = l;
    }
    return this.letters;
  }

  private letterMass(probs: Map<Token, number>): { A: number; B: number; C: number } {
    const l = this.letterTokens(probs);
    const sum = (ts: readonly Token[]) => ts.reduce((acc, t) => acc + (probs.get(t) ?? 0), 0);
    return { A: sum(l.A), B: sum(l.B), C: sum(l.C) };
  }

  judge(prompt: ChatPrompt, meter?: RequestMeter): Promise<Judgement> {
    return this.queue.run(async () => {
      const s = this.settings;
      const tokens = this.render(prompt);
      if (tokens.length >= this.contextSize) {
        const text = `back end llama: prompt of ${tokens.length} tokens exceeds the context size ${this.contextSize}`;
        return { pA: 0, pB: 0, pTie: 0, text, source: 'overflow', promptTokens: 0, completionTokens: 0 };
      }
      meter?.spend();
      let probs: Map<Token, number> | undefined = await this.prime(tokens);
      const steps: TokenStep[] = [];
      const produced: Token[] = [];
      let text = '';
      for (let k = 0; k < s.maxTokens && probs && probs.size; k++) {
        const mass = this.letterMass(probs);
        const next = probs.keys().next().value as Token; // greedy: the map is sorted by probability
        if (this.m.isEogToken(next)) break;
        produced.push(next);
        const before = text.length;
        text = this.m.detokenize(produced);
        steps.push({ start: before, end: Math.max(before + 1, text.length), letters: () => mass });
        const massHere = mass.A + mass.B + (s.ties ? mass.C : 0);
        if (k === 0 && s.protocol === 'direct' && massHere > 0 && massHere >= s.minLetterMass) break;
        if (k + 1 >= s.maxTokens || tokens.length + produced.length >= this.contextSize) break;
        probs = await this.step(next);
      }
      return readVerdict(text, steps, s, { promptTokens: tokens.length, completionTokens: produced.length });
    });
  }

  /** Sampling at `temperature` with a generator seeded by `seed` (greedy at 0), up to `maxTokens` or the end of turn. */
  generate(prompt: ChatPrompt, o: GenerateOptions, meter?: RequestMeter): Promise<Generation> {
    return this.queue.run(async () => {
      const tokens = this.render(prompt);
      if (tokens.length + 1 >= this.contextSize)
        throw new ContextOverflowError(`back end llama: prompt of ${tokens.length} tokens exceeds the context size ${this.contextSize}`);
      meter?.spend();
      const rng = new Rng(`generate:${o.seed}`);
      let probs: Map<Token, number> | undefined = await this.prime(tokens);
      const produced: Token[] = [];
      for (let k = 0; k < o.maxTokens && probs && probs.size; k++) {
        const next = o.temperature > 0 ? sample(probs, o.temperature, rng) : (probs.keys().next().value as Token);
        if (this.m.isEogToken(next)) break;
        produced.push(next);
        if (k + 1 >= o.maxTokens || tokens.length + produced.length >= this.contextSize) break;
        probs = await this.step(next);
      }
      return { text: this.m.detokenize(produced), promptTokens: tokens.length, completionTokens: produced.length };
    });
  }

  /**
   * The `k` most likely first answer tokens after the chat-templated prompt, as [token text, log
   * probability], plus the prompt's token count: what an OpenAI-compatible server reports as top_logprobs.
   */
  topTokens(prompt: ChatPrompt, k: number): Promise<{ top: [string, number][]; promptTokens: number }> {
    return this.queue.run(async () => {
      const tokens = this.render(prompt);
      const probs = await this.prime(tokens);
      const top: [string, number][] = [];
      for (const [t, p] of probs) {
        if (top.length >= k) break;
        top.push([this.m.detokenize([t]), Math.log(p)]);
      }
      return { top, promptTokens: tokens.length };
    });
  }

  private closed = false;
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ctx.dispose();
    await this.m.dispose();
    await releaseLlama(this.threads, this.gpu);
  }
}

/** One token drawn from probs^(1/T), renormalised (the map's order is fixed, so the draw is seeded). */
function sample(probs: Map<Token, number>, temperature: number, rng: Rng): Token {
  let total = 0;
  const w: [Token, number][] = [];
  for (const [t, p] of probs) {
    const x = p ** (1 / temperature);
    if (x > 0) {
      w.push([t, x]);
      total += x;
    }
  }
  let u = rng.next() * total;
  for (const [t, x] of w) {
    u -= x;
    if (u <= 0) return t;
  }
  return (w[w.length - 1] ?? [probs.keys().next().value as Token])[0];
}
