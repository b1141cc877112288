import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.js';
import { WorkerError } from '../src/core/errors.js';
import { WasmEvaluator, createEvaluator } from '../src/eval/wasm-evaluator.js';
import { PoolEvaluator } from '../src/eval/pool.js';
import { BUILTIN_HANDLERS } from '../src/eval/pool-tasks.js';
import type { FitnessTask, TaskHandler } from '../src/eval/protocol.js';
import type { TreeEvaluator } from '../src/eval/types.js';
import { edgeDataset, randomTrees } from './eval-helpers.js';

const FAULTY = new URL('./fixtures/faulty-eval-worker.mjs', import.meta.url);
const open: TreeEvaluator[] = [];
const track = <T extends TreeEvaluator>(e: T): T => {
  open.push(e);
  return e;
};
afterAll(async () => {
  for (const e of open) await e.close();
});

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

describe('worker pool', () => {
  const rng = new Rng(11);
  const ds = edgeDataset(rng, 301);
  const trees = randomTrees(rng, 400, 3);
  trees.push(trees[3]!, trees[7]!); // copies

  it('gives bit-identical fitness and outputs for 1, 2, 3 threads and odd chunkings', async () => {
    for (const fitness of ['rmse', 'scaled-rmse'] as const) {
      const local = new WasmEvaluator(ds, { fitness });
      const want = local.evaluateSync(trees);
      expect(want.some((v) => !Number.isFinite(v))).toBe(true);
      for (const [threads, chunks, caller] of [
        [1, 1, false],
        [2, undefined, false],
        [2, 7, false],
        [3, 5, false],
        [3, 402, false],
        [2, 1, false],
        [1, undefined, true],
        [1, 402, true],
        [2, 5, true],
      ] as const) {
        const pool = track(
          new PoolEvaluator(ds, {
            threads,
            fitness,
            ...(chunks ? { chunks } : {}),
            ...(caller ? { caller: BUILTIN_HANDLERS } : {}),
            minTaskWork: 1,
          }),
        );
        const got = await pool.evaluate(trees);
        expect(sameBits(got, want), `${fitness}, ${threads} threads, ${chunks ?? 'auto'} chunks${caller ? ', caller' : ''}`).toBe(true);
        await pool.close();
      }
    }
    const pool = track(new PoolEvaluator(ds, { threads: 3, chunks: 4 }));
    const outs = await pool.outputs(trees.slice(0, 50), { start: 17, end: 250 });
    const local = new WasmEvaluator(ds).outputsSync(trees.slice(0, 50), { start: 17, end: 250 });
    outs.forEach((o, i) => expect(sameBits(o, local[i]!), `outputs of tree ${i}`).toBe(true));
    await pool.close();
  });

  it('lets the calling thread claim ranges beside the workers; an error in its own ranges is thrown as it is', async () => {
    let callerTrees = 0;
    const counting: TaskHandler<FitnessTask> = (ctx, t) => {
      callerTrees += t.to - t.from;
      BUILTIN_HANDLERS.fitness(ctx, t);
    };
    const pool = track(new PoolEvaluator(ds, { threads: 1, chunks: 100, caller: { ...BUILTIN_HANDLERS, fitness: counting } }));
    expect(pool.threads).toBe(2);
    expect(sameBits(await pool.evaluate(trees), new WasmEvaluator(ds).evaluateSync(trees))).toBe(true);
    // the worker is still starting when the first batch comes: the caller takes ranges at once
    expect(callerTrees).toBeGreaterThan(0);
    await pool.close();
    const failing: TaskHandler<FitnessTask> = () => {
      throw new RangeError('caller fault');
    };
    const bad = track(new PoolEvaluator(ds, { threads: 1, chunks: 100, caller: { ...BUILTIN_HANDLERS, fitness: failing } }));
    await expect(bad.evaluate(trees)).rejects.toThrow(RangeError);
    await bad.close();
  });

  it('runs batches below one task of work in the calling thread, with the same results', async () => {
    const pool = track(new PoolEvaluator(ds, { threads: 2, minTaskWork: 1e12 }));
    expect(sameBits(await pool.evaluate(trees), new WasmEvaluator(ds).evaluateSync(trees))).toBe(true);
    const [o] = await pool.outputs([trees[5]!]);
    expect(sameBits(o!, new WasmEvaluator(ds).outputsSync([trees[5]!])[0]!)).toBe(true);
    await pool.close();
  });

  it('createEvaluator gives a pool for threads > 1 and validates its options', async () => {
    const ev = track(createEvaluator(ds, { threads: 2 }));
    expect(ev).toBeInstanceOf(PoolEvaluator);
    // one worker and the calling thread
    expect(ev.threads).toBe(2);
    expect(createEvaluator(ds, { threads: 1 })).toBeInstanceOf(WasmEvaluator);
    expect(() => createEvaluator(ds, { threads: 0 })).toThrow(/option threads/);
    expect(() => createEvaluator(ds, { threads: 1, fitness: 'mae' as never })).toThrow(/option fitness/);
    await ev.close();
    await ev.close(); // idempotent
    await expect(ev.evaluate(trees)).rejects.toThrow(WorkerError);
  });

  for (const mode of ['throw', 'exit'] as const) {
    it(`retries a batch once when a worker ${mode === 'throw' ? 'throws' : 'dies'}`, async () => {
      const counter = new SharedArrayBuffer(4);
      const pool = track(new PoolEvaluator(ds, { threads: 2, chunks: 3, workerFile: FAULTY, workerExtra: { mode, failures: 1, counter } }));
      const got = await pool.evaluate(trees);
      expect(sameBits(got, new WasmEvaluator(ds).evaluateSync(trees))).toBe(true);
      // one task per worker and batch: the failed one, then the retry's two
      expect(new Int32Array(counter)[0]).toBeGreaterThanOrEqual(3);
      await pool.close();
    });

    it(`fails with a WorkerError naming the fault when a worker ${mode === 'throw' ? 'throws' : 'dies'} twice`, async () => {
      const counter = new SharedArrayBuffer(4);
      const pool = track(
        new PoolEvaluator(ds, { threads: 2, chunks: 2, workerFile: FAULTY, workerExtra: { mode, failures: 1e9, counter } }),
      );
      const err = await pool.evaluate(trees).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkerError);
      expect((err as Error).message).toMatch(mode === 'throw' ? /injected worker fault/ : /worker exited with code: 3/);
      expect((err as Error).message).toMatch(/evaluation worker failed during fitness evaluation, twice/);
      await pool.close();
    });
  }

  it('fails with a WorkerError, without hanging, when workers fail as they start', async () => {
    const extra = { mode: 'load', failures: 0, counter: new SharedArrayBuffer(4) };
    // Evaluated at once (the fault arrives during the batch) and after the fault (it arrived idle).
    for (const wait of [0, 600]) {
      const pool = track(new PoolEvaluator(ds, { threads: 1, workerFile: FAULTY, workerExtra: extra, minTaskWork: 0 }));
      await new Promise((r) => setTimeout(r, wait));
      const err = await pool.evaluate(trees).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkerError);
      expect((err as Error).message).toMatch(/injected fault at worker start/);
      await pool.close();
    }
  });

  const child = (arg: string, onReady?: (kill: () => void) => void): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [new URL('./fixtures/pool-close.mjs', import.meta.url).pathname, arg], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      const timer = setTimeout(() => {
        p.kill('SIGKILL');
        reject(new Error(`child did not exit; output: ${out}`));
      }, 20_000);
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready\n') && onReady) {
          onReady(() => p.kill('SIGINT'));
          onReady = undefined;
        }
      });
      p.on('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, out: signal ? `${out}[killed by ${signal}]` : out });
      });
    });

  it('close() leaves no worker running: the process exits by itself', async () => {
    const { code, out } = await child('close');
    expect(out).toMatch(/fitness 0 true\nclosed\n/);
    expect(code).toBe(0);
  });

  it('Ctrl-C closes the pool mid-run and the process exits', async () => {
    const { code, out } = await child('sigint', (kill) => setTimeout(kill, 200));
    expect(out).toMatch(/stopped: WorkerError/);
    expect(code).toBe(0);
  });
});
