// What the queue coordinator and the queue workers share: the Redis URL (parsed, masked), the connection,
// the job's format and id, the result's wire format, and data files shipped through Redis by content hash.
import { Queue, type RedisClient, type RedisOptions } from 'bullmq';
import { createHash } from 'node:crypto';
import { statSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigError, DataError, optionError } from '../core/errors.js';
import type { DiversitySetting } from '../diversity/index.js';
import type { RegressionOptions } from '../sr/run.js';
import { studyDataFiles } from './grid.js';
import type { LoadedStudy } from './runner.js';
import type { StudyProblem } from './schema.js';
import type { RunRecord } from './store.js';

/** BullMQ key prefix and queue name: every study on one Redis database shares the queue `gpmate:runs`. */
export const QUEUE_PREFIX = 'gpmate';
export const QUEUE_NAME = 'runs';
/** Keys of our own beside BullMQ's: data files by hash, coordinator claims by study name. */
const KEY_DATA = 'gpmate-study:data:';
export const KEY_COORDINATOR = 'gpmate-study:coordinator:';
/** A worker's refusal of a job (another gpmate version), published on the queue's event stream for the coordinator. */
export const REFUSED_EVENT = 'gpmate-refused';
/**
 * The queue's event stream keeps about this many events. Each `completed` event carries a whole result;
 * nothing depends on the events (the coordinator reads finished jobs themselves), they only wake it early.
 */
export const EVENTS_MAX_LEN = 500;
/** Layout of {@link RunJob}; a worker refuses a job of another layout or another gpmate version. */
export const JOB_FORMAT = 1;
/** A data file shipped through Redis may be this large (Redis strings hold 512 MB; base64 adds a third). */
export const MAX_DATA_BYTES = 64 * 1024 * 1024;
/** Data files stay in Redis this long after the coordinator last refreshed them. */
const DATA_TTL_S = 7 * 24 * 3600;
/** Environment variable with the Redis password, for a URL that leaves it out (so that `ps` cannot show it). */
export const PASSWORD_ENV = 'GPMATE_QUEUE_PASSWORD';

/** A Redis URL checked and split into what is printed (the password masked) and the secret. */
export interface QueueUrl {
  readonly url: string;
  /** The URL with the password replaced by `***`: the only form ever printed. */
  readonly masked: string;
  readonly password?: string;
}

/**
 * Checks a queue URL: `redis://[user[:password]@]host[:port][/db]` or `rediss://` (TLS). The password may
 * also come from {@link PASSWORD_ENV}. The error names the URL masked.
 */
export function parseQueueUrl(text: string, env: NodeJS.ProcessEnv = process.env): QueueUrl {
  const bad = (why: string): never => {
    throw optionError('queue', `${why}: expected redis://[user:password@]host[:port][/db], got "${maskUrl(text)}"`);
  };
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return bad('not a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') bad(`scheme "${u.protocol.replace(/:$/, '')}" is not redis or rediss`);
  if (u.hostname === '') bad('no host');
  if (u.search !== '' || u.hash !== '') bad('no query or fragment allowed');
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) bad(`database "${db}" is not a number`);
  const password = u.password !== '' ? decodeURIComponent(u.password) : env[PASSWORD_ENV] || undefined;
  if (password !== undefined && u.password === '') u.password = encodeURIComponent(password);
  return { url: u.toString(), masked: maskUrl(text), ...(password !== undefined ? { password } : {}) };
}

/** The URL as given, with any password replaced by `***` (also for text that does not parse as a URL). */
export function maskUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/]*@/i, '$1:***@');
}

/** A message with every occurrence of the password (plain or URL-encoded) replaced by `***`. */
export function maskSecret(message: string, q: QueueUrl): string {
  if (q.password === undefined || q.password === '') return message;
  return message.split(q.password).join('***').split(encodeURIComponent(q.password)).join('***');
}

/** BullMQ connection options for a queue URL; ioredis reconnects by itself after a loss. */
export function connectionOptions(q: QueueUrl): RedisOptions {
  // disconnectTimeout: a socket that failed is not kept 2 s (ioredis' default) after a disconnect, holding up the exit.
  return { url: q.url, connectTimeout: 10_000, disconnectTimeout: 500, ...(q.password !== undefined ? { password: q.password } : {}) };
}

/** A data file of a study, named in a job by its SHA-256; its bytes travel once through Redis. */
export interface FileRef {
  readonly sha256: string;
  /** The file's name without folders: the worker writes it under this name (a CSV's name is its task's name). */
  readonly name: string;
  readonly bytes: number;
}

