import { DataError, optionError, readJsonFile, readTextFile } from '../core/errors.js';
import { Rng } from '../core/rng.js';

/**
 * One pairwise judgement with a human label. `label` 1: the first response is better, 2: the second,
 * 0: a tie (only from PandaLM with ties kept; its target probability is 1/2).
 */
export interface JudgeItem {
  readonly id: string;
  readonly instruction: string;
  readonly response1: string;
  readonly response2: string;
  readonly label: 0 | 1 | 2;
}

/** A pairwise item without its id: what a few-shot example shows (stored in the prompt genome as text). */
export type Example = Omit<JudgeItem, 'id'>;

/** The content of an item, whatever its id and the order of its responses: an example never scored as an item. */
export function contentKey(x: Example): string {
  return JSON.stringify([x.instruction, ...[x.response1, x.response2].sort()]);
}

export type DataFormat = 'llmbar' | 'pandalm' | 'jsonl' | 'pairs';
export const DATA_FORMATS = ['llmbar', 'pandalm', 'jsonl', 'pairs'] as const satisfies readonly DataFormat[];

/** The fields of the `jsonl` layout and of the `pairs` layout, as `fields` may rename them. */
export const JSONL_FIELDS = ['instruction', 'response_a', 'response_b', 'label'] as const;
export const PAIR_FIELDS = ['prompt', 'chosen', 'rejected'] as const;

export interface LoadOptions {
  /** PandaLM and JSONL: keep items labelled as a tie (or, PandaLM, with no majority) as label 0. Default false (dropped). */
  readonly keepTies?: boolean;
  /**
   * JSONL and pairs: the file's names for the layout's fields, e.g. {instruction: 'question', label:
   * 'winner'}; a dotted path reaches a nested field (`conversation.0.content`).
   */
  readonly fields?: Readonly<Record<string, string>>;
  /** JSONL: the file's label values for A, B and tie, e.g. {A: 'model_a', B: 'model_b', tie: 'tie'}. */
  readonly labels?: Readonly<Partial<Record<'A' | 'B' | 'tie', string>>>;
  /** Pairs: seed of the A/B order of each pair. Default 1. */
  readonly seed?: number | string;
}

/** A text field; numbers and booleans are read as their text (PandaLM stores some one-word answers as JSON `true`). */
function str(file: string, where: string, o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'string')
    throw new DataError(`data ${file}: ${where}: field "${field}" must be a string, got ${v === undefined ? 'nothing' : typeof v}`);
  return v;
}

function readJsonArray(file: string): Record<string, unknown>[] {
  const raw = readJsonFile(file, `data ${file}`);
  if (!Array.isArray(raw)) throw new DataError(`data ${file}: expected a JSON array of items`);
  raw.forEach((x, i) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new DataError(`data ${file}: item ${i}: expected an object`);
  });
  return raw as Record<string, unknown>[];
}

/** LLMBar: a JSON array of {input, output_1, output_2, label: 1|2}. */
export function loadLlmbar(file: string): JudgeItem[] {
  return readJsonArray(file).map((o, i) => {
    const w = `item ${i}`;
    const label = o.label;
    if (label !== 1 && label !== 2) throw new DataError(`data ${file}: ${w}: label must be 1 or 2, got ${JSON.stringify(label)}`);
    return {
      id: `llmbar-${i}`,
      instruction: str(file, w, o, 'input'),
      response1: str(file, w, o, 'output_1'),
      response2: str(file, w, o, 'output_2'),
      label,
    };
  });
}

/**
 * PandaLM test set: {instruction, input, response1, response2, annotator1..3 in 0 (tie) / 1 / 2}. The
 * label is the majority of the three annotators; a majority for "tie", or no majority, is a tie.
 */
export function loadPandalm(file: string, o: LoadOptions = {}): JudgeItem[] {
  const items: JudgeItem[] = [];
  readJsonArray(file).forEach((x, i) => {
    const w = `item ${i}`;
    const votes = [x.annotator1, x.annotator2, x.annotator3];
    votes.forEach((v, k) => {
      if (v !== 0 && v !== 1 && v !== 2)
        throw new DataError(`data ${file}: ${w}: annotator${k + 1} must be 0, 1 or 2, got ${JSON.stringify(v)}`);
    });
    const count = (v: number) => votes.filter((u) => u === v).length;
    const label: 0 | 1 | 2 = count(1) >= 2 ? 1 : count(2) >= 2 ? 2 : 0;
    const instruction = str(file, w, x, 'instruction');
    const input = x.input === undefined || x.input === null ? '' : str(file, w, x, 'input');
    const item = {
      id: `pandalm-${typeof x.idx === 'number' ? x.idx : i}`,
      instruction: input.trim() ? `${instruction}\n\n${input}` : instruction,
      response1: str(file, w, x, 'response1'),
      response2: str(file, w, x, 'response2'),
      label,
    };
    if (label !== 0 || o.keepTies) items.push(item);
  });
  return items;
}

