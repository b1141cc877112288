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

/** An evaluation worker failed (threw, died, or timed out). */
export class WorkerError extends Error {
  override readonly name = 'WorkerError';
}
