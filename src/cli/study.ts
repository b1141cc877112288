import { checkOutputDir } from '../core/atomic.js';
import { ConfigError } from '../core/errors.js';
import { exportCsv } from '../study/export.js';
import { writeReport } from '../study/report.js';
import { defaultDbPath, runStudy, type StudyProgress } from '../study/runner.js';
import { capThreads, flag, helpText, namingFlags, parseFlags, toggle, type CommandFlags } from './flags.js';
import {
  duration,
  queueOnlyFlag,
  queueRun,
  QUEUE_RUN_SECTION,
  STATUS_FLAGS,
  statusCommand,
  WORKER_FLAGS,
  workerCommand,
} from './study-queue.js';

/** The flags of each study subcommand: parsing, --help and error messages come from these tables. */
export const STUDY_FLAGS = {
  run: {
    head: `gpmate study run FILE.json [options]
  run every (cell, seed) not yet finished in the database; kill it at any time and run the same
  command again to continue.`,
    sections: [
      {
        title: 'Options',
        flags: [
          flag('db PATH', 'db', 'string', 'the SQLite file of results', 'FILE.db'),
          toggle('extend', 'extend', 'accept a study file changed since runs were stored (adds its new cells and seeds)'),
          flag('threads N', 'threads', 'int', 'runs executed at once, one worker thread each', 'the idle cores, at least 1'),
          toggle('quiet', 'quiet', 'no progress bar'),
        ],
      },
      QUEUE_RUN_SECTION,
    ],
  },
  worker: WORKER_FLAGS,
  status: STATUS_FLAGS,
  report: {
    head: 'gpmate study report DB --out DIR\n  self-contained report.html plus the SVG figures',
    sections: [{ title: 'Options', flags: [flag('out DIR', 'out', 'string', 'folder of the report (required)')] }],
  },
  export: {
    head: 'gpmate study export DB --csv DIR\n  cells.csv, runs.csv, generations.csv, across.csv',
    sections: [{ title: 'Options', flags: [flag('csv DIR', 'csv', 'string', 'folder of the CSV files (required)')] }],
  },
} as const satisfies Record<string, CommandFlags>;

export const STUDY_HELP = `gpmate study: run a grid of configurations over many seeds, store, report; on one machine or many

Usage:
${Object.values(STUDY_FLAGS)
  .map((c) =>
    helpText(c)
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  )
  .join('\n\n')}
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
  const table = sub !== undefined && Object.hasOwn(STUDY_FLAGS, sub) ? STUDY_FLAGS[sub as keyof typeof STUDY_FLAGS] : undefined;
  return table ? namingFlags(table, () => studySubcommand(sub as string, rest)) : studySubcommand(sub, rest);
}

async function studySubcommand(sub: string | undefined, rest: readonly string[]): Promise<number> {
  switch (sub) {
    case 'run': {
      const { values: v, positionals, help } = parseFlags(STUDY_FLAGS.run, rest, true);
      if (help) return usage(STUDY_FLAGS.run);
      const file = onePositional(positionals, 'study run', 'FILE.json');
      if (v['queue'] !== undefined) return queueRun(file, v, progressPrinter(v['quiet'] === true));
      const onlyQueue = queueOnlyFlag(v);
      if (onlyQueue !== undefined) throw new ConfigError(`option --${onlyQueue}: only with --queue`);
      const given = v['threads'] as number | undefined;
      if (given !== undefined && given < 1) throw new ConfigError(`option --threads: expected an integer >= 1, got ${given}`);
      const threads = given === undefined ? undefined : capThreads(given);
      const maxPages = process.env['GPMATE_STUDY_MAX_PAGES'];
      if (maxPages !== undefined && !/^[1-9]\d*$/.test(maxPages)) {
        throw new ConfigError(`environment GPMATE_STUDY_MAX_PAGES: expected a positive integer (SQLite pages), got "${maxPages}"`);
      }
      const s = await runStudy(file, {
        db: (v['db'] as string | undefined) ?? defaultDbPath(file),
        extend: v['extend'] === true,
        ...(threads !== undefined ? { threads } : {}),
        ...(maxPages !== undefined ? { maxPages: Number(maxPages) } : {}),
        onProgress: progressPrinter(v['quiet'] === true),
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
      const { values: v, positionals, help } = parseFlags(STUDY_FLAGS.report, rest, true);
      if (help) return usage(STUDY_FLAGS.report);
      const db = onePositional(positionals, 'study report', 'DB');
      if (v['out'] === undefined) throw new ConfigError('study report: option --out DIR is required');
      checkOutputDir(v['out'] as string, 'out');
      const r = await writeReport(db, v['out'] as string);
      process.stdout.write(`wrote ${r.html} and ${r.figures.length} SVG figures\n`);
      return 0;
    }
    case 'worker':
      return workerCommand(rest);
    case 'status':
      return statusCommand(rest);
    case 'export': {
      const { values: v, positionals, help } = parseFlags(STUDY_FLAGS.export, rest, true);
      if (help) return usage(STUDY_FLAGS.export);
      const db = onePositional(positionals, 'study export', 'DB');
      if (v['csv'] === undefined) throw new ConfigError('study export: option --csv DIR is required');
      checkOutputDir(v['csv'] as string, 'csv');
      const files = exportCsv(db, v['csv'] as string);
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

function onePositional(p: readonly string[], cmd: string, what: string): string {
  if (p.length !== 1) throw new ConfigError(`${cmd}: expected one ${what}, got ${p.length === 0 ? 'none' : p.join(' ')}`);
  return p[0] as string;
}

function usage(c: CommandFlags): number {
  process.stdout.write(helpText(c));
  return 0;
}
