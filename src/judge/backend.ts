import type { ChatPrompt } from './render.js';

/**
 * One verdict of a judge model on one rendered prompt. `pA`, `pB`: the probabilities of "A" and "B"
 * as the first answer token (from the full next-token distribution or the top logprobs), or 1/0 from
 * the parsed text answer when the back end gives no probabilities, or 0/0 when nothing could be read.
 */
export interface Judgement {
  readonly pA: number;
  readonly pB: number;
  /** The answer text (the most likely token, or the completion). */
  readonly text: string;
  readonly source: 'probabilities' | 'text' | 'none';
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** A free-text completion (the generator model of LLM-driven variation). */
export interface Generation {
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** A judge model behind one interface: OpenAI-compatible HTTP or in-process GGUF. */
export interface JudgeBackend {
  /** Identifies the back end in cache keys, e.g. `llama` or `http:http://127.0.0.1:8080/v1`. */
  readonly id: string;
  /** The model: a GGUF file's name or the server's model name. */
  readonly model: string;
  judge(prompt: ChatPrompt): Promise<Judgement>;
  generate(prompt: ChatPrompt, maxTokens: number): Promise<Generation>;
  close(): Promise<void>;
}

/** Probability that response A is preferred, from a judgement: pA / (pA + pB), 1/2 when neither is readable. */
export function preferA(j: Pick<Judgement, 'pA' | 'pB'>): number {
  const s = j.pA + j.pB;
  return s > 0 && Number.isFinite(s) ? j.pA / s : 0.5;
}

/** The verdict letter of a completion text: the first standalone A or B (also "(A)", "A." or "Response A"). */
export function parseVerdict(text: string): 'A' | 'B' | undefined {
  const m = /(?:^|[^A-Za-z])([AB])(?![A-Za-z])/.exec(text);
  return m ? (m[1] as 'A' | 'B') : undefined;
}

/** Is this token text the answer letter? (" A", "A", "(A" ... count; "An", "a" do not). */
export function answerLetter(token: string): 'A' | 'B' | undefined {
  const t = token.replace(/^[\s▁Ġ(\[*"']+|[\s)\].:*"']+$/g, '');
  return t === 'A' || t === 'B' ? t : undefined;
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
 * model or opens a connection (a resumed run starts in a moment).
 */
export class LazyBackend implements JudgeBackend {
  private opened?: Promise<JudgeBackend>;
  constructor(
    readonly id: string,
    readonly model: string,
    private readonly open: () => Promise<JudgeBackend>,
  ) {}
  private get(): Promise<JudgeBackend> {
    return (this.opened ??= this.open());
  }
  async judge(prompt: ChatPrompt): Promise<Judgement> {
    return (await this.get()).judge(prompt);
  }
  async generate(prompt: ChatPrompt, maxTokens: number): Promise<Generation> {
    return (await this.get()).generate(prompt, maxTokens);
  }
  async close(): Promise<void> {
    if (!this.opened) return;
    const b = await this.opened.catch(() => undefined);
    await b?.close();
  }
}
