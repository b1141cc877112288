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

export type DataFormat = 'llmbar' | 'pandalm' | 'jsonl';
export const DATA_FORMATS = ['llmbar', 'pandalm', 'jsonl'] as const satisfies readonly DataFormat[];

export interface LoadOptions {
  /** PandaLM: keep items whose annotator majority is a tie (or with no majority) as label 0. Default false (dropped). */
  readonly keepTies?: boolean;
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

/** Plain JSONL: one {instruction, response_a, response_b, label: "A"|"B"} per line (blank lines skipped). */
export function loadJsonl(file: string): JudgeItem[] {
  const text = readTextFile(file, `data ${file}`);
  const items: JudgeItem[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const w = `line ${i + 1}`;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new DataError(`data ${file}: ${w}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new DataError(`data ${file}: ${w}: expected an object`);
    const label = o.label;
    if (label !== 'A' && label !== 'B') throw new DataError(`data ${file}: ${w}: label must be "A" or "B", got ${JSON.stringify(label)}`);
    items.push({
      id: `jsonl-${i + 1}`,
      instruction: str(file, w, o, 'instruction'),
      response1: str(file, w, o, 'response_a'),
      response2: str(file, w, o, 'response_b'),
      label: label === 'A' ? 1 : 2,
    });
  });
  return items;
}

/** Format from the name when not given: *.jsonl -> jsonl, a name containing "pandalm" -> pandalm, else llmbar. */
export function guessFormat(file: string): DataFormat {
  if (/\.jsonl$/i.test(file)) return 'jsonl';
  if (/pandalm/i.test(file)) return 'pandalm';
  return 'llmbar';
}

/** Loads a data file in one of the three formats; fails on an empty result. */
export function loadItems(file: string, format: DataFormat = guessFormat(file), o: LoadOptions = {}): JudgeItem[] {
  if (!(DATA_FORMATS as readonly string[]).includes(format))
    throw optionError('format', `expected one of ${DATA_FORMATS.join(', ')}, got ${String(format)}`);
  const items = format === 'llmbar' ? loadLlmbar(file) : format === 'pandalm' ? loadPandalm(file, o) : loadJsonl(file);
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
