import { readFileSync } from 'node:fs';

/**
 * Named error classes. Evaluation failures are values (non-finite fitness), not exceptions;
 * these are for configuration, input and infrastructure faults.
 */

/** A user-supplied option or input is invalid. The message names the option or input. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A data file could not be read or parsed. The message names the file. */
export class DataError extends Error {
  override readonly name = 'DataError';
}

/** A text file's content; a DataError `<what>: cannot read (<code>)` when it cannot be read. */
export function readTextFile(path: string, what: string = path): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`${what}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** An evaluation worker failed (threw, died, or timed out). */
export class WorkerError extends Error {
  override readonly name = 'WorkerError';
}
