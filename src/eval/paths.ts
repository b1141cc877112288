import { existsSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The URL of a build output under dist/ (the WebAssembly kernel, the worker entry points). This module
 * runs either compiled (dist/src/eval/paths.js) or from source under vitest/tsx (src/eval/paths.ts);
 * build outputs always live under dist/, so both resolve to the same files.
 */
export function distUrl(rel: string): URL {
  const here = fileURLToPath(import.meta.url);
  const compiled = here.includes(`${sep}dist${sep}src${sep}`);
  const url = new URL((compiled ? '../../' : '../../dist/') + rel, import.meta.url);
  if (!existsSync(url)) {
    throw new Error(`gpmate: build output ${fileURLToPath(url)} is missing (run 'npm run build')`);
  }
  return url;
}
