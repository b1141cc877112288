import { ConfigError } from '../core/errors.js';
import { contentKey, type JudgeItem } from './data.js';
import type { PromptGenome } from './genome.js';
import type { Protocol } from './verdict.js';

/** A chat prompt: the system message and the user message. */
export interface ChatPrompt {
  readonly system: string;
  readonly user: string;
}

/**
 * A prompt with the placeholders {{instruction}}, {{response_a}}, {{response_b}} still open, and the
 * content keys of the items it shows as few-shot examples (never scored with it).
 */
export interface PromptTemplate extends ChatPrompt {
  readonly shown?: readonly string[];
}

/** Which response is shown first: `AB` shows response 1 as A, `BA` swaps them. */
export type Order = 'AB' | 'BA';
export const ORDERS = ['AB', 'BA'] as const satisfies readonly Order[];

export const PLACEHOLDERS = ['{{instruction}}', '{{response_a}}', '{{response_b}}'] as const;

export interface RenderOptions {
  /** Longest response text shown (characters; longer ones are cut with a marker). Default 2000. */
  readonly maxChars?: number;
  /** Longest text of a few-shot example's parts. Default 300. */
  readonly exampleChars?: number;
  /** The answer the judge is asked for (the closing cue of the user message). Default direct. */
  readonly protocol?: Protocol;
  /** Three-way verdicts: the cue offers C for a tie. */
  readonly ties?: boolean;
}

/**
 * The closing question of every judge prompt, fixed by the protocol so that the verdict format is
 * the documented one whatever the evolved sections say: direct asks for the letter (the question
 * alone, as gpmate has always asked it), reasoned for brief reasoning and a final verdict line.
 */
export function answerCue(o: Pick<RenderOptions, 'protocol' | 'ties'> = {}): string {
  const q = o.ties ? 'Which response is better, A or B (C if they are equally good)?' : 'Which response is better, A or B?';
  if ((o.protocol ?? 'direct') === 'direct') return q;
  const lines = o.ties ? '"Verdict: A", "Verdict: B" or "Verdict: C"' : '"Verdict: A" or "Verdict: B"';
  return `${q} Think it through briefly, then end with a line of the form ${lines}.`;
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)} [...]`;
}

/**
 * Renders a genome to a chat template: the system message holds role, framing, the numbered criteria,
 * the procedure and the output format (in that order, empty sections left out); the user message holds
 * the few-shot examples (each shown in its labelled order, texts stored in the genome), the item and
 * the protocol's answer cue.
 */
export function renderTemplate(g: PromptGenome, o: RenderOptions = {}): PromptTemplate {
  const ex = o.exampleChars ?? 300;
  const parts = [g.role, g.framing];
  if (g.criteria.length) parts.push(`Criteria:\n${g.criteria.map((c, i) => `${i + 1}. ${c}`).join('\n')}`);
  parts.push(g.procedure, g.format);
  const shots = g.examples.map((it, k) => {
    const verdict = it.label === 1 ? 'A' : it.label === 2 ? 'B' : o.ties ? 'C (tie)' : 'either (tie)';
    return `Example ${k + 1}:\nInstruction: ${cut(it.instruction, ex)}\nResponse A: ${cut(it.response1, ex)}\nResponse B: ${cut(it.response2, ex)}\nBetter response: ${verdict}`;
  });
  const user = [...shots, 'Instruction:\n{{instruction}}', 'Response A:\n{{response_a}}', 'Response B:\n{{response_b}}', answerCue(o)].join(
    '\n\n',
  );
  const system = parts.filter((s) => s.trim() !== '').join('\n\n');
  return g.examples.length ? { system, user, shown: g.examples.map(contentKey) } : { system, user };
}

/** Fills a template with one item in one order (one pass, so placeholders inside the texts stay literal). */
export function fillTemplate(t: PromptTemplate, item: JudgeItem, order: Order, o: RenderOptions = {}): ChatPrompt {
  const max = o.maxChars ?? 2000;
  const [a, b] = order === 'AB' ? [item.response1, item.response2] : [item.response2, item.response1];
  const values: Record<string, string> = {
    '{{instruction}}': cut(item.instruction, max),
    '{{response_a}}': cut(a, max),
    '{{response_b}}': cut(b, max),
  };
  const fill = (s: string) => s.replace(/\{\{(instruction|response_a|response_b)\}\}/g, (m) => values[m] as string);
  return { system: fill(t.system), user: fill(t.user) };
}

/** The template as one text file (system, a blank line, user), as `judge evolve` writes it. */
export function templateText(t: PromptTemplate): string {
  return t.system ? `${t.system}\n\n${t.user}\n` : `${t.user}\n`;
}

/** A text prompt file: used whole as the user message; it must contain the three placeholders. */
export function templateFromText(text: string, source: string): PromptTemplate {
  for (const p of PLACEHOLDERS) if (!text.includes(p)) throw new ConfigError(`prompt ${source}: missing placeholder ${p}`);
  return { system: '', user: text.trim() };
}
