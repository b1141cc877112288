#!/usr/bin/env node
import { ConfigError, DataError } from '../core/errors.js';
import { exitWithParent, filtersNativeStderr, runWithFilteredStderr } from './native-stderr.js';

const HELP = `gpmate: genetic programming with mate choice (PIMP)

Usage:
  gpmate run [options]      evolve a formula for a benchmark problem or a CSV file
  gpmate study run|report|export   grids of runs over seeds in SQLite, HTML report, CSV ('gpmate study help')
  gpmate judge evolve|eval  evolve or score LLM-judge prompts ('gpmate judge --help')
  gpmate predict --model FILE --data CSV   apply a saved model.json to new data
  gpmate help               this text; 'gpmate run --help' lists the run options
`;

async function main(argv: string[]): Promise<number> {
  if (filtersNativeStderr(argv)) return runWithFilteredStderr(argv);
  exitWithParent();
  const [cmd, ...rest] = argv;
  switch (cmd) {
    // each command's modules load only when it runs (the study report's charting alone takes longer to load than a short run)
    case 'run':
      return (await import('./run.js')).runCommand(rest);
    case 'study':
      return (await import('./study.js')).studyCommand(rest);
    case 'judge':
      return (await import('./judge.js')).judgeCommand(rest);
    case 'predict':
      return (await import('./predict.js')).predictCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      throw new ConfigError(`unknown command "${cmd}" (try 'gpmate help')`);
  }
}

// A reader that stops early (`gpmate run | head -3`) closes the pipe: the progress lines it no longer
// reads are dropped, and the command carries on and writes its results (no unhandled EPIPE trace).
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e as Error;
    const input = e instanceof ConfigError || e instanceof DataError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`gpmate: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = input ? 2 : 1;
  },
);
