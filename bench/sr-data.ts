import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
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

/** The suite's folders: the six sr sets and the twenty pmlb sets. */
export function suiteDirs(): string[] {
  const sr = srDataDir();
  return [sr, join(dirname(sr), 'pmlb')];
}

export interface SuiteSet {
  readonly name: string;
  readonly csv: string;
  /** The target column (the JSON's `target`). */
  readonly target: string;
  readonly train: readonly [number, number];
  readonly test: readonly [number, number];
}

/** Every set of the suite with its JSON's row ranges. */
export function suiteSets(): SuiteSet[] {
  return suiteDirs().flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.csv'))
      .sort()
      .map((f) => {
        const meta = JSON.parse(readFileSync(join(dir, f.replace(/\.csv$/, '.json')), 'utf8')) as {
          metadata: { target: string; training_rows: { start: number; end: number }; test_rows: { start: number; end: number } };
        };
        const { target, training_rows: tr, test_rows: te } = meta.metadata;
        return { name: basename(f, '.csv'), csv: join(dir, f), target, train: [tr.start, tr.end], test: [te.start, te.end] } as const;
      }),
  );
}

/** Operon's median and worst test R^2 per set: the pmlb README's table, and the for the sr sets. */
export function operonFigures(): Map<string, [number, number]> {
  const m = new Map<string, [number, number]>([
    ['AirfoilSelfNoise', [0.43, 0.4]],
    ['Concrete', [0.38, 0.37]],
    ['Nikuradse_1', [0.916, -78.3]],
    ['Pagie-1', [-5.25, -3.5e9]],
    ['Poly-10', [0.826, 0.694]],
    ['Vladislavleva-4', [-171, -3.1e3]],
  ]);
  const readme = join(suiteDirs()[1]!, 'README.md');
  if (!existsSync(readme)) return m;
  for (const line of readFileSync(readme, 'utf8').split('\n')) {
    const c = line.split('|').map((s) => s.trim());
    // | set | rows | inputs | Operon median | Operon worst | gpmate median | gpmate worst |
    if (c.length >= 8 && /^\d+_/.test(c[1]!)) m.set(c[1]!, [Number(c[4]), c[5] === '-inf' ? -Infinity : Number(c[5])]);
  }
  return m;
}
