// `gpmate study run --queue`, `study worker`, `study status`: a study across machines through Redis.
import { ConfigError } from '../core/errors.js';
import { coordinateStudy, DEFAULT_ATTEMPTS, DEFAULT_JOB_TIMEOUT_S, DEFAULT_QUEUE_WAIT_S } from '../study/coordinator.js';
import { queueStatus, type QueueStatus } from '../study/queue-status.js';
import { startQueueWorker } from '../study/queue-worker.js';
import { defaultDbPath, type StudyProgress } from '../study/runner.js';
import { flag, helpText, parseFlags, toggle, type CommandFlags, type FlagSection, type FlagValue } from './flags.js';

const QUEUE_FLAG = flag(
  'queue URL',
  'queue',
  'string',
  'redis://[user:password@]HOST[:PORT][/DB] (rediss:// for TLS); the password may instead be in\nGPMATE_QUEUE_PASSWORD; it is never printed',
);

/** `study run`'s flags for a coordinator: the run goes through a queue, workers do the runs. */
export const QUEUE_RUN_SECTION: FlagSection = {
  title: 'Through a queue (this process keeps the database; `gpmate study worker` on any machine runs the runs)',
  flags: [
    QUEUE_FLAG,
    flag('attempts N', 'attempts', 'int', 'tries per run before it is stored as failed', String(DEFAULT_ATTEMPTS)),
    flag(
      'job-timeout S',
      'jobTimeoutS',
      'number',
      'seconds a run may take on a worker before the attempt fails',
      String(DEFAULT_JOB_TIMEOUT_S),
    ),
    flag(
      'queue-wait S',
      'queueWaitS',
      'number',
      'seconds to wait for a lost Redis before stopping (what is stored stays)',
      String(DEFAULT_QUEUE_WAIT_S),
    ),
  ],
};

export const WORKER_FLAGS = {
  head: `gpmate study worker --queue URL [options]
  run study jobs from the queue until stopped (Ctrl-C: finish the running runs; twice: stop now, they go
  to other workers). Needs gpmate of the coordinator's version; no shared files.`,
  sections: [
    {
      title: 'Options',
      flags: [
        QUEUE_FLAG,
        flag('concurrency N', 'concurrency', 'int', 'runs at once, one worker thread each', 'the idle cores, at least 1'),
        toggle('quiet', 'quiet', 'no line per run'),
      ],
    },
  ],
} as const satisfies CommandFlags;

export const STATUS_FLAGS = {
  head: 'gpmate study status --queue URL\n  jobs waiting, running and finished per study, the workers connected, the coordinators',
  sections: [{ title: 'Options', flags: [QUEUE_FLAG] }],
} as const satisfies CommandFlags;

/** `gpmate study run FILE --queue URL`: the coordinator (`v`: the parsed flags of `study run`). */
export async function queueRun(
  file: string,
  v: Readonly<Record<string, FlagValue>>,
  onProgress: (p: StudyProgress) => void,
): Promise<number> {
  if (v['threads'] !== undefined) throw new ConfigError('option --threads: not with --queue (each worker sets its --concurrency)');
  let hinted = v['quiet'] === true;
  const progress = (p: StudyProgress): void => {
    if (!hinted && p.workers === 0 && p.done + p.failed < p.total) {
      hinted = true;
      process.stderr.write(
        `no worker is connected yet: start 'gpmate study worker --queue URL' on the machines that should run the runs\n`,
      );
    }
    onProgress(p);
  };
  const s = await coordinateStudy(file, {
    queue: v['queue'] as string,
    db: (v['db'] as string | undefined) ?? defaultDbPath(file),
    extend: v['extend'] === true,
    ...(v['attempts'] !== undefined ? { attempts: v['attempts'] as number } : {}),
    ...(v['jobTimeoutS'] !== undefined ? { jobTimeoutS: v['jobTimeoutS'] as number } : {}),
    ...(v['queueWaitS'] !== undefined ? { queueWaitS: v['queueWaitS'] as number } : {}),
    onProgress: progress,
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

/** The flags of `study run` that only a coordinator takes. */
export function queueOnlyFlag(v: Readonly<Record<string, FlagValue>>): string | undefined {
  return QUEUE_RUN_SECTION.flags.find((f) => f.key !== 'queue' && v[f.key] !== undefined)?.flag;
}

/** `gpmate study worker --queue URL [--concurrency N] [--quiet]`. */
export async function workerCommand(args: readonly string[]): Promise<number> {
  const { values: v, positionals, help } = parseFlags(WORKER_FLAGS, args);
  if (help) return usage(WORKER_FLAGS);
  if (positionals.length > 0) throw new ConfigError(`study worker: unexpected argument ${positionals.join(' ')}`);
  if (v['queue'] === undefined) throw new ConfigError('study worker: option --queue URL is required');
  const quiet = v['quiet'] === true;
  const w = await startQueueWorker({
    queue: v['queue'] as string,
    ...(v['concurrency'] !== undefined ? { concurrency: v['concurrency'] as number } : {}),
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
export async function statusCommand(args: readonly string[]): Promise<number> {
  const { values: v, positionals, help } = parseFlags(STATUS_FLAGS, args);
  if (help) return usage(STATUS_FLAGS);
  if (positionals.length > 0) throw new ConfigError(`study status: unexpected argument ${positionals.join(' ')}`);
  if (v['queue'] === undefined) throw new ConfigError('study status: option --queue URL is required');
  const s = await queueStatus(v['queue'] as string);
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

function usage(c: CommandFlags): number {
  process.stdout.write(helpText(c));
  return 0;
}

/** Seconds as `1m05s` or `42s`. */
export function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  const m = Math.floor(t / 60);
  return m > 0 ? `${m}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}
