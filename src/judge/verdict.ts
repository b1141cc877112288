import type { Judgement } from './backend.js';

/**
 * How the judge is asked and how its answer is read.
 *
 * - `direct`: the judge answers with the letter at once ("A" or "B"; "C" for a tie with `ties`).
 * - `reasoned`: the judge may reason first (up to `maxTokens`) and ends with a verdict line
 *   `Verdict: A` (or `Verdict: B`, `Verdict: C` for a tie). Markdown around it is allowed
 *   (`**Verdict: B**`, `**Verdict:** B`), as is MT-Bench's `[[B]]`; the last such line counts.
 *
 * Thinking blocks (`<think>…</think>`, `<thinking>`, `<reasoning>`, an unclosed `<think>` cut by the
 * token limit, or a lone `</think>` when the chat template opened the block) are masked out before
 * the answer is parsed.
 */
export type Protocol = 'direct' | 'reasoned';
export const PROTOCOLS = ['direct', 'reasoned'] as const satisfies readonly Protocol[];

export type Letter = 'A' | 'B' | 'C';

/**
 * The letter-mass threshold: at the verdict letter's position, A and B (and C with ties) together
 * must carry at least this share of the next-token probability for the probabilities to be used.
 * Below it the model was not choosing between the letters there (a stray "A" beside "**" or
 * "Response"), so the parsed text decides (probability 1 for its letter), and without a parsed
 * letter the answer is unreadable. 0.5: the letters are then the model's majority choice at that
 * position, whatever the rest of the vocabulary does.
 */
export const DEFAULT_MIN_LETTER_MASS = 0.5;

export interface VerdictOptions {
  readonly protocol: Protocol;
  /** Three-way verdicts: C (or "tie") is a tie. */
  readonly ties: boolean;
  readonly minLetterMass: number;
}

const THINK_BLOCKS = [
  /<think>[\s\S]*?(?:<\/think>|$)/gi,
  /<thinking>[\s\S]*?(?:<\/thinking>|$)/gi,
  /<reasoning>[\s\S]*?(?:<\/reasoning>|$)/gi,
  /<\|channel\|>analysis<\|message\|>[\s\S]*?(?:<\|end\|>|$)/g,
];

/** The text with every thinking block replaced by spaces (same length, so offsets stay valid). */
export function maskThinking(text: string): string {
  let t = text;
  // A template that opens the block itself leaves only its end in the answer: all before it is thought.
  const close = /<\/think>/i.exec(t);
  if (close && !/<think>/i.test(t.slice(0, close.index)))
    t = ' '.repeat(close.index + close[0].length) + t.slice(close.index + close[0].length);
  for (const re of THINK_BLOCKS) t = t.replace(re, (m) => ' '.repeat(m.length));
  return t;
}

/** The text without its thinking blocks, trimmed. */
export function stripThinking(text: string): string {
  return maskThinking(text)
    .replace(/\s+/g, (s) => (s.includes('\n') ? '\n' : ' '))
    .trim();
}

/** Is this token text the answer letter? (" A", "A", "(A", "**A" ... count; "An", "a" do not). */
export function answerLetter(token: string, ties = false): Letter | undefined {
  const t = token.replace(/^[\s▁Ġ(\[*"']+|[\s)\].:*"']+$/g, '');
  return t === 'A' || t === 'B' || (ties && t === 'C') ? t : undefined;
}

function letterOf(s: string, ties: boolean): Letter | undefined {
  const u = s.toUpperCase();
  if (u === 'A' || u === 'B') return u;
  if (ties && (u === 'C' || u === 'TIE')) return 'C';
  return undefined;
}

/**
 * The verdict of an answer and the offset of its letter in the answer (thinking masked out), or
 * undefined when the answer is unreadable: no verdict, or (direct) two different letters.
 */
export function parseVerdict(text: string, o: Pick<VerdictOptions, 'protocol' | 'ties'>): { letter: Letter; index: number } | undefined {
  const t = maskThinking(text);
  let found: { letter: Letter; index: number } | undefined;
  const line = /verdict\s*\**\s*[:：]\s*\**\s*[[(]*\s*(tie|[ABC])(?![A-Za-z0-9])/gi;
  for (let m = line.exec(t); m; m = line.exec(t)) {
    const letter = letterOf(m[1] as string, o.ties);
    if (letter) found = { letter, index: m.index + m[0].length - (m[1] as string).length };
  }
  const brackets = /\[\[(tie|[ABC])\]\]/gi;
  for (let m = brackets.exec(t); m; m = brackets.exec(t)) {
    const letter = letterOf(m[1] as string, o.ties);
    if (letter && (!found || m.index > found.index)) found = { letter, index: m.index + 2 };
  }
  if (found) return found;
  if (o.protocol === 'reasoned') {
    // a last line that is only the letter ("B", "**B**") also counts
    const lines = t.trimEnd().split('\n');
    const last = lines[lines.length - 1] ?? '';
    const m = /^[\s*_"'([]*(tie|[ABC])[\s*_"'.)\]]*$/i.exec(last);
    const letter = m ? letterOf(m[1] as string, o.ties) : undefined;
    return letter ? { letter, index: t.trimEnd().length - last.length + last.search(/[A-Za-z]/) } : undefined;
  }
  // direct: the one letter standing alone (twice the same letter is fine, two different ones are not)
  const alone = o.ties ? /(?<![A-Za-z0-9])([ABC]|[Tt]ie)(?![A-Za-z0-9])/g : /(?<![A-Za-z0-9])([AB])(?![A-Za-z0-9])/g;
  let first: { letter: Letter; index: number } | undefined;
  for (let m = alone.exec(t); m; m = alone.exec(t)) {
    const letter = letterOf(m[1] as string, o.ties) as Letter;
    if (!first) first = { letter, index: m.index };
    else if (first.letter !== letter) return undefined;
  }
  return first;
}

/** One generated token: where its text lies in the answer, and the letters' probabilities at its position. */
export interface TokenStep {
  readonly start: number;
  readonly end: number;
  letters(): { readonly A: number; readonly B: number; readonly C: number };
}

/**
 * The judgement of an answer. The distribution is read at the token that produced the verdict
 * letter (for `direct` without a parsed letter: at the first answer token); it is used when the
 * letters carry at least `minLetterMass` there, else the parsed text decides, else the answer is
 * unreadable (source `none`, probabilities 0).
 */
export function readVerdict(
  text: string,
  steps: readonly TokenStep[] | undefined,
  o: VerdictOptions,
  usage: { promptTokens: number; completionTokens: number },
): Judgement {
  const parsed = parseVerdict(text, o);
  let step: TokenStep | undefined;
  if (steps && steps.length) {
    if (parsed) step = steps.find((s) => s.start <= parsed.index && parsed.index < s.end);
    else if (o.protocol === 'direct') {
      const masked = maskThinking(text);
      step = steps.find((s) => masked.slice(s.start, s.end).trim() !== '') ?? steps[0];
    }
  }
  if (step) {
    const m = step.letters();
    const pTie = o.ties ? m.C : 0;
    const mass = m.A + m.B + pTie;
    if (mass > 0 && mass >= o.minLetterMass) return { pA: m.A, pB: m.B, pTie, text, source: 'probabilities', ...usage };
  }
  if (parsed) {
    const one = (l: Letter) => (parsed.letter === l ? 1 : 0);
    return { pA: one('A'), pB: one('B'), pTie: one('C'), text, source: 'text', ...usage };
  }
  return { pA: 0, pB: 0, pTie: 0, text, source: 'none', ...usage };
}
