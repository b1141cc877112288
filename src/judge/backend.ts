import type { ChatPrompt } from './render.js';

/**
 * One verdict of a judge model on one rendered prompt. `pA`, `pB` (and `pTie` with three-way
 * verdicts): the probabilities of the letters at the verdict position (from the full next-token
 * distribution or the top logprobs), or 1/0 from the parsed text, or all 0 when nothing could be read
 * (`none`), or when the prompt did not fit the model's context (`overflow`: the item is skipped).
 */
export interface Judgement {
  readonly pA: number;
  readonly pB: number;
  readonly pTie: number;
  /** The answer text (thinking included, as the model wrote it). */
  readonly text: string;
  readonly source: 'probabilities' | 'text' | 'none' | 'overflow';
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** A free-text completion (the generator model of LLM-driven variation). */
export interface Generation {
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** Settings of one generation: sampling at `temperature` (0: greedy) with `seed`. */
export interface GenerateOptions {
  readonly maxTokens: number;
  readonly temperature: number;
  readonly seed: number;
}

/** Counts paid requests: called before each one (retries included); throws when the budget is spent. */
export interface RequestMeter {
  spend(): void;
}

/** The prompt did not fit the model's context. */
export class ContextOverflowError extends Error {
  override readonly name = 'ContextOverflowError';
}

/** A judge model behind one interface: OpenAI-compatible HTTP or in-process GGUF. */
export interface JudgeBackend {
  /** Names the back end in messages and cache rows, e.g. `llama` or `http:http://127.0.0.1:8080/v1` (never with credentials). */
  readonly id: string;
  /** The model: a GGUF file's name or the server's model name. */
  readonly model: string;
  /** What a judgement depends on besides the prompt: back end, model identity (a content hash for GGUF) and every setting that changes it. */
  readonly judgeKey: string;
  /** The same for generations (the prompt and the GenerateOptions are keyed apart). */
  readonly generateKey: string;
  judge(prompt: ChatPrompt, meter?: RequestMeter): Promise<Judgement>;
  /** Throws ContextOverflowError when the prompt does not fit. */
  generate(prompt: ChatPrompt, o: GenerateOptions, meter?: RequestMeter): Promise<Generation>;
  close(): Promise<void>;
}

/** Probability that response A is preferred, from a judgement: pA / (pA + pB), 1/2 when neither is readable. */
export function preferA(j: Pick<Judgement, 'pA' | 'pB'>): number {
  const s = j.pA + j.pB;
  return s > 0 && Number.isFinite(s) ? j.pA / s : 0.5;
}

/** A counting semaphore: at most `n` tasks at once, started in arrival order. */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so `active` never exceeds n.
    if (this.active >= this.n) await new Promise<void>((r) => this.queue.push(r));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * A back end opened on first use: a run whose judgements all come from the cache never loads the
 * model or opens a connection (a resumed run starts in a moment). The keys are known before opening.
 */
export class LazyBackend implements JudgeBackend {
  private opened?: Promise<JudgeBackend>;
  constructor(
    readonly id: string,
    readonly model: string,
    readonly judgeKey: string,
    readonly generateKey: string,
    private readonly open: () => Promise<JudgeBackend>,
  ) {}
  private get(): Promise<JudgeBackend> {
    return (this.opened ??= this.open());
  }
  async judge(prompt: ChatPrompt, meter?: RequestMeter): Promise<Judgement> {
    return (await this.get()).judge(prompt, meter);
  }
  async generate(prompt: ChatPrompt, o: GenerateOptions, meter?: RequestMeter): Promise<Generation> {
    return (await this.get()).generate(prompt, o, meter);
  }
  async close(): Promise<void> {
    if (!this.opened) return;
    const b = await this.opened.catch(() => undefined);
    await b?.close();
  }
}
