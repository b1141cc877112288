import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError, readJsonFile } from '../core/errors.js';

/** The text sections a judge prompt is built from; `criteria` is a list, the others one fragment each. */
export interface FragmentLibrary {
  readonly role: readonly string[];
  readonly framing: readonly string[];
  readonly criteria: readonly string[];
  readonly procedure: readonly string[];
  readonly format: readonly string[];
  /**
   * Templates of the LLM-driven variation operators: `mutate` and `crossover` (EvoPrompt-style; `{{text}}`,
   * `{{other}}` are filled in) and `reflect` (GEPA-style; `{{prompt}}`: the prompt's system message,
   * `{{failures}}`: the items it got wrong, `{{text}}`: the part to revise).
   */
  readonly rewrite: { readonly mutate: string; readonly crossover: string; readonly reflect?: string };
}

const LISTS = ['role', 'framing', 'criteria', 'procedure', 'format'] as const;

/**
 * The fragment library shipped with gpmate (src/judge/fragments.json). The JSON stays in src/ (tsc does
 * not copy it), so it is found from the package root, whether this module runs from src/ or dist/src/.
 */
export function defaultLibraryPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'src', 'judge', 'fragments.json');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new DataError('fragment library src/judge/fragments.json not found above ' + fileURLToPath(import.meta.url));
}

/** Reads and validates a fragment library (every list non-empty, every entry a string). */
export function loadLibrary(path = defaultLibraryPath()): FragmentLibrary {
  const raw = readJsonFile(path, `fragment library ${path}`);
  const o = raw as Record<string, unknown>;
  for (const k of LISTS) {
    const v = o[k];
    if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
      throw new DataError(`fragment library ${path}: "${k}" must be a non-empty array of strings`);
    }
  }
  const rw = o.rewrite as Record<string, unknown> | undefined;
  if (
    !rw ||
    typeof rw.mutate !== 'string' ||
    typeof rw.crossover !== 'string' ||
    (rw.reflect !== undefined && typeof rw.reflect !== 'string')
  ) {
    throw new DataError(`fragment library ${path}: "rewrite" must hold "mutate" and "crossover" templates (and optionally "reflect")`);
  }
  return {
    role: o.role as string[],
    framing: o.framing as string[],
    criteria: o.criteria as string[],
    procedure: o.procedure as string[],
    format: o.format as string[],
    rewrite: { mutate: rw.mutate, crossover: rw.crossover, ...(typeof rw.reflect === 'string' ? { reflect: rw.reflect } : {}) },
  };
}

let cached: FragmentLibrary | undefined;
/** The shipped library, read once. */
export function defaultLibrary(): FragmentLibrary {
  return (cached ??= loadLibrary());
}
