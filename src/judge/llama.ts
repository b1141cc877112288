import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigError, optionError } from '../core/errors.js';
import { Limiter, answerLetter, type Generation, type JudgeBackend, type Judgement } from './backend.js';
import { completionText, type ChatPrompt } from './render.js';

export interface LlamaOptions {
  /** Path of a GGUF model file. */
  readonly modelPath: string;
  /** Context size in tokens. Default 4096 (or the model's training context, if smaller). */
  readonly contextSize?: number;
  /** CPU threads. Default 1 (gpmate runs on shared machines; raise it on your own). */
  readonly threads?: number;
}

// Only the parts of node-llama-cpp used here, typed locally so that the module stays optional.
type Token = number;
interface LlamaModelLike {
  readonly trainContextSize: number;
  readonly tokens: { readonly bos: Token | null };
  tokenize(text: string): Token[];
  detokenize(tokens: readonly Token[]): string;
  createContext(o: { contextSize: number; sequences: number; threads?: number }): Promise<LlamaContextLike>;
  dispose(): Promise<void>;
}
interface LlamaContextLike {
  getSequence(): LlamaSequenceLike;
  dispose(): Promise<void>;
}
type EvalItem = Token | [Token, { generateNext: { probabilities?: boolean; token?: boolean } }];
interface LlamaSequenceLike {
  clearHistory(): Promise<void>;
  controlledEvaluate(input: EvalItem[]): Promise<({ next: { token?: Token | null; probabilities?: Map<Token, number> } } | undefined)[]>;
}
interface LlamaLike {
  loadModel(o: { modelPath: string; gpuLayers: number }): Promise<LlamaModelLike>;
  dispose(): Promise<void>;
}

/**
 * Loads node-llama-cpp (an optional dependency) only when the in-process back end is used. The
 * prebuilt CPU binary is used as installed: never built from source, never downloaded, no GPU probe.
 */
