import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is in test/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The shared data folder beside the checkout (CI lays a copy of shared/ beside its clone). */
export const SHARED = process.env['GPMATE_SHARED'] ?? resolve(ROOT, '../shared');
/** The built command line (npm test builds before running vitest). */
export const CLI = resolve(ROOT, 'dist/src/cli/main.js');