/** One run as a job: plain JSON, everything a worker on another machine needs, no paths. */
export interface RunJob {
  readonly format: number;
  /** The coordinator's gpmate version: a worker of another version refuses the job. */
  readonly gpmate: string;
  readonly study: string;
  readonly studyHash: string;
  readonly cell: string;
  readonly seed: number;
  /** The problem without its `data` and `meta` paths; those files are in `files`. */
  readonly problem: StudyProblem;
  readonly files: { readonly data?: FileRef; readonly meta?: FileRef };
  readonly options: Omit<RegressionOptions, 'seed'>;
  readonly diversity: DiversitySetting;
  /** A run still running after this many seconds is stopped and counts as a failed attempt. */
  readonly timeoutS: number;
}

/**
 * A job's id: study name, cell hash and seed. The same run always has the same id, so adding it again
 * (a restarted coordinator) is a no-op while the job is in Redis; the study name keeps two studies on
 * one queue apart, and staying the same under `--extend` keeps jobs already queued valid.
 */
export function jobId(study: string, cell: string, seed: number): string {
  return `${study}.${cell}.${seed}`;
}

/** The study, cell and seed of a job id made by {@link jobId}; undefined for other ids. */
export function parseJobId(id: string): { study: string; cell: string; seed: number } | undefined {
  const m = /^(.+)\.([0-9a-f]{16})\.(\d+)$/.exec(id);
  return m ? { study: m[1] as string, cell: m[2] as string, seed: Number(m[3]) } : undefined;
}

/** A study's data files, read and hashed once by the coordinator. */
export interface StudyFiles {
  /** Per problem name: the refs its jobs carry. */
  readonly refs: ReadonlyMap<string, RunJob['files']>;
  /** Per hash: the bytes. */
  readonly blobs: ReadonlyMap<string, Buffer>;
}

/**
 * Reads every data file of the study (each CSV and the JSON description that goes with it, found as the
 * local runner finds it) and hashes it. Files above {@link MAX_DATA_BYTES} are refused, naming the field.
 */
export function readStudyFiles(study: LoadedStudy): StudyFiles {
  const refs = new Map<string, RunJob['files']>();
  const blobs = new Map<string, Buffer>();
  const ref = (path: string, field: string): FileRef => {
    const size = statSync(path).size;
    if (size > MAX_DATA_BYTES) {
      throw new ConfigError(
        `study file ${study.path}: field "${field}": ${path} has ${size} bytes; a queue ships data files of at most ${MAX_DATA_BYTES} bytes`,
      );
    }
    const bytes = readFileSync(path);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    blobs.set(sha256, bytes);
    return { sha256, name: basename(path), bytes: bytes.length };
  };
  for (const f of studyDataFiles(study.spec.problems, study.baseDir)) {
    refs.set(f.name, {
      data: ref(f.data, `problems[${f.index}].data`),
      ...(f.meta !== undefined ? { meta: ref(f.meta, `problems[${f.index}].meta`) } : {}),
    });
  }
  return { refs, blobs };
}

/** Puts the study's data files into Redis (once: a file already there is only kept alive longer). */
export async function publishFiles(client: RedisClient, blobs: ReadonlyMap<string, Buffer>): Promise<void> {
  for (const [sha, bytes] of blobs) {
    const key = KEY_DATA + sha;
    const added: unknown = await client.runCommand('set', [key, bytes.toString('base64'), 'EX', DATA_TTL_S, 'NX']);
    if (added === null) await client.runCommand('expire', [key, DATA_TTL_S]);
  }
}

/** A data file's bytes from Redis, checked against its hash; a DataError says what is wrong. */
export async function fetchFile(client: RedisClient, ref: FileRef): Promise<Buffer> {
  const text = await client.get(KEY_DATA + ref.sha256);
  if (text === null) {
    throw new DataError(`data file ${ref.name} (sha256 ${ref.sha256.slice(0, 12)}) is not in Redis; run the coordinator again to ship it`);
  }
  const bytes = Buffer.from(text, 'base64');
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== ref.sha256) {
    throw new DataError(`data file ${ref.name}: content hash ${sha.slice(0, 12)} differs from the job's ${ref.sha256.slice(0, 12)}`);
  }
  return bytes;
}

/**
 * A run's result as text for the queue: JSON, with the numbers JSON cannot write (Infinity, NaN, -0)
 * tagged so that the coordinator stores exactly what the local runner would.
 */
export function encodeResult(r: RunRecord): string {
  return JSON.stringify(r, (_k, v: unknown) => {
    if (typeof v !== 'number' || (Number.isFinite(v) && !Object.is(v, -0))) return v;
    return { $num: Object.is(v, -0) ? '-0' : String(v) };
  });
}

