import Database from 'better-sqlite3';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { GenerationStats } from '../core/evolve.js';
import { ConfigError, DataError, optionError } from '../core/errors.js';
import { canonicalJson, expandGrid, studyHash } from './grid.js';
import { parseStudy, studyFileJson, type StudySpec } from './schema.js';

type Db = InstanceType<typeof Database>;

/** Version of the table layout below; a database of another version is refused. */
export const STORE_VERSION = '1';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
  hash TEXT PRIMARY KEY, problem TEXT NOT NULL, selection TEXT NOT NULL, mutation TEXT NOT NULL,
  mutation_rate REAL NOT NULL, variant TEXT NOT NULL, options TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  cell TEXT NOT NULL REFERENCES cells(hash), seed INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  best_train REAL, best_test REAL, train_r2 REAL, test_r2 REAL, success INTEGER, size INTEGER, depth INTEGER,
  expression TEXT, preference TEXT, generations INTEGER, evaluations INTEGER, error TEXT,
  started_at TEXT, finished_at TEXT, wall_ms REAL,
  PRIMARY KEY (cell, seed));
CREATE TABLE IF NOT EXISTS generations (
  cell TEXT NOT NULL, seed INTEGER NOT NULL, generation INTEGER NOT NULL, evaluations INTEGER NOT NULL,
  best_fitness REAL, median_fitness REAL, mean_fitness REAL, invalid_share REAL, best_size REAL, mean_size REAL,
  unique_share REAL, pref_mean_size REAL, pref_median_size REAL, pref_single_node_share REAL,
  pref_mean_mate_distance REAL, extra TEXT,
  PRIMARY KEY (cell, seed, generation));