/** A field by a dotted path; numbers in the path index arrays. */
function pick(o: unknown, path: string): unknown {
  let v = o;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/**
 * A text field of a JSONL layout: a string (numbers and booleans as their text), or a chat
 * conversation [{role, content}] whose last message of `role` is taken (preference data sets store
 * chosen/rejected as conversations).
 */
function textField(file: string, where: string, o: Record<string, unknown>, field: string, path: string, role: string): string {
  const v = pick(o, path);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const m = [...v].reverse().find((x) => x && typeof x === 'object' && (x as { role?: unknown }).role === role) as
      { content?: unknown } | undefined;
    if (m && typeof m.content === 'string') return m.content;
  }
  const what = path === field ? `"${field}"` : `"${path}" (${field})`;
  throw new DataError(
    `data ${file}: ${where}: field ${what} must be a string, got ${v === undefined ? 'nothing' : Array.isArray(v) ? 'an array' : typeof v}`,
  );
}

/** The records of a JSONL file (or a JSON array), each with its place for messages. */
function readRecords(file: string): { o: Record<string, unknown>; where: string; n: number }[] {
  const text = readTextFile(file, `data ${file}`);
  if (text.trimStart().startsWith('[')) return readJsonArray(file).map((o, i) => ({ o, where: `item ${i}`, n: i + 1 }));
  const out: { o: Record<string, unknown>; where: string; n: number }[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `line ${i + 1}`;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch (e) {
      throw new DataError(`data ${file}: ${where}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new DataError(`data ${file}: ${where}: expected an object`);
    out.push({ o: o as Record<string, unknown>, where, n: i + 1 });
  });
  return out;
}

function checkFields(
  fields: Readonly<Record<string, string>> | undefined,
  allowed: readonly string[],
  format: string,
): Record<string, string> {
  const f: Record<string, string> = Object.fromEntries(allowed.map((k) => [k, k]));
  for (const [k, v] of Object.entries(fields ?? {})) {
    if (!allowed.includes(k)) throw optionError('fields', `"${k}" is not a field of the ${format} layout (expected ${allowed.join(', ')})`);
    if (typeof v !== 'string' || v === '') throw optionError('fields', `"${k}" needs a field name`);
    f[k] = v;
  }
  return f;
}

/**
 * JSONL: one object per line {instruction, response_a, response_b, label}. Labels "A"/"B" (or 1/2),
 * "tie" (or 0) for a tie; `labels` maps other values; `fields` maps other field names. An unknown
 * label or a missing field stops the load with the line named.
 */
export function loadJsonl(file: string, opts: LoadOptions = {}): JudgeItem[] {
  const f = checkFields(opts.fields, JSONL_FIELDS, 'jsonl');
  const values = new Map<unknown, 0 | 1 | 2>([
    ['A', 1],
    ['B', 2],
    [1, 1],
    [2, 2],
    ['tie', 0],
    [0, 0],
  ]);
  if (opts.labels) {
    for (const [k, v] of Object.entries(opts.labels)) {
      if (v === undefined) continue;
      if (k !== 'A' && k !== 'B' && k !== 'tie') throw optionError('labels', `expected A, B or tie, got "${k}"`);
      values.set(v, k === 'A' ? 1 : k === 'B' ? 2 : 0);
    }
  }
  const items: JudgeItem[] = [];
  for (const { o, where, n } of readRecords(file)) {
    const raw = pick(o, f.label as string);
    const label = values.get(raw);
    if (label === undefined) {
      const known = [...values.keys()].map((x) => JSON.stringify(x)).join(', ');
      throw new DataError(
        `data ${file}: ${where}: unknown label ${raw === undefined ? '(missing)' : JSON.stringify(raw)} in field "${f.label}" (known: ${known})`,
      );
    }
    if (label === 0 && !opts.keepTies) continue;
    items.push({
      id: `jsonl-${n}`,
      instruction: textField(file, where, o, 'instruction', f.instruction as string, 'user'),
      response1: textField(file, where, o, 'response_a', f.response_a as string, 'assistant'),
      response2: textField(file, where, o, 'response_b', f.response_b as string, 'assistant'),
      label,
    });
  }
  return items;
}

/**
 * Preference pairs {prompt, chosen, rejected} (RewardBench and most preference data sets; JSONL or a
 * JSON array). Chosen and rejected may be strings or conversations (their last assistant message;
 * the prompt is then the last user message when there is no prompt field). The A/B order of each
 * pair is drawn from `seed`, so that the chosen response is not always first.
 */
export function loadPairs(file: string, opts: LoadOptions = {}): JudgeItem[] {
  const f = checkFields(opts.fields, PAIR_FIELDS, 'pairs');
  const rng = new Rng(`pairs:${opts.seed ?? 1}`);
  return readRecords(file).map(({ o, where, n }) => {
    const chosen = textField(file, where, o, 'chosen', f.chosen as string, 'assistant');
    const rejected = textField(file, where, o, 'rejected', f.rejected as string, 'assistant');
    const prompt =
      pick(o, f.prompt as string) === undefined && Array.isArray(pick(o, f.chosen as string))
        ? textField(file, where, o, 'prompt', f.chosen as string, 'user')
        : textField(file, where, o, 'prompt', f.prompt as string, 'user');
    const chosenFirst = rng.chance(0.5);
    return {
      id: `pairs-${n}`,
      instruction: prompt,
      response1: chosenFirst ? chosen : rejected,
      response2: chosenFirst ? rejected : chosen,
      label: chosenFirst ? 1 : 2,
    };
  });
}

/**
 * Format from the file when not given: *.jsonl -> pairs when its first record has "chosen" and
 * "rejected", else jsonl; a name containing "pandalm" -> pandalm; else llmbar.
 */
export function guessFormat(file: string): DataFormat {
  if (/\.jsonl$/i.test(file)) {
    const first = readTextFile(file, `data ${file}`)
      .split('\n')
      .find((l) => l.trim() !== '');
    try {
      const o = JSON.parse(first ?? '{}') as Record<string, unknown>;
      if ('chosen' in o && 'rejected' in o) return 'pairs';
    } catch {
      // not JSON: loadJsonl names the line
    }
    return 'jsonl';
  }
  if (/pandalm/i.test(file)) return 'pandalm';
  return 'llmbar';
}

/** Loads a data file in one of the formats; fails on an empty result. */
export function loadItems(file: string, format: DataFormat = guessFormat(file), o: LoadOptions = {}): JudgeItem[] {
  if (!(DATA_FORMATS as readonly string[]).includes(format))
    throw optionError('format', `expected one of ${DATA_FORMATS.join(', ')}, got ${String(format)}`);
  if (o.fields && format !== 'jsonl' && format !== 'pairs')
    throw optionError('fields', `only for the jsonl and pairs formats, not ${format}`);
  const items =
    format === 'llmbar'
      ? loadLlmbar(file)
      : format === 'pandalm'
        ? loadPandalm(file, o)
        : format === 'pairs'
          ? loadPairs(file, o)
          : loadJsonl(file, o);
  if (items.length === 0) throw new DataError(`data ${file}: no usable items`);
  return items;
}

export interface Split {
  readonly train: JudgeItem[];
  readonly test: JudgeItem[];
}

/**
 * A seeded shuffle, then the first `limit` items (all by default), of which a `trainShare` go to
 * training and the rest to the held-out test split. Each split keeps at least one item.
 */
export function splitItems(items: readonly JudgeItem[], trainShare: number, seed: number | string, limit?: number): Split {
  if (!(trainShare > 0 && trainShare < 1)) throw optionError('split', `expected a share in (0, 1), got ${trainShare}`);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 2)) throw optionError('limit', `expected an integer >= 2, got ${limit}`);
  if (items.length < 2) throw new DataError(`data: need at least 2 items to split, got ${items.length}`);
  const rng = new Rng(`split:${seed}`);
  const order = items.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const chosen = order.slice(0, Math.min(limit ?? items.length, items.length)).map((i) => items[i] as JudgeItem);
  const nTrain = Math.min(chosen.length - 1, Math.max(1, Math.round(chosen.length * trainShare)));
  return { train: chosen.slice(0, nTrain), test: chosen.slice(nTrain) };
}
