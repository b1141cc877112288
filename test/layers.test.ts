/**
 * Imports point down only (DESIGN.md principle 13): a module may import from its own layer or from a
 * layer below it, never from one above. The layers, bottom to top, are listed in LAYERS; src/index.ts
 * (the public surface) and workers/ (thread entry points) sit on top and may import anything.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/** Rank of each layer: a module imports only from layers of lower rank, or from its own layer. */
const LAYERS: Readonly<Record<string, number>> = {
  core: 0,
  tree: 1,
  stats: 1,
  eval: 2,
  diversity: 3,
  sr: 4,
  problems: 5,
  judge: 5,
  study: 6,
  cli: 7,
  'index.ts': 8,
  workers: 8,
};

/** The layer of a file (path relative to the repository root), or undefined outside src/, problems/, workers/. */
function layerOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts[0] === 'src') return parts[1];
  if (parts[0] === 'problems' || parts[0] === 'workers') return parts[0];
  return undefined;
}

/** Relative module specifiers a TypeScript source imports (static, re-exports and dynamic import()). */
function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]+)['"]/g)) out.push(m[1] as string);
  for (const m of source.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g)) out.push(m[1] as string);
  return out;
}

/** Wrong-way imports among the given files: "from -> to" for each import of a higher layer. */
function wrongWayImports(files: ReadonlyMap<string, string>): string[] {
  const wrong: string[] = [];
  for (const [path, source] of files) {
    const from = layerOf(path);
    if (from === undefined) continue;
    for (const spec of importsOf(source)) {
      const target = relative(ROOT, resolve(ROOT, dirname(path), spec))
        .split('\\')
        .join('/');
      const to = layerOf(target);
      if (to === undefined || to === from) continue;
      const rf = LAYERS[from];
      const rt = LAYERS[to];
      if (rf === undefined || rt === undefined || rt >= rf) wrong.push(`${path} (${from}) imports ${target} (${to})`);
    }
  }
  return wrong;
}

function sources(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(ROOT, rel)).isDirectory()) {
      if (rel !== 'src/eval/wasm') sources(rel, out); // AssemblyScript, compiled apart
    } else if (name.endsWith('.ts')) out.set(rel, readFileSync(join(ROOT, rel), 'utf8'));
  }
  return out;
}

describe('layers', () => {
  it('no module imports from a layer above it', () => {
    const files = new Map([...sources('src'), ...sources('problems'), ...sources('workers')]);
    expect(files.size).toBeGreaterThan(50);
    for (const path of files.keys()) expect(layerOf(path) === undefined || LAYERS[layerOf(path)!] !== undefined, path).toBe(true);
    expect(wrongWayImports(files)).toEqual([]);
  });

  it('library code names options, never command-line flags (only src/cli knows them)', () => {
    const files = [...sources('src'), ...sources('problems')].filter(([path]) => !path.startsWith('src/cli/'));
    const naming = files.filter(([, source]) => /option --[a-z]/.test(source)).map(([path]) => path);
    expect(naming).toEqual([]);
  });

  it('finds a wrong-way import (static, type-only, re-export and dynamic)', () => {
    const files = new Map([
      ['src/eval/a.ts', "import type { X } from '../sr/run.js';\nimport { y } from './b.js';"],
      ['src/core/b.ts', "export { Z } from '../tree/tree.js';"],
      ['src/tree/c.ts', "const m = await import('../cli/run.js');\nimport { e } from '../core/errors.js';"],
      ['src/judge/d.ts', "import { t } from '../../problems/index.js';"],
    ]);
    expect(wrongWayImports(files)).toEqual([
      'src/eval/a.ts (eval) imports src/sr/run.js (sr)',
      'src/core/b.ts (core) imports src/tree/tree.js (tree)',
      'src/tree/c.ts (tree) imports src/cli/run.js (cli)',
      'src/judge/d.ts (judge) imports problems/index.js (problems)',
    ]);
  });
});
