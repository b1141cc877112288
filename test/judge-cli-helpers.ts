import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { judgeCommand } from '../src/cli/judge.js';
import { ConfigError, DataError } from '../src/core/errors.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist/src/cli/main.js');

/** `gpmate judge ARGS` as a child process (the built CLI). */
export const gpmate = (args: string[]) => spawnSync(process.execPath, [CLI, 'judge', ...args], { encoding: 'utf8' });

/**
 * The same command in this process (as main.ts runs it: ConfigError/DataError exit 2, one line on
 * stderr), so that the llama.cpp runtime is loaded once for the runs that need no separate process.
 */
export async function inProcess(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    const status = await judgeCommand(args);
    return { status, stdout, stderr: '' };
  } catch (e) {
    const status = e instanceof ConfigError || e instanceof DataError ? 2 : 1;
    return { status, stdout, stderr: `gpmate: ${(e as Error).message.split('\n')[0]}\n` };
  } finally {
    spy.mockRestore();
  }
}

/** Paid requests of a run, from its closing line. */
export const calls = (stdout: string) => Number(/^paid requests (\d+) {2}calls \d+ {2}cache hits/m.exec(stdout)?.[1]);