`;

/** What a finished run stores (everything but the timings is deterministic given cell and seed). */
export interface RunRecord {
  readonly bestTrain: number;
  readonly bestTest: number | null;
  readonly trainR2: number;
  readonly testR2: number | null;
  readonly success: boolean;
  readonly size: number;
  readonly depth: number;
  readonly expression: string;
  readonly preference: string | null;
  readonly generations: number;
  readonly evaluations: number;
  readonly history: readonly GenerationStats[];
  readonly wallMs: number;
}

/** A run row as read back. */
export interface RunRow {
  cell: string;
  seed: number;
  status: 'running' | 'done' | 'failed';
  best_train: number | null;
  best_test: number | null;
  train_r2: number | null;
  test_r2: number | null;
  success: number | null;
  size: number | null;
  depth: number | null;
  expression: string | null;
  preference: string | null;
  generations: number | null;
  evaluations: number | null;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
  wall_ms: number | null;
}

export interface CellRow {
  hash: string;
  problem: string;
  selection: string;
  mutation: string;
  mutation_rate: number;
  variant: string;
  options: string;
}

export interface GenerationRow {
  cell: string;
  seed: number;
  generation: number;
  evaluations: number;
  best_fitness: number | null;
  median_fitness: number | null;
  mean_fitness: number | null;
  invalid_share: number | null;
  best_size: number | null;
  mean_size: number | null;
  unique_share: number | null;
  pref_mean_size: number | null;
  pref_median_size: number | null;
  pref_single_node_share: number | null;
  pref_mean_mate_distance: number | null;
  extra: string | null;
}

/** Turns SQLite's failures into one-line errors that name the database and say what to do. */
export function storeError(path: string, e: unknown, doing: string): Error {
  const code = (e as { code?: string }).code ?? '';
  const msg = (e as Error).message ?? String(e);
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY') || code === 'SQLITE_LOCKED') {
    return new ConfigError(`database ${path} is locked by another process (${doing}); try again when it is free`);
  }
  if (code.startsWith('SQLITE_READONLY')) return new ConfigError(`database ${path} is read-only (${doing})`);
  if (code === 'SQLITE_FULL') {
    return new Error(`database ${path}: disk full while ${doing}; finished runs are kept, free space and rerun to continue`);
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
    return new DataError(`database ${path} is not a gpmate study database (${msg})`);
  if (code === 'SQLITE_CANTOPEN') return new ConfigError(`database ${path} cannot be opened (${msg})`);
  if (code.startsWith('SQLITE_IOERR')) return new Error(`database ${path}: I/O error while ${doing} (${msg})`);
  return e instanceof Error ? e : new Error(msg);
}

/** Stored columns of a GenerationStats. */
function generationValues(s: GenerationStats): unknown[] {
  const finite = (x: number | undefined): number | null => (x === undefined || Number.isNaN(x) ? null : x);
  const extra = s.extra && Object.keys(s.extra).length > 0 ? canonicalJson(s.extra) : null;
  return [
    s.generation,
    s.evaluations,
    finite(s.bestFitness),
    finite(s.medianFitness),
    finite(s.meanFitness),
    finite(s.invalidShare),
    finite(s.bestSize),
    finite(s.meanSize),
    finite(s.uniqueShare),
    finite(s.preference?.meanSize),
    finite(s.preference?.medianSize),
    finite(s.preference?.singleNodeShare),
    finite(s.preference?.meanMateDistance),
    extra,
  ];
}

/**
 * The result store of one study: a SQLite file (better-sqlite3, WAL journal, synchronous FULL).
 * A run's row and all its generation rows are written in one transaction when it finishes, so a
 * killed process leaves only whole runs behind; rows with status `running` or `failed` are redone.
 */
export class StudyStore {
  private constructor(
    readonly path: string,
    private readonly db: Db,
  ) {}

  /**
   * Opens (creating if needed) the database for running a study. Refuses a database of another study
   * (different name), one whose study changed since runs were stored unless `extend` is set, and one
   * holding runs of a problem whose data file changed since (`dataDigests`: per problem, a digest of its
   * data files; extending cannot make runs on two versions of the data comparable).
   */
  static openForRun(
    path: string,
    spec: StudySpec,
    opts: { extend?: boolean; maxPages?: number; studyDir?: string; dataDigests?: ReadonlyMap<string, string> } = {},
  ): StudyStore {
    const exists = existsSync(path);
    if (!existsSync(dirname(path) || '.')) throw new ConfigError(`database ${path}: folder ${dirname(path)} does not exist`);
    try {
      accessSync(exists ? path : dirname(path) || '.', constants.W_OK);
      if (exists) accessSync(dirname(path) || '.', constants.W_OK);
    } catch {
      throw new ConfigError(`database ${path} is read-only (its file or folder cannot be written)`);
    }
    const store = StudyStore.open(path, false, 'opening it');
    try {
      store.guard('setting it up', () => {
        // Check whose database this is before anything (even the journal mode) touches the file.
        store.checkOwner(spec);
        store.db.pragma('journal_mode = WAL');
        store.db.pragma('synchronous = FULL');
        if (opts.maxPages !== undefined) store.db.pragma(`max_page_count = ${Math.floor(opts.maxPages)}`);
        store.db.transaction(() => store.bind(spec, opts.extend ?? false, opts.studyDir, opts.dataDigests ?? new Map())).immediate();
      });
      return store;
    } catch (e) {
      store.close();
      throw e;
    }
  }

  /** Opens an existing study database read-only (for reports and exports). */
  static openForRead(path: string): StudyStore {
    if (!existsSync(path)) throw new ConfigError(`database ${path}: not found`);
    const store = StudyStore.open(path, true, 'opening it');
    try {
      store.guard('reading it', () => {
        if (store.readMeta('format') !== 'gpmate-study') throw new DataError(`database ${path} is not a gpmate study database`);
      });
      return store;
    } catch (e) {
      store.close();
      throw e;
    }
  }

  private static open(path: string, readonly: boolean, doing: string): StudyStore {
    let db: Db;
    try {
      db = new Database(path, { readonly, fileMustExist: readonly, timeout: 2000 });
    } catch (e) {
      throw storeError(path, e, doing);
    }
    return new StudyStore(path, db);
  }

  private guard<T>(doing: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw storeError(this.path, e, doing);
    }
  }

  /** Per problem, the digest of the data files its stored runs were made on (filesDigest, grid.ts); empty when not recorded. */
  dataDigests(): Map<string, string> {
    return this.guard('reading it', () => {
      const stored: unknown = JSON.parse(this.readMeta('data_digests') ?? '{}');
      const entries = stored !== null && typeof stored === 'object' ? Object.entries(stored) : [];
      return new Map(entries.filter((e): e is [string, string] => typeof e[1] === 'string'));
    });
  }

  /** The folder of the study file the last `study run` read (relative data paths are relative to it), if recorded. */
  studyDir(): string | undefined {
    return this.guard('reading it', () => this.readMeta('study_dir'));
  }

  private readMeta(key: string): string | undefined {
    const hasMeta = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    if (!hasMeta) return undefined;
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  private checkOwner(spec: StudySpec): void {
    const tables = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    if (tables.length > 0) {
      const format = this.readMeta('format');
      if (format !== 'gpmate-study') throw new DataError(`database ${this.path} is not a gpmate study database`);
      const version = this.readMeta('version');
      if (version !== STORE_VERSION)
        throw new DataError(`database ${this.path} has layout version ${version}, this gpmate writes ${STORE_VERSION}`);
      const name = this.readMeta('name');
      if (name !== spec.name) throw new ConfigError(`database ${this.path} belongs to study "${name}", not "${spec.name}"`);
    }
  }

  private bind(spec: StudySpec, extend: boolean, studyDir: string | undefined, digests: ReadonlyMap<string, string>): void {
    this.checkOwner(spec);
    this.db.exec(SCHEMA);
    const hash = studyHash(spec);
    const stored = this.readMeta('study_hash');
    if (stored !== undefined && stored !== hash) {
      const runs = (this.db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
      if (runs > 0 && !extend) {
        throw optionError(
          'extend',
          `study "${spec.name}" changed since ${runs} runs were stored in ${this.path}; give this option to add the new cells and seeds`,
        );
      }
    }
    // the data each problem's stored runs were made on (a database written before this was kept has none)
    const storedDigests = this.dataDigests();
    const doneRuns = this.db.prepare(
      "SELECT COUNT(*) AS n FROM runs JOIN cells ON runs.cell = cells.hash WHERE cells.problem = ? AND runs.status = 'done'",
    );
    for (const [problem, digest] of digests) {
      const before = storedDigests.get(problem);
      if (before === undefined || before === digest) continue;
      const runs = (doneRuns.get(problem) as { n: number }).n;
      if (runs > 0)
        throw new DataError(
          `study "${spec.name}": the data file of problem "${problem}" changed since ${runs} of its runs were stored in ${this.path} (sha256 ${before.slice(0, 12)}, now ${digest.slice(0, 12)}); restore the file or start a new database`,
        );
    }
    const put = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    put.run('data_digests', canonicalJson(Object.fromEntries([...storedDigests, ...digests])));
    put.run('format', 'gpmate-study');
    put.run('version', STORE_VERSION);
    put.run('name', spec.name);
    put.run('study_hash', hash);
    put.run('study', canonicalJson(spec));
    // where the study file's relative data paths point (the report reads the problems' inputs again)
    if (studyDir !== undefined) put.run('study_dir', studyDir);
    const cell = this.db.prepare(
      'INSERT OR IGNORE INTO cells (hash, problem, selection, mutation, mutation_rate, variant, options) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const c of expandGrid(spec)) {
      cell.run(
        c.hash,
        c.problem.name,
        c.selection,
        c.mutation,
        c.mutationRate,
        c.variant,
        canonicalJson({ problem: c.problem, options: c.options, diversity: c.diversity }),
      );
    }
  }

  /** The study this database was last run with. */
  study(): StudySpec {
    return this.guard('reading it', () => {
      const text = this.readMeta('study');
      if (text === undefined) throw new DataError(`database ${this.path} holds no study`);
      return parseStudy(studyFileJson(JSON.parse(text) as StudySpec), this.path);
    });
  }

  /** Keys `cell/seed` of the runs already finished. */
  finishedRuns(): Set<string> {
    return this.guard('reading it', () => {
      const rows = this.db.prepare("SELECT cell, seed FROM runs WHERE status = 'done'").all() as { cell: string; seed: number }[];
      return new Set(rows.map((r) => `${r.cell}/${r.seed}`));
    });
  }

  /** Marks a run as started (its row says `running` until it finishes). */
  markRunning(cell: string, seed: number, startedAt: string): void {
    this.guard(`marking run ${cell}/${seed} started`, () => {
      this.db
        .prepare(
          `INSERT INTO runs (cell, seed, status, started_at) VALUES (?, ?, 'running', ?)
           ON CONFLICT (cell, seed) DO UPDATE SET status = 'running', error = NULL, started_at = excluded.started_at`,
        )
        .run(cell, seed, startedAt);
    });
  }

  /**
   * Stores a finished run and its generations in one transaction (replacing any earlier attempt). A run
   * already stored finished is left as it is and false returned: a result that arrives twice (a queued
   * job retried after its first result was stored) is never duplicated.
   */
  saveRun(cell: string, seed: number, r: RunRecord, startedAt: string, finishedAt: string): boolean {
    const num = (x: number | null): number | null => (x === null || Number.isNaN(x) ? null : x);
    return this.guard(`saving run ${cell}/${seed}`, () => {
      const gen = this.db.prepare(`INSERT INTO generations VALUES (?, ?, ${Array(14).fill('?').join(', ')})`);
      return this.db
        .transaction(() => {
          if (this.isDone(cell, seed)) return false;
          this.db.prepare('DELETE FROM generations WHERE cell = ? AND seed = ?').run(cell, seed);
          for (const s of r.history) gen.run(cell, seed, ...generationValues(s));
          this.db
            .prepare(
              `INSERT OR REPLACE INTO runs (cell, seed, status, best_train, best_test, train_r2, test_r2, success, size, depth,
               expression, preference, generations, evaluations, error, started_at, finished_at, wall_ms)
             VALUES (?, ?, 'done', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
            )
            .run(
              cell,
              seed,
              num(r.bestTrain),
              num(r.bestTest),
              num(r.trainR2),
              num(r.testR2),
              r.success ? 1 : 0,
              r.size,
              r.depth,
              r.expression,
              r.preference,
              r.generations,
              r.evaluations,
              startedAt,
              finishedAt,
              r.wallMs,
            );
          return true;
        })
        .immediate();
    });
  }

  /**
   * Records a failed run (it is retried on the next `study run`); creates its row when none was marked
   * running (a queued run), and never overwrites a run stored finished.
   */
  saveFailure(cell: string, seed: number, error: string, finishedAt: string, startedAt: string | null = null): void {
    this.guard(`saving run ${cell}/${seed}`, () => {
      this.db
        .prepare(
          `INSERT INTO runs (cell, seed, status, error, started_at, finished_at) VALUES (?, ?, 'failed', ?, ?, ?)
           ON CONFLICT (cell, seed) DO UPDATE SET status = 'failed', error = excluded.error, finished_at = excluded.finished_at
           WHERE runs.status != 'done'`,
        )
        .run(cell, seed, error, startedAt, finishedAt);
    });
  }

  private isDone(cell: string, seed: number): boolean {
    const row = this.db.prepare('SELECT status FROM runs WHERE cell = ? AND seed = ?').get(cell, seed) as { status: string } | undefined;
    return row?.status === 'done';
  }

  /** Claims the database for one runner process; refuses while another live process holds it. */
  claim(pid: number): void {
    this.guard('claiming it', () => {
      this.db
        .transaction(() => {
          const holder = this.readMeta('runner');
          const other = holder === undefined ? NaN : Number(holder);
          if (Number.isInteger(other) && other !== pid && processAlive(other)) {
            throw new ConfigError(`database ${this.path} is in use by another gpmate study run (pid ${other})`);
          }
          this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('runner', ?)").run(String(pid));
        })
        .immediate();
    });
  }

  release(pid: number): void {
    try {
      this.db.prepare("DELETE FROM meta WHERE key = 'runner' AND value = ?").run(String(pid));
    } catch {
      // Best effort: a stale claim is recognised by its dead pid.
    }
  }

  cells(): CellRow[] {
    return this.guard('reading it', () => this.db.prepare('SELECT * FROM cells ORDER BY rowid').all() as CellRow[]);
  }

  runs(): RunRow[] {
    return this.guard('reading it', () => this.db.prepare('SELECT * FROM runs ORDER BY cell, seed').all() as RunRow[]);
  }

  generations(): GenerationRow[] {
    return this.guard('reading it', () => this.generationRows().all() as GenerationRow[]);
  }

  /**
   * The rows of {@link generations} one at a time, for a study too large to hold them all (an export of
   * millions of rows). No other statement may run on this store until the iteration ends.
   */
  *eachGeneration(): Generator<GenerationRow> {
    const rows = this.guard('reading it', () => this.generationRows().iterate() as IterableIterator<GenerationRow>);
    try {
      for (;;) {
        const next = this.guard('reading it', () => rows.next());
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // a reader that stops early (a failed write) frees the statement, so the store can close
      rows.return?.();
    }
  }

  private generationRows() {
    return this.db.prepare('SELECT * FROM generations ORDER BY cell, seed, generation');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Whether a process of this machine is alive (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
