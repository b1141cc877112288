import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deterministicContent, KILL_STUDY, KILL_STUDY_RUNS, storeState, tempDir, writeStudy } from './study-helpers.js';

const CLI = 'dist/src/cli/main.js';

const STUDY = KILL_STUDY;
const TOTAL = KILL_STUDY_RUNS;

function start(file: string, db: string, threads: number): ChildProcess {
  return spawn(process.execPath, [CLI, 'study', 'run', file, '--db', db, '--threads', String(threads), '--quiet'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `done` finished runs are visible in the database (or the child exits), then SIGKILLs the child. */
async function killAfter(child: ChildProcess, db: string, done: number): Promise<{ killedAt: number; exited: boolean }> {
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  for (;;) {
    if (exited) break;
    let n = 0;
    try {
      n = storeState(db).done;
    } catch {
      // The database may not exist yet, or be mid-creation.
    }
    if (n >= done) break;
    await sleep(15);
  }
  const wasRunning = !exited;
  if (wasRunning) child.kill('SIGKILL');
  await exit;
  return { killedAt: storeState(db).done, exited: !wasRunning };
}

describe('kill and resume (child process, SIGKILL)', () => {
  it('after SIGKILL at several points, restarts finish the study with the same table as an uninterrupted run', async () => {
    const dir = tempDir();
    const file = writeStudy(dir, STUDY);
    const ref = join(dir, 'ref.db');
    const r = spawnSync(process.execPath, [CLI, 'study', 'run', file, '--db', ref, '--threads', '1', '--quiet'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const reference = deterministicContent(ref);
    expect(reference.runs).toHaveLength(TOTAL);

    const db = join(dir, 'killed.db');
    const seen: number[] = [];
    // Kill points: while starting up (no run finished), then after 3, 8 and 13 finished runs; two worker threads.
    const first = start(file, db, 2);
    await sleep(150);
    first.kill('SIGKILL');
    await new Promise((res) => first.once('exit', res));
    seen.push(storeState(db).done);
    for (const target of [3, 8, 13]) {
      const child = start(file, db, 2);
      const k = await killAfter(child, db, target);
      seen.push(k.killedAt);
      // Whatever the moment of the kill, only whole runs are stored.
      const s = storeState(db);
      expect(s.orphanGenerations).toBe(0);
      expect(s.generationsPerDone.every((d) => d === 0)).toBe(true);
    }
    console.log(`finished runs at the kills: ${seen.join(', ')} of ${TOTAL}`);
    expect(seen[seen.length - 1]).toBeLessThan(TOTAL); // the last kill landed mid-study
    const last = spawnSync(process.execPath, [CLI, 'study', 'run', file, '--db', db, '--threads', '2'], { encoding: 'utf8' });
    expect(last.status).toBe(0);
    expect(last.stdout).toMatch(new RegExp(`^study: ${TOTAL} runs, \\d+ already stored, \\d+ run now`));
    const final = deterministicContent(db);
    expect(final.runs).toHaveLength(TOTAL);
    expect(final).toEqual(reference);
    // Counts seen at the kills never go down: no finished run was lost.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);
  }, 120_000);
});
