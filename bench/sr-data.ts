import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shared SR data folder (shared/data/sr beside the project, or beside a folder above it: the
 * project may be checked out at different depths), or $GPMATE_SR_DATA when set.
 */
export function srDataDir(): string {
  if (process.env['GPMATE_SR_DATA']) return process.env['GPMATE_SR_DATA'];
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const c = join(dir, 'shared', 'data', 'sr');
    if (existsSync(c)) return c;
    dir = dirname(dir);
  }
  throw new Error('shared/data/sr not found above the project; set GPMATE_SR_DATA');
}
