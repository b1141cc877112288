import { parseArgs } from 'node:util';
import { ConfigError } from '../core/errors.js';
import { exportCsv } from '../study/export.js';
import { writeReport } from '../study/report.js';
import { defaultDbPath, runStudy, type StudyProgress } from '../study/runner.js';
import { parse } from './args.js';
import { duration, QUEUE_HELP, QUEUE_RUN_FLAGS, queueRun, statusCommand, workerCommand } from './study-queue.js';

export const STUDY_HELP = `gpmate study: run a grid of configurations over many seeds, store, report; one machine or many

Usage:
  gpmate study run FILE.json [--db PATH] [--extend] [--threads N] [--quiet]
      run every (cell, seed) not yet finished in the database (default FILE.db);
      kill it at any time and run the same command again to continue.
      --extend    accept a study file changed since runs were stored (adds its new cells and seeds)
      --threads   runs executed at once, one worker thread each (default: the idle cores, at least 1)
${QUEUE_HELP}  gpmate study report DB --out DIR
      self-contained report.html plus the SVG figures
  gpmate study export DB --csv DIR
      cells.csv, runs.csv, generations.csv
`;

/** A progress bar on stderr: redrawn in place on a terminal, one line per finished run otherwise. */
function progressPrinter(quiet: boolean): (p: StudyProgress) => void {
  const tty = process.stderr.isTTY === true;
  return (p) => {
    if (quiet) return;
    const width = 30;
    const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    const eta = p.etaS === undefined ? '' : `  ETA ${duration(p.etaS)}`;
    const failed = p.failed > 0 ? `  ${p.failed} failed` : '';
    const queue =
      p.running !== undefined
        ? `  ${p.running} running  ${p.waiting ?? 0} waiting${p.workers !== undefined ? `  ${p.workers} workers` : ''}`
        : '';
    const line = `${bar} ${p.done}/${p.total} runs${failed}${queue}  ${duration(p.elapsedS)} elapsed${eta}`;
    if (p.notice !== undefined) process.stderr.write(`${tty ? '\r\x1b[K' : ''}${p.notice}\n`);
    if (tty) process.stderr.write(`\r${line}\x1b[K${p.done + p.failed >= p.total ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  };
}

/** `gpmate study run|report|export`. */
export async function studyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'run': {
      const { values: v, positionals } = parseArgs({
        args: rest,
        options: {
          db: { type: 'string' },
          extend: { type: 'boolean' },
          threads: { type: 'string' },
          quiet: { type: 'boolean' },
          queue: { type: 'string' },
          attempts: { type: 'string' },
          'job-timeout': { type: 'string' },
          'queue-wait': { type: 'string' },
        },
        strict: true,
        allowPositionals: true,
      });
      const file = onePositional(positionals, 'study run', 'FILE.json');
      if (v.queue !== undefined) {
        if (v.threads !== undefined) throw new ConfigError('option --threads: not with --queue (each worker sets its --concurrency)');
        return queueRun(file, { ...v, queue: v.queue }, progressPrinter(v.quiet ?? false));
      }
      const onlyQueue = QUEUE_RUN_FLAGS.find((f) => v[f] !== undefined);
      if (onlyQueue !== undefined) throw new ConfigError(`option --${onlyQueue}: only with --queue`);
      const threads = parse.int('threads', v.threads);
      if (threads !== undefined && threads < 1) throw new ConfigError(`option --threads: expected an integer >= 1, got ${threads}`);
      const maxPages = process.env['GPMATE_STUDY_MAX_PAGES'];
      if (maxPages !== undefined && !/^[1-9]\d*$/.test(maxPages)) {
        throw new ConfigError(`environment GPMATE_STUDY_MAX_PAGES: expected a positive integer (SQLite pages), got "${maxPages}"`);
      }
      const s = await runStudy(file, {
        db: v.db ?? defaultDbPath(file),
        extend: v.extend ?? false,
        ...(threads !== undefined ? { threads } : {}),
        ...(maxPages !== undefined ? { maxPages: Number(maxPages) } : {}),
        onProgress: progressPrinter(v.quiet ?? false),
      });
      process.stdout.write(
        `study: ${s.total} runs, ${s.skipped} already stored, ${s.done} run now${s.failed > 0 ? `, ${s.failed} failed` : ''} in ${duration(s.wallS)} (${s.threads} at a time); results in ${s.db}\n`,
      );
      if (s.failed > 0) {
        process.stderr.write(`gpmate: ${s.failed} runs failed (see the error column of the runs table); run again to retry them\n`);
        return 1;
      }
      return 0;
    }
    case 'report': {
      const { values: v, positionals } = parseArgs({
        args: rest,
        options: { out: { type: 'string' } },
        strict: true,
        allowPositionals: true,
      });
      const db = onePositional(positionals, 'study report', 'DB');
      if (v.out === undefined) throw new ConfigError('study report: option --out DIR is required');
      const r = await writeReport(db, v.out);
      process.stdout.write(`wrote ${r.html} and ${r.figures.length} SVG figures\n`);
      return 0;
    }
    case 'worker':
      return workerCommand(rest);
    case 'status':
      return statusCommand(rest);
    case 'export': {
      const { values: v, positionals } = parseArgs({
        args: rest,
        options: { csv: { type: 'string' } },
        strict: true,
        allowPositionals: true,
      });
      const db = onePositional(positionals, 'study export', 'DB');
      if (v.csv === undefined) throw new ConfigError('study export: option --csv DIR is required');
      const files = exportCsv(db, v.csv);
      process.stdout.write(`wrote ${files.join(', ')}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(STUDY_HELP);
      return 0;
    default:
      throw new ConfigError(`unknown study command "${sub}" (run, worker, status, report, export)`);
  }
}

function onePositional(p: string[], cmd: string, what: string): string {
  if (p.length !== 1) throw new ConfigError(`${cmd}: expected one ${what}, got ${p.length === 0 ? 'none' : p.join(' ')}`);
  return p[0] as string;
}
