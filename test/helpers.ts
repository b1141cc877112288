import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is in test/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The shared folder: $GPMATE_SHARED, else ../shared beside the checkout (CI lays a copy there), else /work/shared. */
export const SHARED =
  [process.env['GPMATE_SHARED'], resolve(ROOT, '../shared'), '/work/shared'].find(
    (p): p is string => p !== undefined && existsSync(join(p, 'data', 'sr')),
  ) ?? resolve(ROOT, '../shared');
/** The built command line (npm test builds before running vitest). */
export const CLI = resolve(ROOT, 'dist/src/cli/main.js');
