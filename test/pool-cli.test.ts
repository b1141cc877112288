import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultThreads, POOL_MIN_CANDIDATES, POOL_MIN_ROWS, POOL_MIN_ROWS_OPTIMISED } from '../src/eval/wasm-evaluator.js';

const MAIN = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'gpmate-pool-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function gpmate(args: string[], interruptAfterFirstGeneration = false): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let sent = false;
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`gpmate did not exit; stdout: ${out}`));
    }, 25_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (interruptAfterFirstGeneration && !sent && out.includes('gen ')) {
        sent = true;
        p.kill('SIGINT');
      }
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe('gpmate run --threads', () => {
  it('defaults to in-process below POOL_MIN_ROWS training rows, and says so', async () => {
    expect(defaultThreads(POOL_MIN_ROWS - 1, 8)).toMatchObject({ threads: 1, why: expect.stringMatching(/in-process/) });
    expect(defaultThreads(POOL_MIN_ROWS, 8).threads).toBe(8);
    expect(defaultThreads(100_000, 1).threads).toBe(1);
    // constant optimisation makes each candidate costly: a pool from far fewer rows, in a run long enough
    const lm = { optimiseIterations: 5, candidates: POOL_MIN_CANDIDATES };
    expect(defaultThreads(POOL_MIN_ROWS_OPTIMISED, 8, lm)).toMatchObject({
      threads: 8,
      why: expect.stringMatching(/constant optimisation/),
    });
    expect(defaultThreads(POOL_MIN_ROWS_OPTIMISED - 1, 8, lm).threads).toBe(1);
    expect(defaultThreads(POOL_MIN_ROWS_OPTIMISED, 8, { ...lm, candidates: POOL_MIN_CANDIDATES - 1 }).threads).toBe(1);
    expect(defaultThreads(POOL_MIN_ROWS - 1, 8, { ...lm, optimiseIterations: 0 }).threads).toBe(1);
    const r = await gpmate(['run', '--problem', 'koza-1', '--population', '20', '--generations', '1', '--out', join(dir, 'default')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^threads: 1 \(in-process: 20 training rows, a worker pool pays off from \d+; --threads N to choose\)$/m);
  });

  it('writes byte-identical results for 1 and 2 threads', async () => {
    const common = ['run', '--problem', 'pagie-1', '--seed', '3', '--population', '60', '--generations', '4', '--quiet'];
    const a = await gpmate([...common, '--threads', '1', '--out', join(dir, 't1')]);
    const b = await gpmate([...common, '--threads', '2', '--out', join(dir, 't2')]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    for (const f of ['summary.json', 'generations.jsonl']) {
      expect(readFileSync(join(dir, 't2', f), 'utf8')).toBe(readFileSync(join(dir, 't1', f), 'utf8'));
    }
  });

  it('rejects a bad thread count with a one-line error and exit code 2', async () => {
    const r = await gpmate(['run', '--threads', '0', '--out', join(dir, 'bad')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^gpmate: option --threads: expected an integer >= 1, got 0\n$/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });

  it('on Ctrl-C closes the pool, exits 130 and writes nothing', async () => {
    const out = join(dir, 'int');
    const r = await gpmate(
      ['run', '--problem', 'pagie-1', '--threads', '2', '--population', '300', '--generations', '10000', '--out', out],
      true,
    );
    // one line: the evaluation cut short by the closing pool adds no error of its own
    expect(r.err.trim().split('\n')).toEqual(['gpmate: interrupted']);
    expect(r.code).toBe(130);
    expect(existsSync(join(out, 'summary.json'))).toBe(false);
  });
});
