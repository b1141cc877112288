// `gpmate study run --queue`, `study worker`, `study status`: a study across machines through Redis.
import { parseArgs } from 'node:util';
import { ConfigError } from '../core/errors.js';
import { coordinateStudy, DEFAULT_ATTEMPTS, DEFAULT_JOB_TIMEOUT_S, DEFAULT_QUEUE_WAIT_S } from '../study/coordinator.js';
import { queueStatus, type QueueStatus } from '../study/queue-status.js';
import { startQueueWorker } from '../study/queue-worker.js';
import { defaultDbPath, type StudyProgress } from '../study/runner.js';
import { parse } from './args.js';

export const QUEUE_HELP = `  gpmate study run FILE.json --queue redis://[user:password@]HOST[:PORT][/DB] [--db PATH] [--extend]
                   [--attempts N] [--job-timeout S] [--queue-wait S] [--quiet]
      coordinate the study through a Redis queue: this process keeps the database and stores results,
      workers on any machine run the runs; same results as a local run. Kill and rerun at will.
      --attempts     tries per run before it is stored as failed (default ${DEFAULT_ATTEMPTS})
      --job-timeout  seconds a run may take on a worker before the attempt fails (default ${DEFAULT_JOB_TIMEOUT_S})
      --queue-wait   seconds to wait for a lost Redis before stopping (default ${DEFAULT_QUEUE_WAIT_S})
  gpmate study worker --queue URL [--concurrency N] [--quiet]
      run jobs from the queue until stopped (Ctrl-C: finish the running runs; twice: stop now)
      --concurrency  runs at once, one worker thread each (default: the idle cores, at least 1)
  gpmate study status --queue URL
      jobs waiting, running and finished per study, workers connected, coordinators
  The password may be left out of the URL and given in GPMATE_QUEUE_PASSWORD; it is never printed.
`;

export interface QueueRunFlags {
  readonly queue: string;
  readonly db?: string | undefined;
  readonly extend?: boolean | undefined;
  readonly attempts?: string | undefined;
  readonly 'job-timeout'?: string | undefined;
  readonly 'queue-wait'?: string | undefined;
}

/** The flags of `study run` that only a coordinator takes: an error when given without --queue. */
export const QUEUE_RUN_FLAGS = ['attempts', 'job-timeout', 'queue-wait'] as const;

/** `gpmate study run FILE --queue URL`: the coordinator. */
export async function queueRun(file: string, v: QueueRunFlags, onProgress: (p: StudyProgress) => void): Promise<number> {
  const attempts = parse.int('attempts', v.attempts);
  const jobTimeoutS = parse.num('job-timeout', v['job-timeout']);
  const queueWaitS = parse.num('queue-wait', v['queue-wait']);
  const s = await coordinateStudy(file, {
    queue: v.queue,
    db: v.db ?? defaultDbPath(file),
    extend: v.extend ?? false,
    ...(attempts !== undefined ? { attempts } : {}),
    ...(jobTimeoutS !== undefined ? { jobTimeoutS } : {}),
    ...(queueWaitS !== undefined ? { queueWaitS } : {}),
    onProgress,
  });
  process.stdout.write(
    `study: ${s.total} runs, ${s.skipped} already stored, ${s.done} run now${s.failed > 0 ? `, ${s.failed} failed` : ''} in ${duration(s.wallS)} ` +
      `(queue ${s.queue}, up to ${s.workers} worker${s.workers === 1 ? '' : 's'}); results in ${s.db}\n`,
  );
  if (s.failed > 0) {
    process.stderr.write(`gpmate: ${s.failed} runs failed (see the error column of the runs table); run again to retry them\n`);
    return 1;
  }
  return 0;
}

/** `gpmate study worker --queue URL [--concurrency N] [--quiet]`. */
export async function workerCommand(args: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    options: { queue: { type: 'string' }, concurrency: { type: 'string' }, quiet: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new ConfigError(`study worker: unexpected argument ${positionals.join(' ')}`);
  if (v.queue === undefined) throw new ConfigError('study worker: option --queue URL is required');
  const concurrency = parse.int('concurrency', v.concurrency);
  const quiet = v.quiet ?? false;
  const w = await startQueueWorker({
    queue: v.queue,
    ...(concurrency !== undefined ? { concurrency } : {}),
    onLog: (line) => {
      if (!quiet) process.stderr.write(`${line}\n`);
    },
  });
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals === 1) process.stderr.write('stopping: finishing the running runs (again to stop now; they go to other workers)\n');
    void w.stop(signals > 1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const refusal = await w.stopped;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (refusal !== undefined) throw refusal;
  return 0;
}

/** `gpmate study status --queue URL`. */
export async function statusCommand(args: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args, options: { queue: { type: 'string' } }, strict: true, allowPositionals: true });
  if (positionals.length > 0) throw new ConfigError(`study status: unexpected argument ${positionals.join(' ')}`);
  if (v.queue === undefined) throw new ConfigError('study status: option --queue URL is required');
  const s = await queueStatus(v.queue);
  const row = (label: string, c: QueueStatus['counts']): string =>
    `  ${label.padEnd(24)} ${String(c.waiting).padStart(7)} ${String(c.active).padStart(7)} ${String(c.delayed).padStart(7)} ` +
    `${String(c.completed).padStart(9)} ${String(c.failed).padStart(7)}\n`;
  let out = `queue ${s.queue} (Redis ${s.redisVersion})\n`;
  out += `  ${'jobs'.padEnd(24)} ${'waiting'.padStart(7)} ${'running'.padStart(7)} ${'retry'.padStart(7)} ${'finished'.padStart(9)} ${'failed'.padStart(7)}\n`;
  out += row('all', s.counts);
  for (const st of s.studies) out += row(`study ${st.study}`, st);
  out += '  (finished and failed jobs wait in Redis until their coordinator stores them)\n';
  if (s.workers === undefined) out += 'workers: unknown (this Redis refuses CLIENT LIST)\n';
  else {
    out += `workers: ${s.workers.length}\n`;
    for (const w of s.workers)
      out += `  ${w.name.padEnd(32)} ${w.addr.padEnd(22)} connected ${duration(w.ageS)}, idle ${duration(w.idleS)}\n`;
  }
  out += `coordinators: ${s.coordinators.length}\n`;
  for (const c of s.coordinators) out += `  study ${c.study}: pid ${c.pid} on ${c.host}, database ${c.db}, since ${c.since}\n`;
  process.stdout.write(out);
  return 0;
}

export function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  const m = Math.floor(t / 60);
  return m > 0 ? `${m}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}