/** The inverse of {@link encodeResult}, checking the shape of what arrives; a DataError when it is not a result. */
export function decodeResult(text: unknown): RunRecord {
  if (typeof text !== 'string') throw new DataError(`malformed result from a worker: expected text, got ${typeof text}`);
  let v: unknown;
  try {
    v = JSON.parse(text, (_k, x: unknown) => {
      if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
        const tag = (x as Record<string, unknown>)['$num'];
        if (typeof tag === 'string' && Object.keys(x).length === 1) return tag === '-0' ? -0 : Number(tag);
      }
      return x;
    });
  } catch (e) {
    throw new DataError(`malformed result from a worker: ${(e as Error).message}`);
  }
  const r = v as Record<string, unknown>;
  const num = (k: string, nullable = false): void => {
    const x = r[k];
    if (!(typeof x === 'number' || (nullable && x === null))) throw new DataError(`malformed result from a worker: field ${k}`);
  };
  if (typeof v !== 'object' || v === null) throw new DataError('malformed result from a worker: not an object');
  ['bestTrain', 'trainR2', 'size', 'depth', 'generations', 'evaluations', 'wallMs'].forEach((k) => num(k));
  ['bestTest', 'testR2'].forEach((k) => num(k, true));
  if (typeof r['success'] !== 'boolean' || typeof r['expression'] !== 'string') {
    throw new DataError('malformed result from a worker: fields success, expression');
  }
  if (!(r['preference'] === null || typeof r['preference'] === 'string'))
    throw new DataError('malformed result from a worker: field preference');
  const history = r['history'];
  if (!Array.isArray(history) || !history.every((s) => typeof s === 'object' && s !== null && typeof s.generation === 'number')) {
    throw new DataError('malformed result from a worker: field history');
  }
  return v as RunRecord;
}

/**
 * Watches one queue connection: when it was lost, why, and when it came back. ioredis reconnects by
 * itself; the owner decides how long to wait.
 */
export class LinkWatch {
  /** performance.now() when the connection was lost; undefined while it is up. */
  lostSince: number | undefined;
  lastError = '';
  /** Counts reconnections, so the owner can tell that Redis may have lost its data meanwhile. */
  reconnects = 0;

  constructor(private readonly q: QueueUrl) {}

  /** Listens to the client's events (ready, close, error). */
  attach(client: RedisClient): void {
    client.on('close', () => {
      this.lostSince ??= performance.now();
    });
    client.on('ready', () => {
      if (this.lostSince !== undefined) this.reconnects++;
      this.lostSince = undefined;
    });
    client.on('error', (e: Error) => this.noteError(e));
  }

  noteError(e: unknown): void {
    this.lastError = maskSecret(errorText(e), this.q);
  }

  lostForS(): number {
    return this.lostSince === undefined ? 0 : (performance.now() - this.lostSince) / 1000;
  }
}

function errorText(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return (err?.message ?? String(e)).split('\n')[0] || err?.code || 'connection closed';
}

/**
 * Closes a BullMQ queue, event listener or worker without hanging on a Redis that is gone: when the
 * connection is lost its client is disconnected first (no reconnecting), and no close waits more than 5 s.
 */
export async function closeQuietly(o: { readonly client: Promise<RedisClient>; close(): Promise<void> }, lost: boolean): Promise<void> {
  const within = (p: Promise<unknown>, ms: number): Promise<unknown> =>
    Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);
  if (lost)
    await within(
      o.client.then((c) => c.disconnect()),
      100,
    );
  await within(o.close(), 5000);
}

/**
 * Connects to the queue and waits until Redis answers. Unreachable, refused, wrong password or a Redis
 * too old for BullMQ: a ConfigError naming the masked URL, at the first failure or after `waitMs`.
 */
export async function openQueue(q: QueueUrl, waitMs = 30_000): Promise<{ queue: Queue; link: LinkWatch }> {
  // While connecting for the first time a failure ends the attempt (no retries), so that the error is
  // reported at once; afterwards ioredis reconnects as BullMQ sets it up by default.
  let connecting = true;
  const retryStrategy = (times: number): number | null => (connecting ? null : Math.max(Math.min(Math.exp(times), 20_000), 1000));
  const queue = new Queue(QUEUE_NAME, {
    connection: { ...connectionOptions(q), retryStrategy },
    prefix: QUEUE_PREFIX,
    streams: { events: { maxLen: EVENTS_MAX_LEN } },
  });
  const link = new LinkWatch(q);
  queue.on('error', (e) => link.noteError(e));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${waitMs / 1000} s`)), waitMs);
  });
  try {
    link.attach(await Promise.race([queue.waitUntilReady(), timeout]));
    connecting = false;
    return { queue, link };
  } catch (e) {
    await queue.close().catch(() => undefined);
    throw new ConfigError(`queue ${q.masked}: cannot connect to Redis (${maskSecret(errorText(e), q)})`);
  } finally {
    clearTimeout(timer);
  }
}