async function loadLlama(threads: number): Promise<LlamaLike> {
  let mod: { getLlama(o: object): Promise<unknown>; LlamaLogLevel: Record<string, string> };
  try {
    mod = (await import('node-llama-cpp')) as unknown as typeof mod;
  } catch (e) {
    throw new ConfigError(
      `back end llama: node-llama-cpp is not installed (optional dependency; npm install node-llama-cpp@3.21.1): ${(e as Error).message.split('\n')[0]}`,
    );
  }
  try {
    return (await mod.getLlama({
      gpu: false,
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

// The llama.cpp runtime is loaded once per process and thread count (loading it costs seconds) and
// shared by every back end opened on it; the last one closed disposes of it.
const runtimes = new Map<number, { llama: Promise<LlamaLike>; refs: number }>();

async function acquireLlama(threads: number): Promise<LlamaLike> {
  let r = runtimes.get(threads);
  if (!r) {
    r = { llama: loadLlama(threads), refs: 0 };
    runtimes.set(threads, r);
  }
  r.refs++;
  try {
    return await r.llama;
  } catch (e) {
    runtimes.delete(threads);
    throw e;
  }
}

async function releaseLlama(threads: number): Promise<void> {
  const r = runtimes.get(threads);
  if (!r || --r.refs > 0) return;
  runtimes.delete(threads);
  await (await r.llama).dispose();
}

function commonPrefix(a: readonly Token[], b: readonly Token[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * In-process GGUF back end (node-llama-cpp 3.21.1 over llama.cpp). The judge prompt is rendered as
 * plain completion text ending in "Answer:"; the verdict is read from the full next-token distribution.
 * The answer tokens depend on the prompt's last characters (tokenisers merge a leading space), so they
 * are resolved per prompt: tokenize prompt + " A" and prompt + " B", keep the common prefix as the
 * context, and read the probabilities of the first differing tokens.
 */
export class LlamaBackend implements JudgeBackend {
  readonly id = 'llama';
  readonly model: string;
  private readonly queue = new Limiter(1);

  private constructor(
    private readonly threads: number,
    private readonly m: LlamaModelLike,
    private readonly ctx: LlamaContextLike,
    private readonly seq: LlamaSequenceLike,
    private readonly contextSize: number,
    modelPath: string,
  ) {
    this.model = basename(modelPath);
  }

  static async open(o: LlamaOptions): Promise<LlamaBackend> {
    if (!existsSync(o.modelPath)) throw optionError('model', `GGUF file ${o.modelPath} not found`);
    const threads = o.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) throw optionError('threads', `expected an integer >= 1, got ${threads}`);
    if (o.contextSize !== undefined && (!Number.isInteger(o.contextSize) || o.contextSize < 64))
      throw optionError('contextSize', `expected an integer >= 64, got ${o.contextSize}`);
    const llama = await acquireLlama(threads);
    let model: LlamaModelLike;
    try {
      model = await llama.loadModel({ modelPath: o.modelPath, gpuLayers: 0 });
    } catch (e) {
      await releaseLlama(threads);
      throw optionError('model', `cannot load ${o.modelPath} (${(e as Error).message.split('\n')[0]})`);
    }
    const contextSize = Math.min(o.contextSize ?? 4096, model.trainContextSize);
    const ctx = await model.createContext({ contextSize, sequences: 1, threads });
    return new LlamaBackend(threads, model, ctx, ctx.getSequence(), contextSize, o.modelPath);
  }

  private tokens(text: string): Token[] {
    const t = this.m.tokenize(text);
    const bos = this.m.tokens.bos;
    return bos !== null && t[0] !== bos ? [bos, ...t] : t;
  }

  private letters?: { A: Token[]; B: Token[] };
  /** The vocabulary's tokens that read as the letter A or B (found once, from a full distribution's keys). */
  private letterTokens(probs: Map<Token, number>): { A: Token[]; B: Token[] } {
    if (!this.letters) {
      const l = { A: [] as Token[], B: [] as Token[] };
      for (const t of probs.keys()) {
        const letter = answerLetter(this.m.detokenize([t]));
        if (letter) l[letter].push(t);
      }
      this.letters = l;
    }
    return this.letters;
  }

  private check(n: number): void {
    if (n >= this.contextSize)
      throw new ConfigError(
        `back end llama: prompt of ${n} tokens exceeds the context size ${this.contextSize} (lower maxChars or raise contextSize)`,
      );
  }

  judge(prompt: ChatPrompt): Promise<Judgement> {
    return this.queue.run(async () => {
      const text = completionText(prompt);
      const withA = this.tokens(`${text} A`);
      const withB = this.tokens(`${text} B`);
      const plain = this.tokens(text);
      const n = Math.min(commonPrefix(withA, withB), commonPrefix(withA, plain));
      const tA = withA[n];
      const tB = withB[n];
      if (tA === undefined || tB === undefined || tA === tB)
        throw new Error('back end llama: cannot resolve the answer tokens of "A" and "B"');
      const context = withA.slice(0, n);
      this.check(context.length + 1);
      await this.seq.clearHistory();
      const input: EvalItem[] = context.map((t, i) => (i === context.length - 1 ? [t, { generateNext: { probabilities: true } }] : t));
      const out = await this.seq.controlledEvaluate(input);
      const probs = out[out.length - 1]?.next.probabilities;
      if (!probs) throw new Error('back end llama: no next-token probabilities returned');
      const top = probs.keys().next().value as Token;
      // When the context is the whole prompt, every spelling of the letter (" A", "A", ...) is the same
      // answer, as the HTTP back end counts it from top_logprobs; otherwise only the resolved token fits.
      const letters = n === plain.length ? this.letterTokens(probs) : { A: [tA], B: [tB] };
      const sum = (ts: readonly Token[], must: Token) => [...new Set([...ts, must])].reduce((acc, t) => acc + (probs.get(t) ?? 0), 0);
      return {
        pA: sum(letters.A, tA),
        pB: sum(letters.B, tB),
        text: this.m.detokenize([top]),
        source: 'probabilities',
        promptTokens: context.length,
        completionTokens: 0,
      };
    });
  }

  /** Greedy completion up to `maxTokens` tokens or the first newline after some text. */
  generate(prompt: ChatPrompt, maxTokens: number): Promise<Generation> {
    return this.queue.run(async () => {
      const context = this.tokens(`${prompt.system ? `${prompt.system}\n\n` : ''}${prompt.user}`);
      this.check(context.length + maxTokens);
      await this.seq.clearHistory();
      const produced: Token[] = [];
      let input: EvalItem[] = context.map((t, i) => (i === context.length - 1 ? [t, { generateNext: { probabilities: true } }] : t));
      for (let k = 0; k < maxTokens; k++) {
        const out = await this.seq.controlledEvaluate(input);
        const probs = out[out.length - 1]?.next.probabilities;
        if (!probs || probs.size === 0) break;
        const next = probs.keys().next().value as Token; // greedy: the map is sorted by probability
        produced.push(next);
        const text = this.m.detokenize(produced);
        if (text.includes('\n') && text.trim() !== '') break;
        input = [[next, { generateNext: { probabilities: true } }]];
      }
      return { text: this.m.detokenize(produced), promptTokens: context.length, completionTokens: produced.length };
    });
  }

  /**
   * The `k` most likely first answer tokens after the completion text, as [token text, log probability],
   * plus the prompt's token count: what an OpenAI-compatible server reports as top_logprobs.
   */
  topTokens(prompt: ChatPrompt, k: number): Promise<{ top: [string, number][]; promptTokens: number }> {
    return this.queue.run(async () => {
      const context = this.tokens(completionText(prompt));
      this.check(context.length + 1);
      await this.seq.clearHistory();
      const input: EvalItem[] = context.map((t, i) => (i === context.length - 1 ? [t, { generateNext: { probabilities: true } }] : t));
      const out = await this.seq.controlledEvaluate(input);
      const probs = out[out.length - 1]?.next.probabilities ?? new Map<Token, number>();
      const top: [string, number][] = [];
      for (const [t, p] of probs) {
        if (top.length >= k) break;
        top.push([this.m.detokenize([t]), Math.log(p)]);
      }
      return { top, promptTokens: context.length };
    });
  }

  private closed = false;
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ctx.dispose();
    await this.m.dispose();
    await releaseLlama(this.threads);
  }
}
