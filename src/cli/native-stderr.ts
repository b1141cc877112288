/**
 * Dawn, the native WebGPU library under `--backend gpu`, writes its warnings (a Vulkan loader that is
 * missing, limits it lowered) straight to file descriptor 2, where JavaScript cannot intercept them:
 * five lines of them preceded every GPU error. Unless --verbose is given, a GPU run therefore runs in a
 * child process whose standard error passes through {@link DawnWarningFilter} on its way to the terminal.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';

/** Set in the child so that it does not start another one. */
const CHILD = 'GPMATE_STDERR_FILTERED';

/** True when this `gpmate` command line opens the GPU and its Dawn warnings are to be filtered. */
export function filtersNativeStderr(argv: readonly string[]): boolean {
  if (process.env[CHILD] === '1' || argv[0] !== 'run' || argv.includes('--verbose')) return false;
  return argv.some((a, i) => a === '--backend=gpu' || (a === '--backend' && argv[i + 1] === 'gpu'));
}

/**
 * Drops Dawn's warning blocks from a stream of lines: a line `Warning: ...`, the indented `at ...`
 * lines under it, and one blank line after them. Everything else passes unchanged.
 */
export class DawnWarningFilter {
  private inBlock = false;
  private rest = '';

  /** The text to pass on from the next chunk (whole lines only; a partial line waits for its end). */
  push(chunk: string): string {
    const lines = (this.rest + chunk).split('\n');
    this.rest = lines.pop() as string;
    return lines
      .filter((l) => this.keep(l))
      .map((l) => `${l}\n`)
      .join('');
  }

  /** What is left at the end of the stream. */
  end(): string {
    const last = this.rest;
    this.rest = '';
    return last !== '' && this.keep(last) ? last : '';
  }

  private keep(line: string): boolean {
    if (line.startsWith('Warning: ')) {
      this.inBlock = true;
      return false;
    }
    const blank = line.trim() === '';
    if (this.inBlock && (blank || /^\s+at /.test(line))) {
      this.inBlock = !blank; // a blank line ends the block
      return false;
    }
    this.inBlock = false;
    return true;
  }
}

/**
 * In the child of {@link runWithFilteredStderr}: ends this process when the parent goes (a SIGKILL, which
 * it cannot pass on), as a crash would end an unfiltered run; an orphan would go on writing checkpoints
 * and results beside a --resume of the same folder. The channel does not keep the child alive.
 */
export function exitWithParent(): void {
  if (process.env[CHILD] !== '1' || !process.channel) return;
  process.channel.unref();
  process.once('disconnect', () => process.exit(1));
}

/** Runs this command line again in a child whose stderr is filtered; resolves to the child's exit code. */
export function runWithFilteredStderr(argv: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] as string, ...argv], {
    // the IPC channel closes when this process dies, however: the child then exits (exitWithParent)
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, [CHILD]: '1' },
  });
  const filter = new DawnWarningFilter();
  const stderr = child.stderr as Readable; // piped above
  stderr.setEncoding('utf8');
  stderr.on('data', (chunk: string) => process.stderr.write(filter.push(chunk)));
  // Ctrl-C reaches the child from the terminal; a signal sent to this process alone is passed on.
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      process.stderr.write(filter.end());
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 1));
    });
  });
}
