import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { ConfigError, optionError } from '../core/errors.js';
import type { GenerateOptions, Generation, JudgeBackend, Judgement, RequestMeter } from './backend.js';
import type { ChatPrompt, Order } from './render.js';

type Db = BetterSqlite3.Database;
type Statement<P extends unknown[] = unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;
type DbConstructor = typeof BetterSqlite3;
let Database: DbConstructor | undefined;
/** better-sqlite3 is loaded when a cache is first opened, so other commands never load the native module. */
function database(): DbConstructor {
  return (Database ??= createRequire(import.meta.url)('better-sqlite3') as DbConstructor);
}

/** A call budget ran out. The judgements made so far are cached: a rerun with a larger budget resumes. */
export class BudgetExhaustedError extends ConfigError {}

/**
 * A persistent cache of judgements and generations in one SQLite file, keyed by a SHA-256 of what
 * the answer depends on: the back end's key (model identity and every setting that changes the
 * answer) and the rendered prompt (which holds the item and its order); generations also by their
 * token limit, temperature and, when sampling, seed. Every answer is written as soon as it arrives,
 * so a run stopped at any point loses nothing it has paid for. Item and order are stored beside each
 * judgement for inspection.
 */
export class JudgeCache {
  private readonly db: Db;
  private readonly getJ: Statement<
    [string],
    { pa: number; pb: number; pc: number; text: string; source: string; prompt_tokens: number; completion_tokens: number }
  >;
  private readonly putJ: Statement;
  private readonly getG: Statement<[string], { text: string; prompt_tokens: number; completion_tokens: number }>;
  private readonly putG: Statement;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new (database())(path);
      this.db.pragma('journal_mode = WAL');
      // Tables of this key scheme (a file of the first scheme keeps its old tables, unused).
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS judgements (
          key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT NULL, item TEXT NOT NULL, item_order TEXT NOT NULL,
          pa REAL NOT NULL, pb REAL NOT NULL, pc REAL NOT NULL, text TEXT NOT NULL, source TEXT NOT NULL,
          prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS generations (
          key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT NULL,
          text TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL);`);
    } catch (e) {
      throw optionError('cache', `cannot open SQLite file ${path} (${(e as Error).message.split('\n')[0]})`);
    }
    this.getJ = this.db.prepare(
      'SELECT pa, pb, pc, text, source, prompt_tokens, completion_tokens FROM judgements WHERE key = ?',
    ) as typeof this.getJ;
    this.putJ = this.db.prepare('INSERT OR REPLACE INTO judgements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.getG = this.db.prepare('SELECT text, prompt_tokens, completion_tokens FROM generations WHERE key = ?') as typeof this.getG;
    this.putG = this.db.prepare('INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?)');
  }

  static judgementKey(judgeKey: string, prompt: ChatPrompt): string {
    return createHash('sha256')
      .update(JSON.stringify(['judge', judgeKey, prompt.system, prompt.user]))
      .digest('hex');
  }

  static generationKey(generateKey: string, prompt: ChatPrompt, o: GenerateOptions): string {
    // the seed matters only when sampling: greedy rewrites of the same text are shared
    const sampling = o.temperature > 0 ? [o.temperature, o.seed] : [0];
    return createHash('sha256')
      .update(JSON.stringify(['generate', generateKey, prompt.system, prompt.user, o.maxTokens, ...sampling]))
      .digest('hex');
  }

  getJudgement(key: string): Judgement | undefined {
    const r = this.getJ.get(key);
    return (
      r && {
        pA: r.pa,
        pB: r.pb,
        pTie: r.pc,
        text: r.text,
        source: r.source as Judgement['source'],
        promptTokens: r.prompt_tokens,
        completionTokens: r.completion_tokens,
      }
    );
  }

  putJudgement(key: string, backend: string, model: string, item: string, order: Order, j: Judgement): void {
    this.putJ.run(key, backend, model, item, order, j.pA, j.pB, j.pTie, j.text, j.source, j.promptTokens, j.completionTokens);
  }

  getGeneration(key: string): Generation | undefined {
    const r = this.getG.get(key);
    return r && { text: r.text, promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens };
  }

  putGeneration(key: string, backend: string, model: string, g: Generation): void {
    this.putG.run(key, backend, model, g.text, g.promptTokens, g.completionTokens);
  }

  /** Rows stored: judgements and generations. */
  count(): { judgements: number; generations: number } {
    const n = (t: string) => (this.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    return { judgements: n('judgements'), generations: n('generations') };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * Paid requests (every request sent to the back end, retries included: what the budget counts),
 * calls (answers not in the cache), answers served from the cache, and tokens of the paid calls.
 */
export interface CallStats {
  requests: number;
  calls: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
}

/**
 * The judge model as the fitness code sees it: cache first, then the back end, within a budget of
 * paid requests. Identical requests in flight at once are merged, so a batch never pays twice for
 * one judgement.
 */
export class JudgeService {
  readonly stats: CallStats = { requests: 0, calls: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0 };
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Spends one paid request; the back ends call it before each request they send. */
  readonly meter: RequestMeter = {
    spend: () => {
      if (this.budget !== undefined && this.stats.requests >= this.budget) {
        const detail = `budget of ${this.budget} paid requests exhausted; rerun with a larger budget to resume from the cache`;
        throw new BudgetExhaustedError(`option budget: ${detail}`, 'budget', detail);
      }
      this.stats.requests++;
    },
  };

  constructor(
    readonly backend: JudgeBackend,
    readonly cache: JudgeCache,
    /** Most paid requests in this process (undefined: no limit). */
    readonly budget?: number,
    /** The generator of LLM-driven variation (default: the judge back end). */
    readonly generator: JudgeBackend = backend,
  ) {
    if (budget !== undefined && (!Number.isInteger(budget) || budget < 0))
      throw optionError('budget', `expected an integer >= 0, got ${budget}`);
  }

  /** Has the budget run out? (The next request would fail.) */
  get exhausted(): boolean {
    return this.budget !== undefined && this.stats.requests >= this.budget;
  }

  private once<T>(key: string, make: () => Promise<T>): Promise<T> {
    const p = this.inflight.get(key);
    if (p) {
      this.stats.cacheHits++;
      return p as Promise<T>;
    }
    const q = make().finally(() => this.inflight.delete(key));
    this.inflight.set(key, q);
    q.catch(() => {}); // a failure reaches the caller; this only keeps settle() from an unhandled rejection
    return q;
  }

  /** Waits for every call in flight (after a failure, so that what was paid for reaches the cache). */
  async settle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight.values()]);
  }

  judge(prompt: ChatPrompt, item: string, order: Order): Promise<Judgement> {
    const b = this.backend;
    const key = JudgeCache.judgementKey(b.judgeKey, prompt);
    const hit = this.cache.getJudgement(key);
    if (hit) {
      this.stats.cacheHits++;
      return Promise.resolve(hit);
    }
    return this.once(key, async () => {
      const j = await b.judge(prompt, this.meter);
      this.stats.calls++;
      this.stats.promptTokens += j.promptTokens;
      this.stats.completionTokens += j.completionTokens;
      this.cache.putJudgement(key, b.id, b.model, item, order, j);
      return j;
    });
  }

  generate(prompt: ChatPrompt, o: GenerateOptions): Promise<Generation> {
    const g = this.generator;
    const key = JudgeCache.generationKey(g.generateKey, prompt, o);
    const hit = this.cache.getGeneration(key);
    if (hit) {
      this.stats.cacheHits++;
      return Promise.resolve(hit);
    }
    return this.once(key, async () => {
      const r = await g.generate(prompt, o, this.meter);
      this.stats.calls++;
      this.stats.promptTokens += r.promptTokens;
      this.stats.completionTokens += r.completionTokens;
      this.cache.putGeneration(key, g.id, g.model, r);
      return r;
    });
  }

  /** One line: paid requests, calls, cache hits, tokens. */
  summary(): string {
    const s = this.stats;
    return `paid requests ${s.requests}  calls ${s.calls}  cache hits ${s.cacheHits}  prompt tokens ${s.promptTokens}  completion tokens ${s.completionTokens}`;
  }
}
