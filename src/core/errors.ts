import { readFileSync } from 'node:fs';

/**
 * Named error classes. Evaluation failures are values (non-finite fitness), not exceptions;
 * these are for configuration, input and infrastructure faults.
 */

/**
 * A user-supplied option or input is invalid. The message names the option or input. An error about one
 * option (made by {@link optionError}) also carries the option's name and the bare complaint, so that a
 * command line can name its flag instead (src/cli/flags.ts) without parsing the message.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    /** The option's name in the options model (e.g. `populationSize`), when the error is about one option. */
    readonly option?: string,
    /** The complaint without the option's name (e.g. `expected an integer >= 2, got 1`). */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** `option <name>: <detail>`, naming the option for every caller (library, study file, command line). */
export function optionError(option: string, detail: string): ConfigError {
  return new ConfigError(`option ${option}: ${detail}`, option, detail);
}

/** A data file could not be read or parsed. The message names the file. */
export class DataError extends Error {
  override readonly name = 'DataError';
}

/** A text file's content; a DataError `<what>: not found` or `<what>: cannot read (<code>)` when it cannot be read. */
export function readTextFile(path: string, what: string = path): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(`${what}: ${code === 'ENOENT' ? 'not found' : `cannot read (${code ?? (e as Error).message})`}`);
  }
}

/** A JSON file's parsed content; a DataError `<what>: not valid JSON (...)` or `cannot read` otherwise. */
export function readJsonFile(path: string, what: string = path): unknown {
  return parseJson(readTextFile(path, what), what);
}

/** Parsed JSON text; a DataError `<what>: not valid JSON (<first line of the parser's message>)` otherwise. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(`${what}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

/** An evaluation worker failed (threw, died, or timed out). */
export class WorkerError extends Error {
  override readonly name = 'WorkerError';
}
