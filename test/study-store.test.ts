import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../src/core/errors.js';
import { csvPieces, exportCsv } from '../src/study/export.js';
import { writeReport } from '../src/study/report.js';
import { executeRun } from '../src/study/execute.js';
import { filesDigest } from '../src/study/grid.js';
import { runStudy } from '../src/study/runner.js';
import { StudyStore } from '../src/study/store.js';
import { deterministicContent, storeState, tempDir, tinyStudy, writeStudy } from './study-helpers.js';
import { SHARED } from './helpers.js';

const CLI = 'dist/src/cli/main.js';

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect((e as Error).message).not.toContain('\n');
    return e as Error;
  }
  throw new Error('expected the study run to fail');
}

describe('study store (real SQLite file)', () => {
  it('stores one row per run and per generation, and skips finished runs on a rerun', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy());
    const db = join(dir, 'r.db');
    const first = await runStudy(file, { db, threads: 1 });
    expect(first).toMatchObject({ total: 6, skipped: 0, done: 6, failed: 0 });
    const s = storeState(db);
    expect(s).toMatchObject({ done: 6, other: 0, orphanGenerations: 0 });
    expect(s.generationsPerDone).toEqual([0, 0, 0, 0, 0, 0]);
    const content = deterministicContent(db);
    expect(content.runs).toHaveLength(6);
    expect(content.generations).toHaveLength(6 * 6);
    const again = await runStudy(file, { db, threads: 1 });
    expect(again).toMatchObject({ total: 6, skipped: 6, done: 0 });
    expect(deterministicContent(db)).toEqual(content);
  });

  it('gives the same table with runs spread over worker threads as in one thread', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ seeds: 3 }));
    await runStudy(file, { db: join(dir, 'one.db'), threads: 1 });
    const par = await runStudy(file, { db: join(dir, 'two.db'), threads: 2 });
    expect(par.done).toBe(9);
    expect(deterministicContent(join(dir, 'two.db'))).toEqual(deterministicContent(join(dir, 'one.db')));
  });

  it('refuses a changed study unless told to extend, then runs only what is new', async () => {
    const dir = tempDir();
    const db = join(dir, 'r.db');
    await runStudy(writeStudy(dir, tinyStudy()), { db, threads: 1 });
    const before = deterministicContent(db);
    const grown = writeStudy(dir, tinyStudy({ seeds: 3 }), 'grown.json');
    const e = await failure(runStudy(grown, { db, threads: 1 }));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toBe(
      `option extend: study "tiny" changed since 6 runs were stored in ${db}; give this option to add the new cells and seeds`,
    );
    expect(deterministicContent(db)).toEqual(before);
    const ext = await runStudy(grown, { db, threads: 1, extend: true });
    expect(ext).toMatchObject({ total: 9, skipped: 6, done: 3 });
  });

  it('refuses to go on with a problem whose data file changed since its runs were stored', async () => {
    const dir = tempDir();
    const db = join(dir, 'r.db');
    const csv = join(dir, 'd.csv');
    const rows = Array.from({ length: 30 }, (_, i) => `${i / 10},${(i / 10) ** 2 + 1}`);
    writeFileSync(csv, ['x,y', ...rows].join('\n') + '\n');
    const study = (seeds: number) => tinyStudy({ problems: ['koza-1', { name: 'd', data: 'd.csv' }], selection: ['pimp'], seeds });
    expect(await runStudy(writeStudy(dir, study(1)), { db, threads: 1 })).toMatchObject({ done: 2 });
    // the same bytes again: nothing to refuse (and nothing left to run)
    expect(await runStudy(writeStudy(dir, study(1)), { db, threads: 1 })).toMatchObject({ skipped: 2, done: 0 });
    writeFileSync(csv, ['x,y', ...rows.slice(1)].join('\n') + '\n');
    const before = deterministicContent(db);
    const e = await failure(runStudy(writeStudy(dir, study(2), 'more.json'), { db, threads: 1, extend: true }));
    expect(e).toBeInstanceOf(DataError);
    expect(
      e.message.startsWith(`study "tiny": the data file of problem "d" changed since 1 of its runs were stored in ${db} (sha256 `),
    ).toBe(true);
    expect(e.message).toMatch(/ \(sha256 [0-9a-f]{12}, now [0-9a-f]{12}\); restore the file or start a new database$/);
    expect(deterministicContent(db)).toEqual(before);
    // the report and the export leave the changed problem's across-run measures out, and the report says why
    const across = (): string[] => {
      exportCsv(db, join(dir, 'csv'));
      return readFileSync(join(dir, 'csv', 'across.csv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1);
    };
    expect(across().map((l) => l.split(',')[1])).toEqual(['koza-1']);
    await writeReport(db, join(dir, 'report'));
    expect(readFileSync(join(dir, 'report', 'report.html'), 'utf8')).toContain(
      "this problem's data file changed since its runs were stored",
    );
    // restored, the study goes on
    writeFileSync(csv, ['x,y', ...rows].join('\n') + '\n');
    expect(await runStudy(writeStudy(dir, study(2), 'more.json'), { db, threads: 1, extend: true })).toMatchObject({ skipped: 2, done: 2 });
    expect(across().map((l) => l.split(',')[1])).toEqual(['koza-1', 'd']);
    // a file edited while a study runs: each run checks the recorded digest first, and fails
    const task = { problem: { name: 'd', data: csv }, options: { populationSize: 10, generations: 1 }, seed: 1, diversity: false };
    expect((await executeRun({ ...task, dataDigest: filesDigest(csv, undefined) })).generations).toBe(1);
    await expect(executeRun({ ...task, dataDigest: 'f'.repeat(64) })).rejects.toThrow(
      /^the data file of problem "d" changed during the study \(sha256 ffffffffffff, now [0-9a-f]{12}\); restore it and run the study again$/,
    );
  });

  it('keeps data digests for any problem name, and takes a database without them as it is', async () => {
    for (const name of ['__proto__', 'constructor']) {
      const dir = tempDir();
      const db = join(dir, 'r.db');
      writeFileSync(join(dir, 'd.csv'), 'x,y\n' + Array.from({ length: 20 }, (_, i) => `${i},${2 * i + 1}`).join('\n') + '\n');
      const study = (seeds: number) => tinyStudy({ problems: [{ name, data: 'd.csv' }], selection: ['pimp'], seeds });
      expect(await runStudy(writeStudy(dir, study(1)), { db, threads: 1 })).toMatchObject({ done: 1 });
      // as a database written before digests were kept: the next run records them and goes on
      const raw = new Database(db);
      raw.prepare("DELETE FROM meta WHERE key = 'data_digests'").run();
      raw.close();
      expect(await runStudy(writeStudy(dir, study(2), 'more.json'), { db, threads: 1, extend: true })).toMatchObject({ done: 1 });
      writeFileSync(join(dir, 'd.csv'), 'x,y\n' + Array.from({ length: 20 }, (_, i) => `${i},${2 * i + 2}`).join('\n') + '\n');
      const e = await failure(runStudy(writeStudy(dir, study(3), 'more.json'), { db, threads: 1, extend: true }));
      expect(
        e.message.startsWith(`study "tiny": the data file of problem "${name}" changed since 2 of its runs were stored`),
        e.message,
      ).toBe(true);
    }
  });

  it('refuses a database of another study, and files that are not study databases, leaving them as they were', async () => {
    const dir = tempDir();
    const db = join(dir, 'r.db');
    await runStudy(writeStudy(dir, tinyStudy()), { db, threads: 1 });
    const other = writeStudy(dir, tinyStudy({ name: 'other' }), 'other.json');
    const e = await failure(runStudy(other, { db, threads: 1, extend: true }));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toBe(`database ${db} belongs to study "tiny", not "other"`);

    const foreign = join(dir, 'foreign.db');
    const f = new Database(foreign);
    f.exec("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada')");
    f.close();
    const bytes = readFileSync(foreign);
    const e2 = await failure(runStudy(other, { db: foreign, threads: 1 }));
    expect(e2).toBeInstanceOf(DataError);
    expect(e2.message).toBe(`database ${foreign} is not a gpmate study database`);
    expect(readFileSync(foreign).equals(bytes)).toBe(true);

    const text = join(dir, 'notes.db');
    writeFileSync(text, 'these are my notes, not a database\n'.repeat(200));
    const e3 = await failure(runStudy(other, { db: text, threads: 1 }));
    expect(e3.message).toMatch(new RegExp(`^database ${text} is not a gpmate study database`));
    expect(readFileSync(text, 'utf8')).toBe('these are my notes, not a database\n'.repeat(200));
  });

  it('reports a locked database in one line and works once the lock is gone', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ seeds: 1 }));
    const db = join(dir, 'r.db');
    await runStudy(writeStudy(dir, tinyStudy({ seeds: 1 }), 'seed.json'), { db, threads: 1 });
    const holder = new Database(db);
    holder.pragma('journal_mode = WAL');
    holder.exec('BEGIN EXCLUSIVE');
    holder.prepare("INSERT OR REPLACE INTO meta VALUES ('x', 'y')").run();
    try {
      const e = await failure(runStudy(file, { db, threads: 1, extend: true }));
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.message).toMatch(new RegExp(`^database ${db} is locked by another process`));
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect((await runStudy(file, { db, threads: 1 })).skipped).toBe(3);
  });

  it('refuses to run beside a live runner of the same database', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ seeds: 1 }));
    const db = join(dir, 'r.db');
    await runStudy(file, { db, threads: 1 });
    const sleeper = spawn('sleep', ['30']);
    try {
      const h = new Database(db);
      h.prepare("INSERT OR REPLACE INTO meta VALUES ('runner', ?)").run(String(sleeper.pid));
      h.close();
      const e = await failure(runStudy(file, { db, threads: 1 }));
      expect(e.message).toBe(`database ${db} is in use by another gpmate study run (pid ${sleeper.pid})`);
    } finally {
      sleeper.kill('SIGKILL');
    }
    await new Promise((r) => sleeper.once('exit', r));
    // A dead runner's claim (a killed process) is taken over.
    expect((await runStudy(file, { db, threads: 1 })).skipped).toBe(3);
  });

  // root ignores file modes, so as root the command runs as an unprivileged user; that needs the checkout
  // (dist/, node_modules/) to be readable by that user, which is probed first.
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const canDropPrivileges = spawnSync(process.execPath, [CLI, 'help'], { encoding: 'utf8', ...asUser }).status === 0;
  if (!canDropPrivileges) console.warn('read-only database test skipped: running as root and user 65534 cannot run the CLI here');
  it.skipIf(!canDropPrivileges)('reports a read-only database in one line and leaves it unchanged', () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ seeds: 1 }));
    const db = join(dir, 'r.db');
    const r1 = spawnSync(process.execPath, [CLI, 'study', 'run', file, '--db', db, '--threads', '1', '--quiet'], { encoding: 'utf8' });
    expect(r1.status).toBe(0);
    const grown = writeStudy(dir, tinyStudy({ seeds: 2 }), 'grown.json');
    const bytes = readFileSync(db);
    chmodSync(db, 0o444);
    chmodSync(dir, 0o555);
    try {
      const r = spawnSync(process.execPath, [CLI, 'study', 'run', grown, '--db', db, '--extend', '--threads', '1'], {
        encoding: 'utf8',
        ...asUser,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`gpmate: database ${db} is read-only (its file or folder cannot be written)\n`);
      expect(readFileSync(db).equals(bytes)).toBe(true);
    } finally {
      chmodSync(dir, 0o755);
      chmodSync(db, 0o644);
    }
  });

  it('stops with a one-line error when the disk is full, keeps every stored run whole, and resumes', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ seeds: 4 }));
    const ref = join(dir, 'ref.db');
    await runStudy(file, { db: ref, threads: 1 });
    const pages = (() => {
      const d = new Database(ref, { readonly: true });
      const n = d.pragma('page_count', { simple: true }) as number;
      d.close();
      return n;
    })();
    const db = join(dir, 'full.db');
    // A cap a few pages short of what the study needs: the disk fills part-way through.
    const e = await failure(runStudy(file, { db, threads: 1, maxPages: pages - 3 }));
    expect(e.message).toMatch(new RegExp(`^database ${db}: disk full while saving run [0-9a-f]{16}/\\d+; finished runs are kept`));
    const check = new Database(db, { readonly: true });
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    check.close();
    const s = storeState(db);
    expect(s.done).toBeGreaterThan(0);
    expect(s.done).toBeLessThan(12);
    expect(s.orphanGenerations).toBe(0);
    expect(s.generationsPerDone.every((d) => d === 0)).toBe(true);
    const resumed = await runStudy(file, { db, threads: 1 });
    expect(resumed.skipped).toBe(s.done);
    expect(deterministicContent(db)).toEqual(deterministicContent(ref));
  });

  it('the command line reports a full disk in one line with a non-zero exit', () => {
    const dir = tempDir();
    const file = writeStudy(dir, tinyStudy({ seeds: 4 }));
    const db = join(dir, 'full.db');
    const r = spawnSync(process.execPath, [CLI, 'study', 'run', file, '--db', db, '--threads', '1', '--quiet'], {
      encoding: 'utf8',
      env: { ...process.env, GPMATE_STUDY_MAX_PAGES: '12' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^gpmate: database ${db}: disk full while [^\n]*\n$`));
    const check = new Database(db, { readonly: true });
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    check.close();
    expect(storeState(db).orphanGenerations).toBe(0);
  });

  it('exports cells, runs and generations as CSV', async () => {
    const dir = tempDir();
    const db = join(dir, 'r.db');
    await runStudy(writeStudy(dir, tinyStudy()), { db, threads: 1 });
    const files = exportCsv(db, join(dir, 'csv'));
    expect(files.map((f) => f.slice(dir.length + 5))).toEqual(['cells.csv', 'runs.csv', 'generations.csv', 'across.csv']);
    const runs = readFileSync(join(dir, 'csv', 'runs.csv'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(runs).toHaveLength(7);
    expect(runs[0]).toMatch(/^cell,problem,selection,mutation,mutation_rate,variant,seed,status,best_train,/);
    const gens = readFileSync(join(dir, 'csv', 'generations.csv'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(gens).toHaveLength(1 + 6 * 6);
    const header = (gens[0] as string).split(',');
    const row = (gens[1] as string).split(',');
    expect(row).toHaveLength(header.length);
    expect(header).toContain('unique_share');
    copyFileSync(db, join(dir, 'copy.db'));
    expect(() => exportCsv(join(dir, 'missing.db'), join(dir, 'csv2'))).toThrow(`database ${join(dir, 'missing.db')}: not found`);
    // a write that fails part-way through the generation rows leaves the database free to close and read again
    const store = StudyStore.openForRead(db);
    const rows = store.eachGeneration();
    rows.next();
    rows.return(undefined);
    expect(store.generations()).toHaveLength(6 * 6);
    store.close();
  });

  it('writes CSV text in pieces of whole lines, the same text as one string', () => {
    const rows = [
      [1, 'a,b'],
      [2, 'say "hi"'],
      [3, null],
    ];
    const one = ['x,y', '1,"a,b"', '2,"say ""hi"""', '3,'].join('\n') + '\n';
    expect([...csvPieces(['x', 'y'], rows, 2)]).toEqual(['x,y\n1,"a,b"\n', '2,"say ""hi"""\n3,\n']);
    expect([...csvPieces(['x', 'y'], rows, 2)].join('')).toBe(one);
    expect([...csvPieces(['x', 'y'], rows)]).toEqual([one]);
    expect([...csvPieces(['x', 'y'], [], 2)]).toEqual(['x,y\n']);
  });
});

describe('study problems', () => {
  it('names an unknown problem or an unreadable data file by its field, before creating the database', async () => {
    const dir = tempDir();
    const db = join(dir, 'r.db');
    const file = writeStudy(dir, tinyStudy({ problems: ['koza-1', 'koza-99'] }));
    const e = await failure(runStudy(file, { db, threads: 1 }));
    expect(e.message).toMatch(new RegExp(`^study file ${file}: field "problems\\[1\\]": option problem: unknown problem "koza-99"`));
    const csv = writeStudy(dir, tinyStudy({ problems: [{ name: 'gone', data: 'nowhere.csv' }] }), 'csv.json');
    const e2 = await failure(runStudy(csv, { db, threads: 1 }));
    expect(e2.message).toMatch(new RegExp(`^study file ${csv}: field "problems\\[0\\]": .*nowhere\\.csv`));
    expect(existsSync(db)).toBe(false);
  });

  it('runs a CSV problem whose path is relative to the study file', async () => {
    const dir = tempDir();
    const rel = relative(dir, join(SHARED, 'data', 'sr', 'Pagie-1.csv'));
    const file = writeStudy(
      dir,
      tinyStudy({
        problems: [{ name: 'pagie-csv', data: rel }],
        selection: ['pimp'],
        seeds: 1,
        settings: { populationSize: 20, generations: 2 },
      }),
    );
    const s = await runStudy(file, { db: join(dir, 'r.db'), threads: 1 });
    expect(s.done).toBe(1);
    const runs = deterministicContent(join(dir, 'r.db')).runs as { best_test: number | null }[];
    expect(runs[0]?.best_test).not.toBeNull(); // the JSON beside the CSV gives test rows
  });

  it('reports and exports a study whose CSV problem gives train and test rows', async () => {
    const dir = tempDir();
    const db = join(dir, 'r.db');
    const rows = Array.from({ length: 30 }, (_, i) => `${i / 10},${(i / 10) ** 2 + 1}`);
    writeFileSync(join(dir, 'd.csv'), ['x,y', ...rows].join('\n') + '\n');
    const problem = { name: 'd', data: 'd.csv', train: [0, 20], test: [20, 30] };
    const file = writeStudy(dir, tinyStudy({ problems: [problem], selection: ['pimp'], seeds: 1 }));
    expect(await runStudy(file, { db, threads: 1 })).toMatchObject({ done: 1 });
    // the database keeps the ranges as {start, end}; reading the study back takes them again
    const store = StudyStore.openForRead(db);
    expect(store.study().problems[0]).toMatchObject({ train: { start: 0, end: 20 }, test: { start: 20, end: 30 } });
    store.close();
    expect(exportCsv(db, join(dir, 'csv')).map((p) => relative(dir, p))).toContain(join('csv', 'across.csv'));
    await writeReport(db, join(dir, 'report'));
    expect(existsSync(join(dir, 'report', 'report.html'))).toBe(true);
    // a study it cannot read back: the export fails before it writes anything
    const raw = new Database(db);
    raw.prepare("DELETE FROM meta WHERE key = 'study'").run();
    raw.close();
    expect(() => exportCsv(db, join(dir, 'csv2'))).toThrow(`database ${db} holds no study`);
    expect(existsSync(join(dir, 'csv2'))).toBe(false);
  });
});
