// Shared by the study tests: temp folders, tiny studies, and the deterministic content of a study database.
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'gpmate-study-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a study file into `dir` and returns its path. */
export function writeStudy(dir: string, study: object, name = 'study.json'): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(study, null, 2));
  return p;
}

/** A study small enough for unit tests: 1 problem x 3 selection modes x `seeds` seeds. */
export function tinyStudy(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'tiny',
    problems: ['koza-1'],
    selection: ['pimp', 'tournament', 'random-mate'],
    mutation: ['subtree'],
    mutationRate: [0.2],
    settings: { populationSize: 30, generations: 5, maxDepth: 6, maxSize: 48, initDepth: [1, 3] },
    seeds: 2,
    ...overrides,
  };
}

/** 18 runs of a few hundred milliseconds each: long enough to be killed in the middle (the kill tests). */
export const KILL_STUDY = {
  name: 'killtest',
  problems: ['koza-1'],
  selection: ['pimp', 'tournament', 'random-mate'],
  mutation: ['subtree'],
  mutationRate: [0.2],
  settings: { populationSize: 60, generations: 10, maxDepth: 8, maxSize: 64 },
  seeds: 6,
};
export const KILL_STUDY_RUNS = 18;

const RUN_COLUMNS =
  'cell, seed, status, best_train, best_test, train_r2, test_r2, success, size, depth, expression, preference, generations, evaluations, error';

/** Everything stored but the timings, in a fixed order: equal across thread counts and kill/restart cycles. */
export function deterministicContent(dbPath: string): { runs: unknown[]; generations: unknown[]; cells: unknown[] } {
  const db = new Database(dbPath, { readonly: true });
  try {
    return {
      cells: db.prepare('SELECT * FROM cells ORDER BY hash').all(),
      runs: db.prepare(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY cell, seed`).all(),
      generations: db.prepare('SELECT * FROM generations ORDER BY cell, seed, generation').all(),
    };
  } finally {
    db.close();
  }
}

/** Counts of runs by status, and whether any generation rows exist for runs that are not done. */
export function storeState(dbPath: string): { done: number; other: number; orphanGenerations: number; generationsPerDone: number[] } {
  if (!existsSync(dbPath)) return { done: 0, other: 0, orphanGenerations: 0, generationsPerDone: [] };
  const db = new Database(dbPath, { readonly: true, timeout: 5000 });
  try {
    const has = db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='runs'").get();
    if (!has) return { done: 0, other: 0, orphanGenerations: 0, generationsPerDone: [] };
    const done = (db.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = 'done'").get() as { n: number }).n;
    const other = (db.prepare("SELECT COUNT(*) AS n FROM runs WHERE status != 'done'").get() as { n: number }).n;
    const orphanGenerations = (
      db
        .prepare(
          "SELECT COUNT(*) AS n FROM generations g WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.cell = g.cell AND r.seed = g.seed AND r.status = 'done')",
        )
        .get() as { n: number }
    ).n;
    const generationsPerDone = (
      db
        .prepare(
          "SELECT (SELECT COUNT(*) FROM generations g WHERE g.cell = r.cell AND g.seed = r.seed) - r.generations - 1 AS d FROM runs r WHERE r.status = 'done'",
        )
        .all() as { d: number }[]
    ).map((r) => r.d);
    return { done, other, orphanGenerations, generationsPerDone };
  } finally {
    db.close();
  }
}
