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

/** Seeds from a list such as "1-3,7": ranges and single seeds. */
export function seedList(s: string): number[] {
  return s.split(',').flatMap((part) => {
    const m = /^(\d+)-(\d+)$/.exec(part);
    if (!m) return [Number(part)];
    return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
  });
}

/** The median (NaN for none). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}
