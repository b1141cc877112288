import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { optionError } from './errors.js';

/**
 * Writes a file atomically: the content goes to a temporary file in the same folder, is flushed,
 * and is renamed over the target, so readers see the old file or the new one, never a torn one.
 * Content given in pieces is written piece by piece (a text longer than a string may be).
 */
export function writeFileAtomic(path: string, content: string | Uint8Array | Iterable<string>): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      if (typeof content === 'string' || content instanceof Uint8Array) writeFileSync(fd, content);
      else for (const piece of content) writeFileSync(fd, piece);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The nearest existing path at or above `path` (resolved). */
function nearestExisting(path: string): string {
  let p = resolve(path);
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

/** Creates and removes a file in `dir`; the error code when that fails. */
function probe(dir: string): string | undefined {
  const file = join(dir, `.gpmate-probe.${process.pid}.tmp`);
  try {
    closeSync(openSync(file, 'wx'));
    rmSync(file, { force: true });
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}

/**
 * Checks, before any work, that results can be written into the folder `dir` (created later if
 * missing): it is not empty, not an existing file, its nearest existing ancestor is a folder, and a
 * file can be created there (tried with a probe file, removed at once). Throws an
 * {@link optionError} naming `option` otherwise; nothing is left behind.
 */
export function checkOutputDir(dir: string, option: string): void {
  if (dir.trim() === '') throw optionError(option, 'an empty path; name a folder');
  const at = nearestExisting(dir);
  if (!statSync(at).isDirectory())
    throw optionError(option, at === resolve(dir) ? `${dir} exists and is not a folder` : `${at} is a file, not a folder`);
  const code = probe(at);
  if (code) throw optionError(option, `cannot create files in ${at} (${code})`);
  // The missing folders are created and removed again: a name too long or otherwise refused by the file system fails now.
  const created: string[] = [];
  try {
    for (let p = resolve(dir); p !== at; p = dirname(p)) created.unshift(p);
    for (const [i, p] of created.entries()) {
      try {
        mkdirSync(p);
      } catch (e) {
        created.length = i;
        throw optionError(option, `cannot create folder ${p} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
  } finally {
    for (const p of created.reverse()) rmdirSync(p);
  }
}

/** Checks, before any work, that the file `path` can be written: not a folder, in an existing folder where files can be created. */
export function checkOutputFile(path: string, option: string): void {
  if (path.trim() === '') throw optionError(option, 'an empty path; name a file');
  if (existsSync(path) && statSync(path).isDirectory()) throw optionError(option, `${path} is a folder; name a file`);
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw optionError(option, `folder ${dirname(path)} does not exist`);
  const code = probe(dir);
  if (code) throw optionError(option, `cannot create files in ${dirname(path)} (${code})`);
}

/**
 * Creates a folder and its missing parents, one level at a time. Node's recursive mkdir retries
 * forever on some paths (under /proc it keeps getting ENOENT); this fails once, naming the folder.
 */
export function makeDir(dir: string): void {
  const missing: string[] = [];
  for (let p = resolve(dir); !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(p).isDirectory()) continue;
      throw new Error(`cannot create folder ${p} (${code ?? (e as Error).message})`);
    }
  }
  if (!statSync(dir).isDirectory()) throw new Error(`cannot create folder ${dir}: a file of that name exists`);
}

/**
 * Removes the temporary files {@link writeFileAtomic} left in `dir` when its process was killed mid-write
 * (`.NAME.PID.tmp` whose process no longer runs); returns their names.
 */
export function removeStaleTemporaries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = /^\..+\.(\d+)\.tmp$/.exec(name);
    const pid = m ? Number(m[1]) : undefined;
    if (pid === undefined || pid === process.pid || isRunning(pid)) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
