/**
 * GPU evaluator (gpu.js webgpu mode on Dawn) against the f64 CPU reference. Runs wherever a WebGPU
 * adapter exists: in CI that is Mesa llvmpipe through Dawn's OpenGL ES back end (.ci/run installs
 * the Mesa EGL/GLES packages), on a GPU machine the Vulkan driver.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchmarkTask } from '../problems/benchmarks.js';
import { Rng } from '../src/core/rng.js';
import { evaluateTree, ReferenceEvaluator } from '../src/eval/reference.js';
import { makeDataset } from '../src/eval/dataset.js';
import { agreementReport, checkTree } from '../src/eval/gpu/agreement.js';
import { acquireGpu, GpuEvaluator, GpuUnavailableError } from '../src/eval/gpu/index.js';
import { randomTree } from '../src/tree/init.js';
import { parseInfix } from '../src/tree/parse.js';
import { FUNCTION_NAMES, primitiveSet } from '../src/tree/primitives.js';
import { stackDepth, type Tree } from '../src/tree/tree.js';
import { hasSystem } from './system.js';
import { SHARED } from './helpers.js';
import { robustBounds } from '../src/sr/interval.js';
import { scoreCandidate, ScoringEvaluator, type ScoreSettings } from '../src/sr/scoring.js';
import { GpuScoringEvaluator } from '../src/sr/scoring-gpu.js';

const rng = new Rng(4);
const ROWS = 200;
const x0 = Float64Array.from({ length: ROWS }, () => rng.uniform(-5, 5));
const x1 = Float64Array.from({ length: ROWS }, (_, i) => (i % 10 === 0 ? 0 : rng.uniform(0, 10))); // exact zeros: protected ops
const y = x0.map((v, i) => v * v - Math.sin(x1[i] as number));
const ds = makeDataset(['x0', 'x1'], [x0, x1], y);

// First, before any adapter is held in this process.
const gpu = hasSystem('mesa', 'the GPU back-end tests');

describe.skipIf(!gpu)('GPU adapter discovery', () => {
  it('fails with one line naming every back end tried when no adapter matches', async () => {
    const err = await acquireGpu({ adapter: 'no-such-gpu-model' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuUnavailableError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg).toMatch(
      /^gpu back end: no WebGPU adapter found; tried vulkan \(core\): .*; opengles \(compatibility, EGL_PLATFORM=\w+\): /,
    );
    await expect(acquireGpu({ apis: [] })).rejects.toThrow(/option gpu apis: the list of WebGPU back ends is empty/);
  });

  it('refuses software renderers with hardwareOnly, saying so', async () => {
    const got = await acquireGpu({ hardwareOnly: true }).catch((e: unknown) => e);
    if (got instanceof Error) {
      // CI and machines without a GPU: llvmpipe is found and refused, by name.
      expect(got).toBeInstanceOf(GpuUnavailableError);
      expect(got.message).toMatch(
        /^gpu back end: no WebGPU adapter found; tried .*(is a software renderer \(refused: hardware only\)|no adapter)/,
      );
    } else {
      const ctx = got as Awaited<ReturnType<typeof acquireGpu>>;
      expect(ctx.info.software).toBe(false);
      await ctx.release();
    }
  });
});

describe.skipIf(!gpu)('GPU evaluator (gpu.js webgpu mode)', () => {
  let ev: GpuEvaluator;
  beforeAll(async () => {
    ev = await GpuEvaluator.create(ds, { maxSize: 512, maxStackDepth: 12, rescoreTop: 3 });
  });
  afterAll(async () => {
    await ev?.close();
  });

  it('uses gpu.js in webgpu mode on a described adapter', () => {
    expect(ev.adapter.name.length).toBeGreaterThan(0);
    expect(['vulkan', 'opengles']).toContain(ev.adapter.api);
    expect(ev.compileMs).toBeGreaterThan(0);
  });

  it('agrees with the f64 reference within the f32 tolerance on 3000 random trees', async () => {
    const ps = primitiveSet(ds.names, { functions: FUNCTION_NAMES, constantRange: [-5, 5] });
    const trees = Array.from({ length: 3000 }, () => randomTree(rng, ps, rng.int(10), rng.chance(0.3)));
    const got = await ev.evaluateDevice(trees);
    const r = agreementReport(trees, got, ds);
    // Validity agrees on every tree; the f32 tolerance (agreement.ts) holds for all but extremely
    // ill-conditioned ones (with this seed, one in 3000 on llvmpipe: a division by
    // cos(log(x0) - exp(x1)) near a zero of cos, where exp's last-ulp error decides).
    expect(r.validityFailures).toEqual([]);
    expect(r.toleranceFailures.length, r.toleranceFailures.slice(0, 5).join('\n')).toBeLessThanOrEqual(Math.ceil(r.compared * 0.002));
    expect(r.relative.median).toBeLessThan(1e-5);
    expect(r.compared).toBeGreaterThan(2000);
    expect(r.invalid).toBeGreaterThan(50); // overflow and NaN cases were exercised
  });

  it('follows the protected operators and turns overflow and NaN into +Infinity', async () => {
    const cases: [string, 'finite' | 'invalid'][] = [
      ['x0 / (x1 - x1)', 'finite'], // protected division by exact zero -> 1
      ['x0 / x1', 'finite'], // x1 = 0 on every tenth row
      ['x0 / 0.0005', 'finite'], // |b| <= 0.001 -> 1
      ['log(x1 - x1)', 'finite'], // protected log -> 0
      ['log(x0) + sqrt(0 - x1)', 'finite'], // ln|a|, sqrt|a|
      ['exp(exp(x1))', 'invalid'], // exp(e^10) overflows f64 too
      ['exp(exp(x1)) - exp(exp(x1))', 'invalid'], // Inf - Inf = NaN in the reference
      ['exp(x1 * 100) * 0', 'invalid'], // 0 * Inf = NaN in the reference
      ['exp(45)', 'invalid'], // beyond the device bound (3.5e19), finite in f64: documented difference
      ['sin(x0 * 1000) + cos(x1)', 'finite'], // range reduction
      ['square(neg(x0)) - x0 * x0', 'finite'],
    ];
    const trees = cases.map(([s]) => parseInfix(s, ds.names));
    const got = await ev.evaluateDevice(trees);
    cases.forEach(([s, kind], i) => {
      const g = got[i] as number;
      if (kind === 'invalid') expect(g, s).toBe(Infinity);
      else {
        const c = checkTree(trees[i] as Tree, g, ds);
        expect(c.kind, s).toBe('compared');
        expect(c.failure, s).toBeUndefined();
      }
    });
  });

  it('scores with linear scaling: offset, slope and scaled RMSE within f32 tolerance of the CPU scorer', async () => {
    const sev = await GpuEvaluator.create(ds, { maxSize: 512, maxStackDepth: 12, fitness: 'scaled-rmse', rowsPerBlock: 16 });
    try {
      const ps = primitiveSet(ds.names, {
        functions: ['add', 'sub', 'mul', 'div', 'exp', 'log', 'sqrt', 'square'],
        constantRange: [-5, 5],
      });
      const trees = Array.from({ length: 400 }, () => randomTree(rng, ps, rng.int(7), rng.chance(0.3)));
      trees.push(parseInfix('3.5', ds.names), parseInfix('x0 * 0 + 1000', ds.names)); // constant outputs: slope 0
      const sc = await sev.scores(trees);
      let compared = 0;
      trees.forEach((t, i) => {
        const cpu = scoreCandidate(t, ds, { fitness: 'scaled-rmse' });
        const [loss, offset, slope] = [sc[3 * i]!, sc[3 * i + 1]!, sc[3 * i + 2]!];
        if (loss === Infinity || cpu.loss === Infinity) return; // validity: the device bound, as for plain RMSE
        compared++;
        expect(Math.abs(loss - cpu.loss), `tree ${i}`).toBeLessThanOrEqual(1e-3 * cpu.loss + 1e-4);
        // the scaled model's predictions (a constant output's slope is arbitrary on the CPU: its variance is rounding)
        const p = evaluateTree(t, ds.columns, ds.rows);
        for (const r of [0, 7, 101]) {
          const want = cpu.offset + cpu.slope * p[r]!;
          expect(Math.abs(offset + slope * p[r]! - want), `tree ${i} row ${r}`).toBeLessThanOrEqual(1e-3 * Math.abs(want) + 1e-3);
        }
      });
      expect(compared).toBeGreaterThan(300);
      expect(sc[3 * 400 + 2]).toBe(0);
      expect(sc[3 * 401 + 2]).toBe(0);
      // with constant optimisation and the interval check on the CPU: the best trees in f64, exactly the CPU scorer's
      const settings: ScoreSettings = {
        fitness: 'scaled-rmse',
        optimiser: { iterations: 5 },
        lamarckian: true,
        robust: robustBounds(ds.columns, ds.y),
      };
      const both = new GpuScoringEvaluator(sev, ds, settings, 3);
      const got = await both.evaluateDetailed(trees.slice(0, 200));
      const cpu = await new ScoringEvaluator(ds, settings).evaluateDetailed(trees.slice(0, 200));
      const best = Array.from(got.losses.keys()).sort((i, j) => got.losses[i]! - got.losses[j]!)[0]!;
      const tuned = got.genomes?.[best] ?? trees[best]!;
      expect(got.losses[best]).toBe(scoreCandidate(tuned, ds, { fitness: 'scaled-rmse', robust: settings.robust! }).loss);
      // the CPU scorer tunes from f64 scaling, the GPU scorer from the device's: close, not equal
      const finite = Array.from(got.losses.keys()).filter((i) => Number.isFinite(got.losses[i]!) && Number.isFinite(cpu.losses[i]!));
      const rel = finite.map((i) => Math.abs(got.losses[i]! - cpu.losses[i]!) / Math.max(cpu.losses[i]!, 1e-9)).sort((a, b) => a - b);
      expect(rel[rel.length >> 1]!).toBeLessThan(1e-3);
    } finally {
      await sev.close();
    }
  });

  it('re-scores the best trees of a batch in f64 (bit-identical to the reference)', async () => {
    const ps = primitiveSet(ds.names, { functions: FUNCTION_NAMES });
    const trees = Array.from({ length: 200 }, () => randomTree(rng, ps, rng.int(6), false));
    const f32 = await ev.evaluateDevice(trees);
    const out = await ev.evaluate(trees);
    const cpu = await new ReferenceEvaluator(ds).evaluate(trees);
    const order = Array.from(out.keys()).sort((i, j) => (out[i] as number) - (out[j] as number));
    for (const i of order.slice(0, 3)) expect(out[i]).toBe(cpu[i]);
    // Only a handful were re-scored; the rest are the device's f32 values.
    const changed = Array.from(out).filter((v, i) => v !== f32[i]).length;
    expect(changed).toBeLessThanOrEqual(10);
    expect(ev.stats.rescored).toBeGreaterThanOrEqual(3);
  });

  it('rejects trees deeper or larger than the kernel was built for, naming the option', async () => {
    const deep = parseInfix('x0 + (x0 + (x0 + (x0 + (x0 + (x0 + (x0 + (x0 + (x0 + (x0 + (x0 + (x0 + x0)))))))))))', ds.names);
    await expect(ev.evaluate([deep])).rejects.toThrow(/stack of depth 13.*built for 12 \(option maxStackDepth/);
    // Exactly the supported depth: every register in use, still exact.
    const fits = parseInfix('x0 * (x1 - (x0 / (x1 + (x0 - (x1 * (x0 + (x1 - (x0 * (x1 + (x0 - x1))))))))))', ds.names);
    expect(stackDepth(fits)).toBe(12);
    const [g] = await ev.evaluateDevice([fits]);
    expect(checkTree(fits, g as number, ds).failure).toBeUndefined();
    const big = parseInfix(Array.from({ length: 300 }, () => 'x0').join(' + '), ds.names);
    await expect(ev.evaluate([big])).rejects.toThrow(/599 nodes.*at most 512 \(option maxSize\)/);
  });

  it('splits batches larger than one launch', async () => {
    const small = await GpuEvaluator.create(ds, { maxSize: 256, maxStackDepth: 18, batchCapacity: 7, rescoreTop: 0 });
    try {
      const ps = primitiveSet(ds.names);
      const trees = Array.from({ length: 30 }, () => randomTree(rng, ps, 3, true));
      const got = await small.evaluate(trees);
      expect(small.stats.launches).toBe(5);
      const r = agreementReport(trees, got, ds);
      expect([...r.validityFailures, ...r.toleranceFailures]).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe.skipIf(!gpu)('gpmate run --backend gpu', () => {
  const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
  const dir = mkdtempSync(join(tmpdir(), 'gpmate-gpu-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports for its best tree exactly the f64 error the reference evaluator gives', async () => {
    const out = join(dir, 'run');
    const r = spawnSync(
      process.execPath,
      [
        cli,
        'run',
        '--problem',
        'keijzer-6',
        '--backend',
        'gpu',
        '--population',
        '60',
        '--generations',
        '4',
        '--seed',
        '3',
        '--quiet',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr + r.stdout).toMatch(/gpu: adapter /);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      best: { expression: string; trainRmse: number; testRmse: number };
      options: { backend: string };
    };
    expect(summary.options.backend).toBe('gpu');
    const task = benchmarkTask('keijzer-6', 3);
    const tree = parseInfix(summary.best.expression, task.train.names);
    expect(summary.best.trainRmse).toBe((await new ReferenceEvaluator(task.train).evaluate([tree]))[0]);
    const gens = readFileSync(join(out, 'generations.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { bestFitness: number });
    // The population's best carries an f64 fitness (elites are re-scored): it equals the reported train RMSE at the end.
    expect((gens[gens.length - 1] as { bestFitness: number }).bestFitness).toBe(summary.best.trainRmse);
    // Same seed, same device: byte-identical output.
    const again = join(dir, 'again');
    const r2 = spawnSync(
      process.execPath,
      [
        cli,
        'run',
        '--problem',
        'keijzer-6',
        '--backend',
        'gpu',
        '--population',
        '60',
        '--generations',
        '4',
        '--seed',
        '3',
        '--quiet',
        '--out',
        again,
      ],
      { encoding: 'utf8' },
    );
    expect(r2.status, r2.stderr).toBe(0);
    expect(readFileSync(join(again, 'summary.json'), 'utf8')).toBe(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(readFileSync(join(again, 'generations.jsonl'), 'utf8')).toBe(readFileSync(join(out, 'generations.jsonl'), 'utf8'));
  });

  it('runs with the --data defaults (scaling on the device; LM and the interval check on the CPU), reporting f64', () => {
    const out = join(dir, 'data');
    const r = spawnSync(
      process.execPath,
      [
        cli,
        'run',
        '--data',
        join(SHARED, 'data', 'sr', 'Concrete.csv'),
        '--backend',
        'gpu',
        '--population',
        '60',
        '--generations',
        '3',
        '--seed',
        '2',
        '--quiet',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/re-scored in f64/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      best: { trainRmse: number; testR2: number };
      options: { backend: string; linearScaling: boolean; robust: boolean; optimiseIterations: number };
    };
    expect(summary.options).toMatchObject({ backend: 'gpu', linearScaling: true, robust: true, optimiseIterations: 5 });
    expect(Number.isFinite(summary.best.trainRmse)).toBe(true);
    const gens = readFileSync(join(out, 'generations.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { bestFitness: number });
    // the population's best carries an f64 fitness: the CPU scorer's exactly (LM-tuned constants written back)
    expect(gens.every((g) => Number.isFinite(g.bestFitness))).toBe(true);
  });

  it('exits 2 with a one-line error when no adapter is available, writing nothing', () => {
    const out = join(dir, 'none');
    const r = spawnSync(
      process.execPath,
      [cli, 'run', '--problem', 'koza-1', '--backend', 'gpu', '--gpu-adapter', 'no-such-gpu-model', '--out', out],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(2);
    const ours = r.stderr.split('\n').filter((l) => l.startsWith('gpmate:'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(/^gpmate: gpu back end: no WebGPU adapter found; tried vulkan/);
    expect(() => readFileSync(join(out, 'summary.json'))).toThrow();
  });

  it('rejects an unknown back end, and GPU or thread options meant for the other back end', () => {
    const cases: [string[], RegExp][] = [
      [['--backend', 'tpu'], /^gpmate: option --backend: expected one of cpu, gpu, got "tpu"/],
      [['--gpu-adapter', 'H100'], /^gpmate: option --gpu-api\/--gpu-adapter\/--gpu-hardware-only: only with --backend gpu/],
      [['--backend', 'gpu', '--gpu-api', 'metal'], /^gpmate: option --gpu-api: unknown WebGPU back end "metal"/],
      [['--backend', 'gpu', '--threads', '4'], /^gpmate: option --threads: only with --backend cpu/],
    ];
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [cli, 'run', ...args], { encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('a GPU run resumed by --resume alone filters Dawn warnings too, and refuses --threads', () => {
    const out = join(dir, 'resumed');
    const args = ['run', '--problem', 'koza-1', '--backend', 'gpu', '--population', '30', '--generations', '2'];
    const first = spawnSync(process.execPath, [cli, ...args, '--checkpoint-every', '1', '--quiet', '--out', out], { encoding: 'utf8' });
    expect(first.status, first.stderr).toBe(0);
    const again = spawnSync(process.execPath, [cli, 'run', '--resume', out, '--quiet'], { encoding: 'utf8' });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/^Warning: /m);
    const verbose = spawnSync(process.execPath, [cli, 'run', '--resume', out, '--quiet', '--verbose'], { encoding: 'utf8' });
    expect(verbose.status, verbose.stderr).toBe(0);
    const threads = spawnSync(process.execPath, [cli, 'run', '--resume', out, '--threads', '2'], { encoding: 'utf8' });
    expect(threads.status).toBe(2);
    expect(threads.stderr).toMatch(/^gpmate: option --threads: only with --backend cpu/);
  });

  it('a run killed with SIGKILL stops: its stderr-filtering child does not go on as an orphan', async () => {
    const out = join(dir, 'killed');
    const args = ['run', '--problem', 'keijzer-6', '--backend', 'gpu', '--population', '100', '--generations', '100000'];
    const parent = spawn(process.execPath, [cli, ...args, '--checkpoint-every', '1', '--quiet', '--out', out], { stdio: 'ignore' });
    const exited = new Promise<void>((res) => parent.on('exit', () => res()));
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(out, 'checkpoint.json')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const child = Number(spawnSync('ps', ['-o', 'pid=', '--ppid', String(parent.pid)], { encoding: 'utf8' }).stdout.trim());
    expect(child).toBeGreaterThan(0);
    parent.kill('SIGKILL');
    await exited;
    // gone, or a zombie that nobody reaps here
    const alive = (): boolean => {
      try {
        return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${child}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    const until = Date.now() + 10_000;
    while (alive() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (alive()) process.kill(child, 'SIGKILL');
    expect(alive()).toBe(false);
  }, 90_000);
});
